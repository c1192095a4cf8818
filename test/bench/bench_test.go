package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mqttoperator/mqtt-operator/test/harness"
)

// The short form of `make bench`, run by `make test`: a small mixed
// scenario (users, ACLs and bans under one manager) through every phase
// against the manager built from this tree, checking what must hold
// whatever the figures are.
func TestShortBench(t *testing.T) {
	if testing.Short() {
		t.Skip("runs control planes, the test broker and the manager")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir := t.TempDir()
	bins, err := harness.Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	docs := filepath.Join(dir, "docs", "benchmarks.md")
	cfg, err := parseFlags([]string{"--manager", bins.Manager, "--testbroker", bins.TestBroker,
		"--scenarios", fmt.Sprintf("mixed:%d:v4", n), "--resync-interval", "2s", "--steady-intervals", "1",
		"--floor-concurrency", "0", "--profile", fmt.Sprintf("mixed:%d:v4", n), "--profile-seconds", "1",
		"--out", filepath.Join(dir, "out"), "--docs", docs})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := run(ctx, cfg, &out, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Scenarios[0]
	if len(r.Errors) > 0 {
		t.Fatalf("scenario failed: %v", r.Errors)
	}
	if len(r.Floors) != 1 || r.Floors[0].Concurrency != rep.Settings.Concurrency || r.Floors[0].Kube <= 0 || r.Floors[0].Broker <= 0 {
		t.Errorf("floor at the manager's concurrency %d: %+v", rep.Settings.Concurrency, r.Floors)
	}
	for name, run := range map[string]*readyRun{"cold": r.Cold, "running": r.Running} {
		if run == nil || run.Ready <= 0 || run.ReadyCount != 3*n || run.Half <= 0 || run.Half > run.Ready {
			t.Fatalf("%s: %+v", name, run)
		}
		// Every generated password lands in exactly one Secret; the
		// bench's own creates of the objects are not counted.
		if got := run.KubeWrites["POST secrets"]; got != n {
			t.Errorf("%s: %v Secrets created, want %d (writes %v)", name, got, n, run.KubeWrites)
		}
		for _, res := range []string{"mqttusers", "mqttacls", "mqttbans"} {
			if _, ok := run.KubeWrites["POST "+res]; ok {
				t.Errorf("%s: the bench's creates are counted as the manager's: %v", name, run.KubeWrites)
			}
			if run.KubeWrites["PATCH "+res+"/status"] < n {
				t.Errorf("%s: fewer than %d status writes of %s: %v", name, n, res, run.KubeWrites)
			}
		}
		if run.ManagerCPU <= 0 || run.APIServerCPU <= 0 || run.EtcdCPU <= 0 || run.MachineBusy <= 0 || run.MachineBusy > 1 {
			t.Errorf("%s usage: %+v", name, run.usage)
		}
	}
	if x := r.Restart; x == nil || x.Reverify <= 0 || x.BrokerWrites != 0 || x.StatusWrites != 0 {
		t.Errorf("restart in sync must re-verify without broker or status writes: %+v", x)
	} else {
		// Each kind was read from the broker, one way or another.
		for _, prefix := range []string{"GET /auth_username", "GET /acl", "GET /banned"} {
			read := false
			for call := range x.BrokerCalls {
				read = read || strings.HasPrefix(call, prefix)
			}
			if !read {
				t.Errorf("restart made no %s... call, so it verified nothing: %v", prefix, x.BrokerCalls)
			}
		}
	}
	if x := r.Steady; x == nil || brokerWrites(x.BrokerCalls) != 0 || len(x.BrokerCalls) == 0 {
		t.Errorf("steady state: want broker reads and no writes: %+v", x)
	}
	// Every user, ban and rule (three or more per ACL, as the API stores them) is back.
	if x := r.Wipe; x == nil || x.Recovery <= 0 || x.Expected < 5*n || x.Got != x.Expected {
		t.Errorf("wipe: %+v", x)
	}
	if r.PeakRSS <= 0 {
		t.Errorf("peak RSS %d", r.PeakRSS)
	}
	var files []string
	for _, p := range r.Profile {
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("profile %s: %v", p, err)
		}
		files = append(files, filepath.Base(p))
	}
	if d := cmp.Diff([]string{"cpu.pprof", "goroutines-half.txt", "heap-half.pprof", "heap-ready.pprof", "restart-cpu.pprof"}, slices.Sorted(slices.Values(files))); d != "" {
		t.Errorf("profiles (-want +got):\n%s", d)
	}

	row := fmt.Sprintf("| %d each of users, ACLs, bans, v4 | %s |", n, human(r.Floors[0].Floor()))
	if !strings.Contains(out.String(), row) {
		t.Errorf("printed tables lack %q:\n%s", row, out.String())
	}
	doc, err := os.ReadFile(docs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), row) || !strings.Contains(string(doc), fmt.Sprintf("on %d cores", rep.Machine.Cores)) {
		t.Errorf("docs page lacks the row %q or the core count:\n%s", row, doc)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "out", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back report
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Scenarios) != 1 || (back.Scenarios[0].Cold.Ready-r.Cold.Ready).D().Abs() > time.Millisecond {
		t.Errorf("results.json does not hold the run: %s", raw)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
		check   func(*config) string
	}{
		{name: "defaults are the issue's matrix", check: func(c *config) string {
			var keys []string
			for _, s := range c.scenarios {
				keys = append(keys, s.key())
			}
			return cmp.Diff([]string{"users:1000:v4", "users:1000:v5", "users:10000:v4", "users:10000:v5", "acls:10000:v4", "acls:10000:v5",
				"bans:10000:v4", "bans:10000:v5", "users:30000:v4", "mixed:10000:v4"}, keys)
		}},
		{name: "short", args: []string{"--scenarios", "users:200:v4 bans:5,5:v5", "--phases", "cold,restart", "--profile", "", "--floor-concurrency", "0,8"},
			check: func(c *config) string {
				return cmp.Diff([]string{"users:200:v4", "bans:5:v5"}, []string{c.scenarios[0].key(), c.scenarios[1].key()}) +
					cmp.Diff(map[string]bool{"cold": true, "restart": true}, c.phases) + cmp.Diff([]int{0, 8}, c.floorConcurrency)
			}},
		{name: "mixed is every kind", args: []string{"--scenarios", "mixed:5:v4", "--profile", ""},
			check: func(c *config) string {
				var names []string
				for _, k := range c.scenarios[0].kinds {
					names = append(names, k.name)
				}
				return cmp.Diff([]string{"users", "acls", "bans"}, names) + cmp.Diff(15, c.scenarios[0].total())
			}},
		{name: "manager env", args: []string{"--manager-env", "GOMEMLIMIT=241591910 GOGC=100", "--profile", ""},
			check: func(c *config) string { return cmp.Diff([]string{"GOMEMLIMIT=241591910", "GOGC=100"}, c.managerEnv) }},
		{name: "manager env not KEY=VALUE", args: []string{"--manager-env", "GOMEMLIMIT", "--profile", ""}, wantErr: "not KEY=VALUE"},
		{name: "manager args split", args: []string{"--manager-args", "--kube-api-qps=200  --max-concurrent-reconciles 8", "--profile", ""},
			check: func(c *config) string {
				return cmp.Diff([]string{"--kube-api-qps=200", "--max-concurrent-reconciles", "8"}, c.managerArgs)
			}},
		{name: "bad kind", args: []string{"--scenarios", "topics:10:v4"}, wantErr: `kind "topics"`},
		{name: "bad api", args: []string{"--scenarios", "users:10:v3"}, wantErr: `API "v3"`},
		{name: "bad count", args: []string{"--scenarios", "users:0:v4"}, wantErr: `"0" is not a whole number`},
		{name: "bad shape", args: []string{"--scenarios", "users:10"}, wantErr: "want KIND:COUNTS:APIS"},
		{name: "restart needs cold", args: []string{"--phases", "floor,restart"}, wantErr: "phase restart runs after cold"},
		{name: "unknown phase", args: []string{"--phases", "cold,warm"}, wantErr: `unknown phase "warm"`},
		{name: "profile not a scenario", args: []string{"--scenarios", "users:10:v4"}, wantErr: `--profile "users:10000:v4" is not one of the scenarios`},
		{name: "resync in manager args", args: []string{"--manager-args", "--resync-interval=1m"}, wantErr: "bench's --resync-interval"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := tc.check(c); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestManagerConcurrency(t *testing.T) {
	flags := map[string]string{"max-concurrent-reconciles": "4"}
	for _, tc := range []struct {
		flags   map[string]string
		args    []string
		want    int
		wantErr bool
	}{
		{flags: flags, want: 4},
		{flags: flags, args: []string{"--max-concurrent-reconciles=8"}, want: 8},
		{flags: flags, args: []string{"--kube-api-qps", "9", "-max-concurrent-reconciles", "16"}, want: 16},
		{flags: map[string]string{}, wantErr: true},
		{flags: flags, args: []string{"--max-concurrent-reconciles=zero"}, wantErr: true},
	} {
		got, err := managerConcurrency(tc.flags, tc.args)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("managerConcurrency(%v, %v) = %d, %v; want %d, error %v", tc.flags, tc.args, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestWritesAndCalls(t *testing.T) {
	parse := func(text string) harness.Metrics {
		m, err := harness.ParseMetrics(strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a := snapshot{
		api: parse(`apiserver_request_total{verb="PATCH",resource="mqttusers",subresource="status",code="200"} 1
apiserver_request_total{verb="POST",resource="mqttusers",subresource="",code="201"} 10
apiserver_request_total{verb="PUT",resource="leases",subresource="",code="200"} 5
`),
		broker: parse(`testbroker_api_requests_total{api="v4",method="GET",route="/auth_username/:name"} 3
`),
	}
	b := snapshot{
		api: parse(`apiserver_request_total{verb="PATCH",resource="mqttusers",subresource="status",code="200"} 4
apiserver_request_total{verb="PATCH",resource="mqttusers",subresource="status",code="409"} 1
apiserver_request_total{verb="PATCH",resource="mqttbrokers",subresource="status",code="200"} 2
apiserver_request_total{verb="POST",resource="mqttusers",subresource="",code="201"} 20
apiserver_request_total{verb="POST",resource="secrets",subresource="",code="201"} 7
apiserver_request_total{verb="LIST",resource="secrets",subresource="",code="200"} 70
apiserver_request_total{verb="PUT",resource="leases",subresource="",code="200"} 9
`),
		broker: parse(`testbroker_api_requests_total{api="v4",method="GET",route="/auth_username/:name"} 13
testbroker_api_requests_total{api="v4",method="POST",route="/auth_username"} 2
`),
	}
	writes := kubeWrites(a, b, map[string]float64{"POST mqttusers": 10})
	want := map[string]float64{"PATCH mqttusers/status": 4, "PATCH mqttbrokers/status": 2, "POST secrets": 7}
	if d := cmp.Diff(want, writes); d != "" {
		t.Errorf("kubeWrites (-want +got):\n%s", d)
	}
	if got := statusWrites(writes, []*kind{kinds["users"]}); got != 4 {
		t.Errorf("statusWrites = %v, want 4", got)
	}
	calls := brokerCalls(a, b)
	if d := cmp.Diff(map[string]float64{"GET /auth_username/:name": 10, "POST /auth_username": 2}, calls); d != "" {
		t.Errorf("brokerCalls (-want +got):\n%s", d)
	}
	if got := brokerWrites(calls); got != 2 {
		t.Errorf("brokerWrites = %v, want 2", got)
	}
	u := usageBetween(snapshot{mgrPid: 1, mgr: harness.Usage{CPU: time.Second}, busy: 10 * time.Second, total: 40 * time.Second},
		snapshot{mgrPid: 1, mgr: harness.Usage{CPU: 3 * time.Second}, apiCPU: time.Second, busy: 15 * time.Second, total: 60 * time.Second})
	if d := cmp.Diff(usage{ManagerCPU: duration(2 * time.Second), APIServerCPU: duration(time.Second), MachineBusy: 0.25}, u); d != "" {
		t.Errorf("usageBetween (-want +got):\n%s", d)
	}
	restarted := usageBetween(snapshot{mgrPid: 1, mgr: harness.Usage{CPU: 9 * time.Second}}, snapshot{mgrPid: 2, mgr: harness.Usage{CPU: time.Second}})
	if restarted.ManagerCPU != duration(time.Second) {
		t.Errorf("a restarted manager's CPU counts from its start: %v", restarted.ManagerCPU)
	}
}

func TestParallel(t *testing.T) {
	var mu sync.Mutex
	seen := map[int]int{}
	if err := parallel(context.Background(), 50, 4, func(_ context.Context, i int) error {
		mu.Lock()
		seen[i]++
		mu.Unlock()
		return nil
	}); err != nil || len(seen) != 50 {
		t.Fatalf("visited %d of 50: %v", len(seen), err)
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("%d visited %d times", i, n)
		}
	}
	boom := errors.New("boom")
	err := parallel(context.Background(), 1000, 4, func(_ context.Context, i int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "object 10") {
		t.Errorf("error %v, want object 10's", err)
	}
}

func TestRender(t *testing.T) {
	rep := &report{Settings: settings{Concurrency: 4, ResyncInterval: duration(30 * time.Second), SteadyIntervals: 2}}
	small := &result{Kind: "users", N: 1000, Objects: 1000, API: "v4", PeakRSS: 100 << 20,
		Floors: []floor{{Concurrency: 4, Kube: duration(6600 * time.Millisecond), Broker: duration(300 * time.Millisecond), KubeWrites: 3000,
			KubeUsage: usage{APIServerCPU: duration(9 * time.Second), EtcdCPU: duration(1500 * time.Millisecond), MachineBusy: 0.9}},
			{Concurrency: 16, Kube: duration(2 * time.Second)}},
		Cold: &readyRun{Ready: duration(61 * time.Second), ReadyCount: 1000, usage: usage{ManagerCPU: duration(12 * time.Second), APIServerCPU: duration(20 * time.Second), MachineBusy: 0.5},
			KubeWrites: map[string]float64{"PATCH mqttusers/status": 2000, "POST secrets": 1000, "PATCH mqttbrokers/status": 3}, BrokerCalls: map[string]float64{"POST /auth_username": 1000},
			managerView: managerView{Reconciles: 2000, ReconcileSeconds: 0.25, QueueSeconds: 30}},
		Running: &readyRun{Ready: duration(70 * time.Second), Created: duration(5 * time.Second), ReadyCount: 1000},
		Restart: &restartRun{Reverify: duration(4 * time.Second), KubeWrites: map[string]float64{"PATCH mqttbrokers/status": 1}},
		Steady:  &steadyRun{BrokerCalls: map[string]float64{"GET /stats": 1, "GET /auth_username": 1.5}, KubeWrites: map[string]float64{}},
		Wipe: &wipeRun{Recovery: duration(45 * time.Second), Expected: 1000, Got: 1000, KubeWrites: map[string]float64{"PATCH mqttusers/status": 1000},
			BrokerCalls: map[string]float64{"POST /auth_username": 1000, "GET /auth_username": 1}}}
	big := &result{Kind: "users", N: 10000, Objects: 10000, API: "v4", Cold: &readyRun{ReadyCount: 4000}, Errors: []string{"cold: 4000 of 10000 Ready after 21m"}}
	mixed := &result{Kind: "mixed", N: 10, Objects: 30, API: "v5", PeakRSS: 50 << 20,
		Cold: &readyRun{Ready: duration(3 * time.Second), ReadyCount: 30, KubeWrites: map[string]float64{"POST events": 30}}}
	rep.Scenarios = []*result{small, big, mixed}

	if d := cmp.Diff([][]string{
		{"1,000 users, v4", "6.60 s", "61.0 s", "9.2", "70.0 s (created in 5.00 s)", "10.6", "12.0 s / 20.0 s", "50%", "100 MiB"},
		{"10,000 users, v4", "—", "not in time (4000 of 10000)", "—", "—", "—", "0 s / 0 s", "0%", "—"},
		{"10 each of users, ACLs, bans, v5", "—", "3.00 s", "—", "—", "—", "0 s / 0 s", "0%", "50 MiB"},
	}, readyTable(rep).rows); d != "" {
		t.Errorf("ready table (-want +got):\n%s", d)
	}
	if d := cmp.Diff([][]string{
		{"1,000 users, v4", "4", "6.60 s", "0.30 s", "6.60 s", "3.0 ms / 0.5 ms", "90%"},
		{"1,000 users, v4", "16", "2.00 s", "0 s", "2.00 s", "—", "0%"},
	}, floorTable(rep).rows); d != "" {
		t.Errorf("floor table (-want +got):\n%s", d)
	}
	if d := cmp.Diff([][]string{
		{"1,000 users, v4", "4.00 s", "0", "0", "1 `PATCH mqttbrokers/status`", "—", "—", "0 s", "0 s"},
	}, restartTable(rep).rows); d != "" {
		t.Errorf("restart table (-want +got):\n%s", d)
	}
	if d := cmp.Diff([][]string{
		{"1,000 users, v4", "2.50", "1.50 `GET /auth_username`, 1 `GET /stats`", "0", "0 s"},
	}, steadyTable(rep).rows); d != "" {
		t.Errorf("steady table (-want +got):\n%s", d)
	}
	if d := cmp.Diff([][]string{
		{"1,000 users, v4", "2 `PATCH mqttusers/status`, 1 `POST secrets`, 1 rarer", "1 `POST /auth_username`", "—", "2.00", "0.25 s", "30.0 s", "—"},
		{"10 each of users, ACLs, bans, v5", "1 `POST events`", "—", "—", "0.00", "0 s", "0 s", "—"},
	}, costTable(rep).rows); d != "" {
		t.Errorf("cost table (-want +got):\n%s", d)
	}
	if d := cmp.Diff([][]string{
		{"1,000", "6.60 s", "61.0 s", "70.0 s", "4.00 s", "2.50", "45.0 s", "100 MiB", "12.0 s"},
		{"10,000", "—", "not in time (4000 of 10000)", "—", "—", "—", "—", "—", "0 s"},
	}, growthTable(rep, "v4").rows); d != "" {
		t.Errorf("growth table (-want +got):\n%s", d)
	}
	if d := cmp.Diff([][]string{
		{"1,000 users, v4", "45.0 s", "1000 of 1000", "1,000 `PATCH mqttusers/status`", "1,000 `POST /auth_username`, 1 `GET /auth_username`", "0 s"},
	}, wipeTable(rep).rows); d != "" {
		t.Errorf("wipe table (-want +got):\n%s", d)
	}
	if growthTable(rep, "v5").markdown() != "" {
		t.Error("a growth table needs two sizes")
	}
	md := renderTables(rep)
	for _, want := range []string{
		"## Time to all Ready\n", "| Scenario | Floor | Cold start |", "| --- | --- |",
		"## Errors and notes\n\n- 10,000 users, v4: **failed**: cold: 4000 of 10000 Ready after 21m\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Growth: users on v5") {
		t.Error("empty table rendered")
	}
}

func TestFormatting(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0 s", 500 * time.Microsecond: "0.5 ms", 45 * time.Millisecond: "45 ms", 1234 * time.Millisecond: "1.23 s",
		61 * time.Second: "61.0 s", 607 * time.Second: "607 s"} {
		if got := human(d); got != want {
			t.Errorf("human(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 30000: "30,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestRenderFrom(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, rep report) string {
		raw, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	set := settings{Concurrency: 4, ResyncInterval: duration(30 * time.Second), SteadyIntervals: 2}
	first := write("a.json", report{Machine: machine{Cores: 2}, Settings: set, Scenarios: []*result{
		{Kind: "users", N: 1000, Objects: 1000, API: "v4", PeakRSS: 1 << 20, Cold: &readyRun{Ready: duration(time.Second), ReadyCount: 1000}},
		{Kind: "bans", N: 10, Objects: 10, API: "v5"}}})
	second := write("b.json", report{Machine: machine{Cores: 8, Manager: "second build"}, Settings: set, Scenarios: []*result{
		{Kind: "users", N: 1000, Objects: 1000, API: "v4", PeakRSS: 2 << 20, Cold: &readyRun{Ready: duration(time.Second), ReadyCount: 1000}},
		{Kind: "acls", N: 10, Objects: 10, API: "v4"}}})
	docs := filepath.Join(dir, "docs", "benchmarks.md")
	cfg, err := parseFlags([]string{"--from", first + "," + second, "--docs", docs})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := render(cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range rep.Scenarios {
		got = append(got, fmt.Sprintf("%s:%d:%s:%d", s.Kind, s.N, s.API, s.PeakRSS>>20))
	}
	if d := cmp.Diff([]string{"users:1000:v4:2", "bans:10:v5:0", "acls:10:v4:0"}, got); d != "" {
		t.Errorf("merged scenarios (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]source{{Machine: machine{Cores: 8, Manager: "second build"}, Rows: []string{"1,000 users, v4", "10 ACLs (3 rules), v4"}}}, rep.Sources); d != "" {
		t.Errorf("sources of the rows (-want +got):\n%s", d)
	}
	if doc, err := os.ReadFile(docs); err != nil || !strings.Contains(string(doc), "on 2 cores") || !strings.Contains(string(doc), "| 1,000 users, v4 | — | 1.00 s |") ||
		!strings.Contains(string(doc), "Rows 1,000 users, v4; 10 ACLs (3 rules), v4: measured") || !strings.Contains(string(doc), "manager second build") {
		t.Errorf("docs page from the first file's machine: %v\n%s", err, doc)
	}
	other := write("c.json", report{Settings: settings{Concurrency: 8}})
	if cfg, err = parseFlags([]string{"--from", first + "," + other, "--docs", ""}); err != nil {
		t.Fatal(err)
	}
	if _, err := render(cfg, &out); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("merging runs with other settings: %v", err)
	}
}

func TestWaitReadyStopsWhenTheManagerDies(t *testing.T) {
	tr := &tracker{ready: map[string]bool{"a": true}, readyAt: map[string]time.Time{}}
	died := errors.New("manager exited: exit status 0")
	start := time.Now()
	got, err := tr.waitReady(context.Background(), 2, time.Minute, func() error { return died })
	if !errors.Is(err, died) || got != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("waitReady = %d, %v after %s; want 1 and the manager's exit at once", got, err, time.Since(start))
	}
	if got, err := tr.waitReady(context.Background(), 1, time.Minute, func() error { return died }); err != nil || got != 1 {
		t.Fatalf("enough Ready wins over a dead manager: %d, %v", got, err)
	}
}
