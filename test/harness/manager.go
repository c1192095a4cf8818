package harness

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// ManagerOptions configure NewManager.
type ManagerOptions struct {
	// Bin is the manager binary.
	Bin string
	// Kubeconfig is the file the manager connects with (KUBECONFIG).
	Kubeconfig string
	// LogPath receives its output.
	LogPath string
	// MetricsAddr and ProbeAddr default to free loopback ports.
	MetricsAddr, ProbeAddr string
	// PprofAddr, when set, serves /debug/pprof/ there if the binary has
	// --pprof-bind-address; "auto" picks a free loopback port.
	PprofAddr string
	// Args are further flags, e.g. --resync-interval=30s.
	Args []string
	// Env is added to the manager's environment (KEY=VALUE), e.g. the
	// GOMEMLIMIT a container's memory limit would give it.
	Env []string
	// StartTimeout bounds the wait for /healthz; default one minute.
	StartTimeout time.Duration
}

// Manager is the operator's manager binary running as a process, started
// and restarted with the same flags.
type Manager struct {
	*Process
	opts ManagerOptions
	// auto is true when the harness picked at least one of the ports.
	auto                              bool
	metricsAddr, probeAddr, pprofAddr string
	flags                             map[string]string
	timeout                           time.Duration
	http                              *http.Client
}

// NewManager probes the binary's flags and prepares its command line;
// Start runs it.
func NewManager(o ManagerOptions) (*Manager, error) {
	flags, err := ManagerFlags(o.Bin)
	if err != nil {
		return nil, err
	}
	m := &Manager{opts: o, flags: flags, timeout: o.StartTimeout, http: &http.Client{Timeout: 5 * time.Minute}}
	if m.timeout <= 0 {
		m.timeout = time.Minute
	}
	_, hasPprof := flags["pprof-bind-address"]
	m.auto = o.MetricsAddr == "" || o.ProbeAddr == "" || (hasPprof && o.PprofAddr == "auto")
	m.Process = NewProcess("manager", o.Bin, o.LogPath, append([]string{"KUBECONFIG=" + o.Kubeconfig}, o.Env...))
	if err := m.pickAddrs(); err != nil {
		return nil, err
	}
	return m, nil
}

// pickAddrs chooses free ports for the addresses the options left to the
// harness, and builds the command line with them.
func (m *Manager) pickAddrs() error {
	o := m.opts
	pick := func(given string, auto bool) (string, error) {
		if !auto {
			return given, nil
		}
		return FreeAddr()
	}
	var err error
	if m.metricsAddr, err = pick(o.MetricsAddr, o.MetricsAddr == ""); err != nil {
		return err
	}
	if m.probeAddr, err = pick(o.ProbeAddr, o.ProbeAddr == ""); err != nil {
		return err
	}
	args := []string{"--metrics-bind-address=" + m.metricsAddr, "--health-probe-bind-address=" + m.probeAddr}
	if _, ok := m.flags["metrics-secure"]; ok {
		// Plain HTTP on loopback: the harness scrapes without credentials.
		args = append(args, "--metrics-secure=false")
	}
	m.pprofAddr = ""
	if _, ok := m.flags["pprof-bind-address"]; ok && o.PprofAddr != "" {
		if m.pprofAddr, err = pick(o.PprofAddr, o.PprofAddr == "auto"); err != nil {
			return err
		}
		args = append(args, "--pprof-bind-address="+m.pprofAddr)
	}
	m.args = append(args, o.Args...)
	return nil
}

var (
	flagLine    = regexp.MustCompile(`^\s+--?([a-zA-Z0-9][a-zA-Z0-9_.-]*)`)
	defaultText = regexp.MustCompile(`\(default "?([^")]*)"?\)\s*$`)
)

// ManagerFlags runs bin -h and reads the flag names and their defaults
// ("" when the usage shows none) from Go's usage text.
func ManagerFlags(bin string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-h").CombinedOutput()
	flags := parseUsage(string(out))
	if _, ok := flags["metrics-bind-address"]; !ok {
		return nil, fmt.Errorf("%s -h lists no --metrics-bind-address (run `make build`?): %w\n%s", bin, cmp.Or(err, errCleanExit), out)
	}
	if _, ok := flags["health-probe-bind-address"]; !ok {
		return nil, fmt.Errorf("%s -h lists no --health-probe-bind-address: %w\n%s", bin, cmp.Or(err, errCleanExit), out)
	}
	return flags, nil
}

func parseUsage(usage string) map[string]string {
	flags := map[string]string{}
	current := ""
	for _, line := range strings.Split(usage, "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			current = m[1]
			flags[current] = ""
		}
		if m := defaultText.FindStringSubmatch(line); m != nil && current != "" {
			flags[current] = m[1]
		}
	}
	return flags
}

// Supports reports whether the binary has the flag (name without dashes).
func (m *Manager) Supports(flag string) bool {
	_, ok := m.flags[flag]
	return ok
}

// FlagDefault is the default the binary's usage text shows for the flag,
// "" when it shows none.
func (m *Manager) FlagDefault(flag string) string { return m.flags[flag] }

// Start starts the manager (again, after Kill or Stop, with the same
// flags) and waits until it serves /healthz and listens on each of its
// addresses itself. A port the harness picked can be taken by another
// process before the manager binds it (tests run in parallel); the
// manager then exits at once, or another server answers in its place. The
// harness picks new ports and tries again, three times in all.
func (m *Manager) Start(ctx context.Context) error {
	return startOnOwnPorts(m.Process, m.auto, m.pickAddrs, func() error { return m.startOnce(ctx) })
}

func (m *Manager) startOnce(ctx context.Context) error {
	if err := m.Process.Start(); err != nil {
		return err
	}
	err := waitHTTP(ctx, "http://"+m.probeAddr+"/healthz", m.Process, m.timeout)
	if err == nil {
		err = waitListening(ctx, m.Process, m.timeout, m.metricsAddr, m.probeAddr, m.pprofAddr)
	}
	if err != nil {
		_ = m.Kill()
		return err
	}
	return nil
}

// Restart kills a running manager with SIGKILL and starts it again.
func (m *Manager) Restart(ctx context.Context) error {
	if err := m.Kill(); err != nil {
		return err
	}
	return m.Start(ctx)
}

// MetricsURL is the manager's Prometheus endpoint.
func (m *Manager) MetricsURL() string { return "http://" + m.metricsAddr + "/metrics" }

// Metrics scrapes the manager's Prometheus endpoint.
func (m *Manager) Metrics(ctx context.Context) (Metrics, error) {
	return scrape(ctx, m.http, m.MetricsURL())
}

// PprofURL is the base of the manager's /debug/pprof/ endpoints, "" when
// none was asked for or the binary has no --pprof-bind-address.
func (m *Manager) PprofURL() string {
	if m.pprofAddr == "" {
		return ""
	}
	return "http://" + m.pprofAddr + "/debug/pprof/"
}

// Profile fetches /debug/pprof/<name>?<query> and writes it to w, e.g.
// ("profile", "seconds=30") for CPU, ("heap", "") or ("goroutine", "debug=1").
func (m *Manager) Profile(ctx context.Context, name, query string, w io.Writer) error {
	if m.pprofAddr == "" {
		return fmt.Errorf("the manager serves no pprof endpoint (binary without --pprof-bind-address, or none asked for)")
	}
	url := m.PprofURL() + name
	if query != "" {
		url += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := m.http.Do(req)
	if err != nil {
		return fmt.Errorf("pprof %s: %w", name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", name, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
