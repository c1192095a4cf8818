package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/mqttoperator/mqtt-operator/internal/broker"
	"github.com/mqttoperator/mqtt-operator/internal/broker/drivers"
	"github.com/mqttoperator/mqtt-operator/test/harness"
)

// runner runs the scenarios of one config.
type runner struct {
	mu          sync.Mutex // guards results written by profile goroutines
	cfg         *config
	concurrency int // the manager's reconciles per kind
	progress    io.Writer
	rep         *report
}

// run measures every scenario, prints the tables to out and writes the
// results, and the docs page when asked. A scenario that fails records its
// error and the run goes on with the next.
func run(ctx context.Context, cfg *config, out, progress io.Writer) (*report, error) {
	// The bench's own clients would otherwise warn that no logger is set.
	ctrllog.SetLogger(logr.Discard())
	var err error
	for _, p := range []*string{&cfg.managerBin, &cfg.brokerBin, &cfg.outDir} {
		if *p, err = filepath.Abs(*p); err != nil {
			return nil, err
		}
	}
	flags, err := harness.ManagerFlags(cfg.managerBin)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, progress: progress}
	if r.concurrency, err = managerConcurrency(flags, cfg.managerArgs); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.outDir, 0o755); err != nil {
		return nil, err
	}
	r.rep = &report{Machine: describeMachine(cfg.managerBin, flags), Settings: settings{
		ManagerArgs: cfg.managerArgs, ManagerEnv: cfg.managerEnv, Concurrency: r.concurrency, CreateConcurrency: cfg.createConcurrency,
		ResyncInterval: duration(cfg.resync), SteadyIntervals: cfg.steadyIntervals,
	}}
	for _, sc := range cfg.scenarios {
		if ctx.Err() != nil {
			break
		}
		res := &result{Kind: sc.name, N: sc.n, Objects: sc.total(), API: sc.api}
		r.rep.Scenarios = append(r.rep.Scenarios, res)
		r.scenario(ctx, sc, res)
		r.rep.Machine.Took = duration(time.Since(r.rep.Machine.Started))
		if err := r.save(); err != nil {
			return r.rep, err
		}
	}
	if err := ctx.Err(); err != nil {
		return r.rep, fmt.Errorf("interrupted: %w (partial results in %s)", err, cfg.outDir)
	}
	return r.rep, publish(r.rep, cfg.docs, out)
}

// publish prints the tables and writes the docs page when asked.
func publish(rep *report, docs string, out io.Writer) error {
	if _, err := io.WriteString(out, renderTables(rep)); err != nil {
		return err
	}
	if docs == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(docs), 0o755); err != nil {
		return err
	}
	return os.WriteFile(docs, []byte(renderDoc(rep)), 0o644)
}

// render publishes saved results: the scenarios of every file, a later
// file's replacing an earlier one's, under the first file's machine.
func render(cfg *config, out io.Writer) (*report, error) {
	var merged *report
	for _, path := range cfg.from {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var rep report
		if err := json.Unmarshal(raw, &rep); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for _, s := range rep.Scenarios {
			if s.Objects == 0 { // written before mixed scenarios existed
				s.Objects = s.N
			}
		}
		if merged == nil {
			merged = &rep
			continue
		}
		if !reflect.DeepEqual(merged.Settings, rep.Settings) {
			return nil, fmt.Errorf("%s was measured with other settings (%+v, not %+v); render it on its own", path, rep.Settings, merged.Settings)
		}
		src := source{Machine: rep.Machine}
		for _, s := range rep.Scenarios {
			i := slices.IndexFunc(merged.Scenarios, func(m *result) bool { return m.Kind == s.Kind && m.N == s.N && m.API == s.API })
			if i >= 0 {
				merged.Scenarios[i] = s
			} else {
				merged.Scenarios = append(merged.Scenarios, s)
			}
			src.Rows = append(src.Rows, label(s))
		}
		// A later run's rows replace those an earlier source gave.
		for j := range merged.Sources {
			merged.Sources[j].Rows = slices.DeleteFunc(merged.Sources[j].Rows, func(r string) bool { return slices.Contains(src.Rows, r) })
		}
		merged.Sources = append(merged.Sources, src)
	}
	if merged != nil {
		merged.Sources = slices.DeleteFunc(merged.Sources, func(s source) bool { return len(s.Rows) == 0 })
	}
	return merged, publish(merged, cfg.docs, out)
}

// managerConcurrency is --max-concurrent-reconciles as the manager will
// run: from the extra args, else the binary's default.
func managerConcurrency(flags map[string]string, args []string) (int, error) {
	v := flags["max-concurrent-reconciles"]
	for i, a := range args {
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name != "max-concurrent-reconciles" {
			continue
		}
		switch {
		case hasVal:
			v = val
		case i+1 < len(args):
			v = args[i+1]
		}
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("cannot tell the manager's --max-concurrent-reconciles (%q); pass it in --manager-args", v)
	}
	return n, nil
}

func (r *runner) logf(format string, args ...any) {
	_, _ = fmt.Fprintf(r.progress, "%s %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (r *runner) save() error {
	raw, err := json.MarshalIndent(r.rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.cfg.outDir, "results.json"), raw, 0o644)
}

// timeout bounds one phase of a scenario.
func (r *runner) timeout(n int) time.Duration {
	if r.cfg.phaseTimeout > 0 {
		return r.cfg.phaseTimeout
	}
	return 5*time.Minute + time.Duration(n)*100*time.Millisecond
}

func (r *runner) scenario(ctx context.Context, sc scenarioSpec, res *result) {
	fail := func(phase string, err error) {
		if err != nil {
			res.Errors = append(res.Errors, phase+": "+err.Error())
			r.logf("%s %s: FAILED: %v", sc.key(), phase, err)
		}
	}
	if r.cfg.phases["cold"] {
		fail("cold", r.cold(ctx, sc, res))
	}
	if (!r.cfg.phases["running"] && !r.cfg.phases["floor"]) || ctx.Err() != nil {
		return
	}
	// The floor shares the second control plane: it runs after the
	// created-while-running run, with the manager stopped, in a namespace
	// of its own. That saves a control plane start per scenario.
	name := "running"
	if !r.cfg.phases["running"] {
		name = "floor"
	}
	e, err := r.newEnv(ctx, sc, name)
	if err != nil {
		fail(name, err)
		return
	}
	defer e.close()
	if r.cfg.phases["running"] && ctx.Err() == nil {
		r.logf("%s: create while running", sc.key())
		fail("running", r.running(ctx, e, res))
	}
	if r.cfg.phases["floor"] && ctx.Err() == nil {
		r.logf("%s: floor", sc.key())
		fail("floor", r.floor(ctx, e, res))
	}
}

// concurrencies are the floor's, with 0 replaced by the manager's and
// duplicates dropped.
func (r *runner) concurrencies() []int {
	var out []int
	seen := map[int]bool{}
	for _, c := range r.cfg.floorConcurrency {
		if c == 0 {
			c = r.concurrency
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// floor issues the unavoidable Kubernetes writes, then the broker writes,
// for N objects at each floor concurrency. No manager runs meanwhile.
func (r *runner) floor(ctx context.Context, e *env, res *result) error {
	sc := e.sc
	if e.mgr != nil {
		if err := e.mgr.Stop(30 * time.Second); err != nil {
			res.Notes = append(res.Notes, "floor: "+err.Error())
		}
	}
	if err := e.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: floorNamespace}}); err != nil {
		return err
	}
	if _, err := e.createObjects(ctx, floorNamespace); err != nil {
		return err
	}
	// Each kind's objects, in creation order, as the floor writes need
	// their UIDs and generations.
	objs := make([][]client.Object, len(sc.kinds))
	for i, k := range sc.kinds {
		list := k.newList()
		if err := e.c.List(ctx, list, client.InNamespace(floorNamespace)); err != nil {
			return err
		}
		if err := apimeta.EachListItem(list, func(o k8sruntime.Object) error {
			objs[i] = append(objs[i], o.(client.Object))
			return nil
		}); err != nil {
			return err
		}
	}
	cl, err := drivers.NewFactory().New(broker.Config{URL: e.tb.URL(), APIVersion: broker.APIVersion(sc.api),
		Username: harness.BrokerAppID, Password: harness.BrokerAppSecret, Timeout: time.Minute})
	if err != nil {
		return err
	}
	for _, c := range r.concurrencies() {
		pass := fmt.Sprintf("floor-c%d", c)
		s0, err := e.snap(ctx)
		if err != nil {
			return err
		}
		start := time.Now()
		// The kinds run side by side, each at the concurrency, as the
		// manager's controllers do.
		if err := eachKind(sc, func(ki int, k *kind) error {
			return parallel(ctx, len(objs[ki]), c, func(ctx context.Context, i int) error {
				return k.floorWrites(ctx, e.c, objs[ki][i], pass, e.tb.MQTTAddr())
			})
		}); err != nil {
			return fmt.Errorf("kubernetes floor at %d: %w", c, err)
		}
		kube := time.Since(start)
		s1, err := e.snap(ctx)
		if err != nil {
			return err
		}
		if err := e.tb.Wipe(ctx); err != nil {
			return err
		}
		start = time.Now()
		if err := eachKind(sc, func(_ int, k *kind) error {
			return parallel(ctx, sc.n, c, func(ctx context.Context, i int) error {
				return k.brokerWrite(ctx, cl, objectName(i))
			})
		}); err != nil {
			return fmt.Errorf("broker floor at %d: %w", c, err)
		}
		f := floor{Concurrency: c, Kube: duration(kube), Broker: duration(time.Since(start)), KubeUsage: usageBetween(s0, s1),
			KubeWrites: sum(kubeWrites(s0, s1, nil))}
		res.Floors = append(res.Floors, f)
		r.logf("%s: floor at concurrency %d: kubernetes %s, broker %s", sc.key(), c, round(f.Kube.D()), round(f.Broker.D()))
	}
	return nil
}

// eachKind runs f for every kind of the scenario at once and returns the
// first error.
func eachKind(sc scenarioSpec, f func(i int, k *kind) error) error {
	errs := make([]error, len(sc.kinds))
	var wg sync.WaitGroup
	for i, k := range sc.kinds {
		wg.Go(func() { errs[i] = f(i, k) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// cold times a manager start with the N objects already there, then runs
// the phases that need that manager: restart, steady, wipe.
func (r *runner) cold(ctx context.Context, sc scenarioSpec, res *result) error {
	e, err := r.newEnv(ctx, sc, "cold")
	if err != nil {
		return err
	}
	defer e.close()
	created, err := e.createObjects(ctx, namespace)
	if err != nil {
		return err
	}
	res.Create = duration(created)
	r.logf("%s: created %d objects in %s; starting the manager (cold start)", sc.key(), sc.total(), round(created))
	tr, err := e.track()
	if err != nil {
		return err
	}
	profile := r.cfg.profile == sc.key()
	s0, err := e.snap(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := e.startManager(ctx, profile); err != nil {
		return err
	}
	finishProfiles := func(bool) {}
	if profile {
		if e.mgr.PprofURL() == "" {
			res.Notes = append(res.Notes, "not profiled: the manager binary has no --pprof-bind-address")
		} else {
			finishProfiles = r.profileColdStart(ctx, e, tr, res)
		}
	}
	run, err := r.readyRun(ctx, e, tr, s0, start, nil)
	res.Cold = run
	finishProfiles(err == nil)
	r.notePeak(e, res)
	if err != nil {
		return err
	}
	r.logf("%s: cold start: all %d Ready after %s (half after %s)", sc.key(), sc.total(), round(run.Ready.D()), round(run.Half.D()))
	if r.cfg.phases["restart"] && ctx.Err() == nil {
		r.logf("%s: restart in sync", sc.key())
		if err := r.restart(ctx, e, res); err != nil {
			return fmt.Errorf("restart: %w", err)
		}
	}
	if r.cfg.phases["steady"] && ctx.Err() == nil {
		r.logf("%s: steady state for %d resync intervals", sc.key(), r.cfg.steadyIntervals)
		if err := r.steady(ctx, e, res); err != nil {
			return fmt.Errorf("steady: %w", err)
		}
	}
	if r.cfg.phases["wipe"] && ctx.Err() == nil {
		r.logf("%s: broker wipe", sc.key())
		if err := r.wipe(ctx, e, res); err != nil {
			return fmt.Errorf("wipe: %w", err)
		}
	}
	r.notePeak(e, res)
	return nil
}

// readyRun waits for all N objects to be Ready and collects what the run
// cost; bench lists the bench's own writes to leave out.
func (r *runner) readyRun(ctx context.Context, e *env, tr *tracker, s0 snapshot, start time.Time, bench map[string]float64) (*readyRun, error) {
	got, waitErr := tr.waitReady(ctx, e.sc.total(), r.timeout(e.sc.total()), e.alive)
	end := time.Now()
	s1, err := e.snap(ctx)
	if err != nil {
		return nil, err
	}
	run := &readyRun{ReadyCount: got, usage: usageBetween(s0, s1), KubeWrites: kubeWrites(s0, s1, bench), BrokerCalls: brokerCalls(s0, s1),
		Half: duration(tr.quantile(start, e.sc.total(), 0.5))}
	if waitErr == nil {
		run.Ready = duration(end.Sub(start))
	}
	run.PeakRSS = s1.mgr.PeakRSS
	run.managerView = readManager(ctx, e)
	return run, waitErr
}

// readManager reads the manager's view of its run from its metrics.
func readManager(ctx context.Context, e *env) managerView {
	var v managerView
	mm, err := e.mgr.Metrics(ctx)
	if err != nil {
		return v
	}
	v.ManagerRequests = mm.SumBy("rest_client_requests_total", []string{"method"}, nil)
	var reconcileSum, queued, queueSum float64
	for _, k := range e.sc.kinds {
		ctl := map[string]string{"controller": k.controller}
		v.Reconciles += mm.Sum("controller_runtime_reconcile_time_seconds", ctl)
		reconcileSum += mm.HistogramSum("controller_runtime_reconcile_time_seconds", ctl)
		queued += mm.Sum("workqueue_queue_duration_seconds", ctl)
		queueSum += mm.HistogramSum("workqueue_queue_duration_seconds", ctl)
	}
	if v.Reconciles > 0 {
		v.ReconcileSeconds = reconcileSum / v.Reconciles
	}
	if queued > 0 {
		v.QueueSeconds = queueSum / queued
	}
	v.Goroutines = mm.Sum("go_goroutines", nil)
	v.HeapInuse = int64(mm.Sum("go_memstats_heap_inuse_bytes", nil))
	return v
}

// profileColdStart captures a CPU profile once a tenth of the objects are
// Ready, and a heap profile and a goroutine dump when half are, into the
// env's directory. The returned func waits for them after the run and
// takes a last heap profile when everything became Ready.
func (r *runner) profileColdStart(ctx context.Context, e *env, tr *tracker, res *result) func(ready bool) {
	save := func(name, query, file string) { r.saveProfile(ctx, e, res, name, query, file) }
	var wg sync.WaitGroup
	done := make(chan struct{})
	// until waits for a share of the objects to be Ready, false if the run ended first.
	until := func(share float64) bool {
		for float64(tr.readyCount()) < share*float64(e.sc.total()) {
			select {
			case <-done:
				return false
			case <-time.After(200 * time.Millisecond):
			}
		}
		return true
	}
	// The CPU profile starts once the work is under way, past the start-up.
	wg.Go(func() {
		if until(0.1) {
			save("profile", fmt.Sprintf("seconds=%d", r.cfg.profileSeconds), "cpu.pprof")
		}
	})
	wg.Go(func() {
		if until(0.5) {
			save("heap", "", "heap-half.pprof")
			save("goroutine", "debug=1", "goroutines-half.txt")
		}
	})
	return func(ready bool) {
		close(done)
		wg.Wait()
		if ready {
			save("heap", "", "heap-ready.pprof")
		}
	}
}

// saveProfile fetches one pprof profile of the manager into the env's
// directory and lists it in the result.
func (r *runner) saveProfile(ctx context.Context, e *env, res *result, name, query, file string) {
	path := filepath.Join(e.dir, file)
	f, err := os.Create(path)
	if err == nil {
		err = e.mgr.Profile(ctx, name, query, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("profile %s: %v", file, err))
		return
	}
	res.Profile = append(res.Profile, path)
}

// notePeak keeps the largest peak RSS of the scenario's manager runs.
func (r *runner) notePeak(e *env, res *result) {
	if e.mgr == nil {
		return
	}
	if u, err := e.mgr.Usage(); err == nil && u.PeakRSS > res.PeakRSS {
		res.PeakRSS = u.PeakRSS
	}
}

// restart stops the manager cleanly, starts it again with everything in
// sync and waits until it has reconciled every object once.
func (r *runner) restart(ctx context.Context, e *env, res *result) error {
	if err := e.mgr.Stop(30 * time.Second); err != nil {
		res.Notes = append(res.Notes, "restart: "+err.Error())
	}
	r.notePeak(e, res)
	s0, err := e.snap(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := e.mgr.Start(ctx); err != nil {
		return err
	}
	var profile sync.WaitGroup
	if e.mgr.PprofURL() != "" {
		// The scenario is profiled: a CPU profile of the restart too.
		profile.Go(func() {
			r.saveProfile(ctx, e, res, "profile", fmt.Sprintf("seconds=%d", min(r.cfg.profileSeconds, 20)), "restart-cpu.pprof")
		})
	}
	reverify, waitErr := r.waitReverified(ctx, e, start)
	profile.Wait()
	// Writes that trail the last reconcile still count.
	time.Sleep(2 * time.Second)
	s1, err := e.snap(ctx)
	if err != nil {
		return err
	}
	calls := brokerCalls(s0, s1)
	writes := kubeWrites(s0, s1, nil)
	res.Restart = &restartRun{Reverify: duration(reverify), BrokerWrites: brokerWrites(calls), StatusWrites: statusWrites(writes, e.sc.kinds),
		KubeWrites: writes, BrokerCalls: calls, usage: usageBetween(s0, s1), managerView: readManager(ctx, e)}
	if waitErr != nil {
		return waitErr
	}
	r.logf("%s: restart: re-verified in %s; %v broker writes, %v status writes", e.sc.key(), round(reverify), res.Restart.BrokerWrites, res.Restart.StatusWrites)
	return nil
}

// waitReverified polls the manager's metrics until the kind's controller
// has reconciled at least N times, its queue is empty and no worker is
// busy. The poll interval bounds the resolution.
func (r *runner) waitReverified(ctx context.Context, e *env, start time.Time) (time.Duration, error) {
	deadline := time.Now().Add(r.timeout(e.sc.total()))
	for time.Now().Before(deadline) {
		if mm, err := e.mgr.Metrics(ctx); err == nil && reverified(mm, e.sc) {
			return time.Since(start), nil
		}
		if err := e.alive(); err != nil {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("not re-verified after %s", r.timeout(e.sc.total()))
}

// reverified: every kind's controller reconciled at least N times, its
// queue is empty and no worker is busy.
func reverified(mm harness.Metrics, sc scenarioSpec) bool {
	for _, k := range sc.kinds {
		ctl := map[string]string{"controller": k.controller}
		if mm.Sum("controller_runtime_reconcile_total", ctl) < float64(sc.n) || mm.Sum("workqueue_depth", ctl) != 0 ||
			mm.Sum("controller_runtime_active_workers", ctl) != 0 {
			return false
		}
	}
	return true
}

// steady watches the idle manager for the steady-state window.
func (r *runner) steady(ctx context.Context, e *env, res *result) error {
	s0, err := e.snap(ctx)
	if err != nil {
		return err
	}
	window := time.Duration(r.cfg.steadyIntervals) * r.cfg.resync
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(window):
	}
	if err := e.alive(); err != nil {
		return err
	}
	s1, err := e.snap(ctx)
	if err != nil {
		return err
	}
	per := func(m map[string]float64) map[string]float64 {
		for k := range m {
			m[k] /= float64(r.cfg.steadyIntervals)
		}
		return m
	}
	u := usageBetween(s0, s1)
	u.ManagerCPU /= duration(r.cfg.steadyIntervals)
	u.APIServerCPU /= duration(r.cfg.steadyIntervals)
	u.EtcdCPU /= duration(r.cfg.steadyIntervals)
	res.Steady = &steadyRun{Window: duration(window), BrokerCalls: per(brokerCalls(s0, s1)), KubeWrites: per(kubeWrites(s0, s1, nil)), usage: u}
	r.logf("%s: steady: %v broker calls per interval", e.sc.key(), sum(res.Steady.BrokerCalls))
	return nil
}

// wipe empties the broker and times until it holds as much as before.
func (r *runner) wipe(ctx context.Context, e *env, res *result) error {
	s0, err := e.snap(ctx)
	if err != nil {
		return err
	}
	stored := func(m harness.Metrics) int {
		n := 0
		for _, k := range e.sc.kinds {
			n += int(m.Sum(k.storedMetric, nil))
		}
		return n
	}
	w := &wipeRun{Expected: stored(s0.broker)}
	res.Wipe = w
	if err := e.tb.Wipe(ctx); err != nil {
		return err
	}
	start := time.Now()
	limit := r.cfg.resync + r.timeout(e.sc.total())
	for {
		m, err := e.tb.Metrics(ctx)
		if err != nil {
			return err
		}
		if w.Got = stored(m); w.Got >= w.Expected {
			w.Recovery = duration(time.Since(start))
			break
		}
		if time.Since(start) > limit {
			break
		}
		if err := e.alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	s1, err := e.snap(ctx)
	if err != nil {
		return err
	}
	w.usage = usageBetween(s0, s1)
	w.KubeWrites, w.BrokerCalls = kubeWrites(s0, s1, nil), brokerCalls(s0, s1)
	if w.Recovery == 0 {
		return fmt.Errorf("the broker holds %d of %d after %s", w.Got, w.Expected, limit)
	}
	r.logf("%s: wipe: everything back after %s", e.sc.key(), round(w.Recovery.D()))
	return nil
}

// running starts the manager first and times from the first create to
// all Ready.
func (r *runner) running(ctx context.Context, e *env, res *result) error {
	sc := e.sc
	tr, err := e.track()
	if err != nil {
		return err
	}
	if err := e.startManager(ctx, false); err != nil {
		return err
	}
	if err := e.waitBrokerReady(ctx, time.Minute); err != nil {
		return err
	}
	s0, err := e.snap(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	created, err := e.createObjects(ctx, namespace)
	if err != nil {
		return err
	}
	bench := map[string]float64{}
	for _, k := range sc.kinds {
		bench["POST "+k.resource] = float64(sc.n)
	}
	run, err := r.readyRun(ctx, e, tr, s0, start, bench)
	res.Running = run
	if run != nil {
		run.Created = duration(created)
	}
	r.notePeak(e, res)
	if err != nil {
		return err
	}
	r.logf("%s: created while running: all %d Ready after %s (creating took %s)", sc.key(), sc.total(), round(run.Ready.D()), round(created))
	return nil
}

// describeMachine records the cores, CPU, memory, Go, the manager's
// version and the tree's commit.
func describeMachine(managerBin string, flags map[string]string) machine {
	m := machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Started: time.Now()}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(raw), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryBytes = kb * 1024
		}
	}
	if raw, err := os.ReadFile("/proc/loadavg"); err == nil {
		_, _ = fmt.Sscan(string(raw), &m.LoadBefore)
	}
	m.Manager = filepath.Base(managerBin) + " (no --version)"
	if _, ok := flags["version"]; ok {
		if out, err := exec.Command(managerBin, "--version").Output(); err == nil {
			m.Manager = strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
		}
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
	}
	return m
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }

func sum(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}
