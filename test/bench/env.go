package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mqttv1 "github.com/mqttoperator/mqtt-operator/api/v1alpha1"
	"github.com/mqttoperator/mqtt-operator/test/harness"
)

const (
	namespace = "bench"
	// floorNamespace holds the floor's objects, which no manager watches
	// while the floor is measured.
	floorNamespace = "bench-floor"
	brokerName     = "emqx"
)

// env is one fresh control plane and test broker for one phase of one
// scenario, with the bench's namespace and MQTTBroker in place.
type env struct {
	// ctx ends when the env closes, ending the bench's own watches first.
	ctx    context.Context
	cancel context.CancelFunc
	r      *runner
	sc     scenarioSpec
	dir    string
	cp     *harness.ControlPlane
	tb     *harness.TestBroker
	rest   *rest.Config // unthrottled administrator
	c      client.Client
	mgr    *harness.Manager
}

func (r *runner) newEnv(ctx context.Context, sc scenarioSpec, phase string) (_ *env, err error) {
	e := &env{r: r, sc: sc, dir: filepath.Join(r.cfg.outDir, strings.ReplaceAll(sc.key(), ":", "-"), phase)}
	e.ctx, e.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return nil, err
	}
	if e.cp, err = harness.StartControlPlane(harness.ControlPlaneOptions{StateDir: e.dir}); err != nil {
		return nil, err
	}
	if e.tb, err = harness.StartTestBroker(ctx, harness.TestBrokerOptions{Bin: r.cfg.brokerBin, LogPath: filepath.Join(e.dir, "testbroker.log")}); err != nil {
		return nil, err
	}
	e.rest = rest.CopyConfig(e.cp.Config)
	e.rest.QPS = -1 // no client-side rate limiting: the bench must not be what is measured
	if e.c, err = client.New(e.rest, client.Options{Scheme: harness.Scheme()}); err != nil {
		return nil, err
	}
	creds, mb, err := e.tb.ExternalBroker(namespace, brokerName, sc.api)
	if err != nil {
		return nil, err
	}
	for _, o := range []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, creds, mb} {
		if err := e.c.Create(ctx, o); err != nil {
			return nil, fmt.Errorf("create %T %s: %w", o, o.GetName(), err)
		}
	}
	return e, nil
}

// close stops everything the env started; the logs stay in its directory.
func (e *env) close() {
	start := time.Now()
	e.cancel()
	if e.mgr != nil {
		_ = e.mgr.Stop(30 * time.Second)
	}
	if e.tb != nil {
		_ = e.tb.Stop(10 * time.Second)
	}
	_ = e.cp.Stop()
	e.r.logf("%s: closed %s in %s", e.sc.key(), filepath.Base(e.dir), round(time.Since(start)))
}

// track starts watching the scenario's kinds until the env closes.
func (e *env) track() (*tracker, error) {
	var objs []client.Object
	for _, k := range e.sc.kinds {
		objs = append(objs, k.newObject(namespace, "", brokerName))
	}
	return newTracker(e.ctx, e.rest, namespace, objs...)
}

// startManager starts the manager under test against this env.
func (e *env) startManager(ctx context.Context, pprof bool) error {
	o := harness.ManagerOptions{
		Bin: e.r.cfg.managerBin, Kubeconfig: e.cp.KubeconfigPath, LogPath: filepath.Join(e.dir, "manager.log"),
		Args: append([]string{"--resync-interval=" + e.r.cfg.resync.String()}, e.r.cfg.managerArgs...),
		Env:  e.r.cfg.managerEnv,
	}
	if pprof {
		o.PprofAddr = "auto"
	}
	m, err := harness.NewManager(o)
	if err != nil {
		return err
	}
	e.mgr = m
	return m.Start(ctx)
}

// alive fails once the manager has exited: nothing will become Ready.
func (e *env) alive() error {
	if e.mgr != nil && !e.mgr.Running() {
		return fmt.Errorf("manager exited (see %s): %w", e.mgr.LogPath(), cmp.Or(e.mgr.ExitErr(), errors.New("exit status 0")))
	}
	return nil
}

// createObjects creates the scenario's objects in ns at the create
// concurrency, the kinds of a mixed scenario interleaved.
func (e *env) createObjects(ctx context.Context, ns string) (time.Duration, error) {
	start := time.Now()
	k := len(e.sc.kinds)
	err := parallel(ctx, e.sc.total(), e.r.cfg.createConcurrency, func(ctx context.Context, i int) error {
		return e.c.Create(ctx, e.sc.kinds[i%k].newObject(ns, objectName(i/k), brokerName))
	})
	return time.Since(start), err
}

// waitBrokerReady waits for the MQTTBroker to be Ready.
func (e *env) waitBrokerReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var mb mqttv1.MQTTBroker
		if err := e.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: brokerName}, &mb); err == nil && mb.Status.IsReady(mb.Generation) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("MQTTBroker %s not Ready after %s", brokerName, timeout)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// snapshot is the counters and process usage at one moment; two of them
// give what happened in between.
type snapshot struct {
	at          time.Time
	api, broker harness.Metrics
	mgrPid      int
	mgr         harness.Usage
	apiCPU      time.Duration
	etcdCPU     time.Duration
	busy, total time.Duration
}

func (e *env) snap(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now()}
	var err error
	if s.api, err = e.cp.Metrics(ctx); err != nil {
		return s, err
	}
	if s.broker, err = e.tb.Metrics(ctx); err != nil {
		return s, err
	}
	if e.mgr != nil && e.mgr.Running() {
		s.mgrPid = e.mgr.Pid()
		if s.mgr, err = e.mgr.Usage(); err != nil {
			return s, err
		}
	}
	api, etcd, err := e.cp.Usage()
	if err != nil {
		return s, err
	}
	s.apiCPU, s.etcdCPU = api.CPU, etcd.CPU
	if s.busy, s.total, err = harness.MachineCPU(); err != nil {
		return s, err
	}
	return s, nil
}

// usageBetween is what the processes and the machine spent from a to b.
func usageBetween(a, b snapshot) usage {
	u := usage{APIServerCPU: duration(b.apiCPU - a.apiCPU), EtcdCPU: duration(b.etcdCPU - a.etcdCPU)}
	switch {
	case b.mgrPid == 0:
	case a.mgrPid == b.mgrPid:
		u.ManagerCPU = duration(b.mgr.CPU - a.mgr.CPU)
	default: // started in between
		u.ManagerCPU = duration(b.mgr.CPU)
	}
	if dt := b.total - a.total; dt > 0 {
		u.MachineBusy = float64(b.busy-a.busy) / float64(dt)
	}
	return u
}

// writeVerbs are the apiserver_request_total verbs that change state.
var writeVerbs = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "APPLY": true, "DELETE": true, "DELETECOLLECTION": true}

// ignoredResources are written by the API server itself (its lease
// heartbeat, the kubernetes Service's endpoints), not by the manager.
var ignoredResources = map[string]bool{"leases": true, "endpoints": true, "endpointslices": true}

// kubeWrites are the API server's write requests from a to b by
// "VERB resource[/subresource]", less the bench's own writes.
func kubeWrites(a, b snapshot, bench map[string]float64) map[string]float64 {
	by := []string{"verb", "resource", "subresource"}
	d := harness.Delta(a.api.SumBy("apiserver_request_total", by, nil), b.api.SumBy("apiserver_request_total", by, nil))
	out := map[string]float64{}
	for k, v := range d {
		f := strings.Split(k, " ")
		if !writeVerbs[f[0]] || ignoredResources[f[1]] {
			continue
		}
		key := f[0] + " " + f[1]
		if f[2] != "" {
			key += "/" + f[2]
		}
		if v -= bench[key]; v != 0 {
			out[key] = v
		}
	}
	return out
}

// statusWrites counts the writes to the status of the kinds' objects.
func statusWrites(w map[string]float64, kinds []*kind) float64 {
	var n float64
	for k, v := range w {
		_, r, _ := strings.Cut(k, " ")
		for _, kd := range kinds {
			if r == kd.resource+"/status" {
				n += v
			}
		}
	}
	return n
}

// brokerCalls are the management API requests from a to b by "METHOD route".
func brokerCalls(a, b snapshot) map[string]float64 {
	by := []string{"method", "route"}
	return harness.Delta(a.broker.SumBy("testbroker_api_requests_total", by, nil), b.broker.SumBy("testbroker_api_requests_total", by, nil))
}

// brokerWrites counts the calls that are not reads.
func brokerWrites(calls map[string]float64) float64 {
	var n float64
	for k, v := range calls {
		if !strings.HasPrefix(k, "GET ") {
			n += v
		}
	}
	return n
}

// parallel runs f for 0..n-1 on workers goroutines and stops at the first error.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = fmt.Errorf("object %d: %w", i, err); cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err() // the caller's context ended
}
