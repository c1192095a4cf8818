package main

import (
	"fmt"
	"strings"
	"time"
)

// The results of one run, as measured. report.go renders them; the JSON
// file next to the profiles keeps them for later comparison.

// machine describes where a run happened.
type machine struct {
	Cores       int       `json:"cores"`
	CPUModel    string    `json:"cpuModel"`
	MemoryBytes int64     `json:"memoryBytes"`
	GoVersion   string    `json:"goVersion"`
	Manager     string    `json:"manager"` // --version output, or the binary's path
	Commit      string    `json:"commit"`  // of the working tree
	Started     time.Time `json:"started"`
	Took        duration  `json:"took"`
	// LoadBefore is the 1-minute load average when the run started.
	LoadBefore float64 `json:"loadBefore"`
}

// settings are the knobs a run used.
type settings struct {
	ManagerArgs       []string `json:"managerArgs"`
	ManagerEnv        []string `json:"managerEnv,omitempty"`
	Concurrency       int      `json:"concurrency"` // the manager's reconciles per kind
	CreateConcurrency int      `json:"createConcurrency"`
	ResyncInterval    duration `json:"resyncInterval"`
	SteadyIntervals   int      `json:"steadyIntervals"`
}

// report is everything a run measured.
type report struct {
	Machine   machine   `json:"machine"`
	Settings  settings  `json:"settings"`
	Scenarios []*result `json:"scenarios"`
	// Sources are the runs, after the first, that rows of a merged report
	// (--from) come from; the page says which rows and which build.
	Sources []source `json:"sources,omitempty"`
}

// source is a run that contributed rows to a merged report.
type source struct {
	Machine machine  `json:"machine"`
	Rows    []string `json:"rows"`
}

// result is one scenario: a kind, a count and an API flavour.
type result struct {
	Kind string `json:"kind"` // users, acls, bans or mixed
	N    int    `json:"n"`    // objects of each kind
	// Objects is N times the number of kinds.
	Objects int      `json:"objects"`
	API     string   `json:"api"`
	Floors  []floor  `json:"floors,omitempty"`
	Create  duration `json:"create,omitempty"` // the bench creating N objects before the cold start
	// Cold: the manager starts with the N objects already there.
	Cold *readyRun `json:"cold,omitempty"`
	// Running: the N objects are created while the manager runs.
	Running *readyRun   `json:"running,omitempty"`
	Restart *restartRun `json:"restart,omitempty"`
	Steady  *steadyRun  `json:"steady,omitempty"`
	Wipe    *wipeRun    `json:"wipe,omitempty"`
	PeakRSS int64       `json:"peakRSS,omitempty"` // largest of every manager run of the scenario
	Errors  []string    `json:"errors,omitempty"`
	Profile []string    `json:"profiles,omitempty"`
	Notes   []string    `json:"notes,omitempty"`
}

// floor is the unavoidable work for the N objects at one concurrency.
type floor struct {
	Concurrency int      `json:"concurrency"`
	Kube        duration `json:"kube"`   // finalizer, Secret (users), one status write per object
	Broker      duration `json:"broker"` // one broker write per object
	// KubeUsage is what the Kubernetes part cost the API server and etcd.
	KubeUsage usage `json:"kubeUsage"`
	// KubeWrites is the number of writes the Kubernetes part made.
	KubeWrites float64 `json:"kubeWrites"`
}

// Floor is the larger of the two: neither can be beaten by the operator.
func (f floor) Floor() time.Duration { return max(f.Kube.D(), f.Broker.D()) }

// usage is what a phase cost the processes and the machine.
type usage struct {
	ManagerCPU   duration `json:"managerCPU"`
	APIServerCPU duration `json:"apiserverCPU"`
	EtcdCPU      duration `json:"etcdCPU"`
	// MachineBusy is the fraction of all cores' time that was busy.
	MachineBusy float64 `json:"machineBusy"`
}

// readyRun is a timed run to all Ready.
type readyRun struct {
	Ready      duration `json:"ready"` // 0 when not all became Ready in time
	Half       duration `json:"half"`
	ReadyCount int      `json:"readyCount"`
	Created    duration `json:"created,omitempty"` // running: how long the bench took to create them
	usage
	PeakRSS int64 `json:"peakRSS"`
	// KubeWrites are the API server's write requests during the run by
	// "VERB resource[/subresource]", the bench's own creates excluded.
	KubeWrites map[string]float64 `json:"kubeWrites"`
	// BrokerCalls are management API requests by "METHOD route".
	BrokerCalls map[string]float64 `json:"brokerCalls"`
	managerView
}

// managerView is what the manager's own metrics say at the end of a run of
// a freshly started manager.
type managerView struct {
	// ManagerRequests are the manager's own Kubernetes requests by method
	// (rest_client_requests_total): reads its cache does not serve show here.
	ManagerRequests map[string]float64 `json:"managerRequests"`
	// ReconcileSeconds is the mean duration of one reconcile of the kind.
	ReconcileSeconds float64 `json:"reconcileSeconds"`
	// QueueSeconds is the mean time an item waited in the workqueue.
	QueueSeconds float64 `json:"queueSeconds"`
	Reconciles   float64 `json:"reconciles"`
	// Goroutines and HeapInuse are the manager's at the end of the run.
	Goroutines float64 `json:"goroutines"`
	HeapInuse  int64   `json:"heapInuse"`
}

// restartRun is a manager restart with everything in sync.
type restartRun struct {
	// Reverify is the time from the start until every object was
	// reconciled once and the queue was empty; 0 when not in time.
	Reverify     duration `json:"reverify"`
	BrokerWrites float64  `json:"brokerWrites"`
	// StatusWrites are the writes to the status of the kind's objects.
	StatusWrites float64            `json:"statusWrites"`
	KubeWrites   map[string]float64 `json:"kubeWrites"`
	BrokerCalls  map[string]float64 `json:"brokerCalls"`
	usage
	managerView
}

// steadyRun is the manager idling with everything in sync.
type steadyRun struct {
	Window duration `json:"window"`
	// BrokerCalls and KubeWrites are per resync interval.
	BrokerCalls map[string]float64 `json:"brokerCalls"`
	KubeWrites  map[string]float64 `json:"kubeWrites"`
	usage
}

// wipeRun is the recovery after the broker lost its data.
type wipeRun struct {
	Recovery duration `json:"recovery"` // 0 when not back in time
	Expected int      `json:"expected"` // what the broker stored before the wipe
	Got      int      `json:"got"`
	// KubeWrites and BrokerCalls are from the wipe until everything was back.
	KubeWrites  map[string]float64 `json:"kubeWrites"`
	BrokerCalls map[string]float64 `json:"brokerCalls"`
	usage
}

// duration marshals as seconds with millisecond precision.
type duration time.Duration

func (d duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes seconds; it cannot fail, but json.Marshaler returns an error.
func (d duration) MarshalJSON() ([]byte, error) { //nolint:unparam // the interface's signature
	return []byte(fmt.Sprintf("%.3f", time.Duration(d).Seconds())), nil
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var s float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(b)), &s); err != nil {
		return fmt.Errorf("duration %s: %w", b, err)
	}
	*d = duration(s * float64(time.Second))
	return nil
}
