// Command bench is `make bench`: it measures the operator at scale the way
// a user's cluster runs it, with kube-apiserver, etcd, the test broker and
// the manager binary as separate processes (see package test/harness).
//
// For every scenario (a kind, a count and a broker API flavour) it
// measures, on fresh control planes:
//
//   - the floor: the Kubernetes writes the operator cannot avoid (per
//     object the finalizer, the generated Secret for users, one status
//     write) and one broker write per object, each issued directly at the
//     manager's concurrency with no client-side throttling; the floor is
//     the larger of the two;
//   - cold: time to all Ready when the manager starts with the objects
//     already created, with the writes and broker calls it made;
//   - restart: a restart with everything in sync: broker writes and status
//     writes (both should be 0) and the time to re-verify every object;
//   - steady: broker calls and Kubernetes writes per resync interval;
//   - wipe: time until the broker holds everything again after it lost
//     its data;
//   - running: time to all Ready when the objects are created while the
//     manager runs;
//
// with the manager's peak RSS and CPU time, the API server's and etcd's CPU
// time, and the machine's load. It prints the tables, writes them with the
// machine's description to docs/benchmarks.md, and keeps the raw results,
// the logs and the pprof profiles in the output directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// defaultScenarios is the matrix of issue 9: 1k and 10k users, 10k ACLs
// and 10k bans on both APIs, 30k users for the growth table, and 10k of
// each kind under one manager for its memory.
const defaultScenarios = "users:1000,10000:v4,v5 acls:10000:v4,v5 bans:10000:v4,v5 users:30000:v4 mixed:10000:v4"

// allPhases in the order they run.
var allPhases = []string{"floor", "cold", "restart", "steady", "wipe", "running"}

// config is a run's command line.
type config struct {
	managerBin, brokerBin string
	managerArgs           []string
	managerEnv            []string
	scenarios             []scenarioSpec
	phases                map[string]bool
	resync                time.Duration
	steadyIntervals       int
	// floorConcurrency: 0 stands for the manager's own concurrency.
	floorConcurrency  []int
	createConcurrency int
	profile           string
	profileSeconds    int
	outDir, docs      string
	phaseTimeout      time.Duration
	// from lists results files to render instead of running.
	from []string
}

// scenarioSpec is one kind (or all of them), a count and an API flavour.
type scenarioSpec struct {
	// name is a kind's name, or "mixed" for every kind at once.
	name  string
	kinds []*kind
	// n is the number of objects of each kind.
	n   int
	api string
}

func (s scenarioSpec) key() string { return fmt.Sprintf("%s:%d:%s", s.name, s.n, s.api) }

// total is the number of objects of every kind.
func (s scenarioSpec) total() int { return s.n * len(s.kinds) }

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var rep *report
	if len(cfg.from) > 0 {
		rep, err = render(cfg, os.Stdout)
	} else {
		rep, err = run(ctx, cfg, os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	for _, r := range rep.Scenarios {
		if len(r.Errors) > 0 && len(cfg.from) == 0 {
			os.Exit(1) // a scenario of this run failed
		}
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	c := &config{}
	var scenarios, phases, managerArgs, managerEnv, floorConc, from string
	fs.StringVar(&c.managerBin, "manager", "bin/manager", "Manager binary under test (any build: the bench drives it by its flags).")
	fs.StringVar(&c.brokerBin, "testbroker", "bin/testbroker", "Test broker binary.")
	fs.StringVar(&managerArgs, "manager-args", "", "Extra manager flags, space-separated (e.g. \"--kube-api-qps=200 --max-concurrent-reconciles=8\").")
	fs.StringVar(&managerEnv, "manager-env", "", "Environment of the manager only, space-separated KEY=VALUE (e.g. \"GOMEMLIMIT=241591910\", the soft limit a 256Mi container gives it).")
	fs.StringVar(&scenarios, "scenarios", defaultScenarios, "Space-separated KIND:COUNTS:APIS, e.g. \"users:1000,10000:v4,v5 acls:10000:v4\"; kinds users, acls, bans, and mixed (COUNT of each under one manager).")
	fs.StringVar(&phases, "phases", strings.Join(allPhases, ","), "Phases to run: "+strings.Join(allPhases, ",")+" (restart, steady and wipe follow cold).")
	fs.DurationVar(&c.resync, "resync-interval", 30*time.Second, "The manager's --resync-interval: the steady-state window and the wipe recovery depend on it.")
	fs.IntVar(&c.steadyIntervals, "steady-intervals", 2, "Resync intervals the steady state is observed for.")
	fs.StringVar(&floorConc, "floor-concurrency", "0,16", "Concurrencies the floor is measured at; 0 is the manager's --max-concurrent-reconciles.")
	fs.IntVar(&c.createConcurrency, "create-concurrency", 16, "Concurrent creates when the bench creates the objects.")
	fs.StringVar(&c.profile, "profile", "users:10000:v4", "Scenario whose cold start is profiled (CPU, heap, goroutines); empty for none.")
	fs.IntVar(&c.profileSeconds, "profile-seconds", 60, "Length of the CPU profile.")
	fs.StringVar(&c.outDir, "out", ".bench", "Directory for results.json, logs and profiles.")
	fs.StringVar(&c.docs, "docs", "docs/benchmarks.md", "Markdown file written from the results; empty to skip.")
	fs.DurationVar(&c.phaseTimeout, "phase-timeout", 0, "Longest wait for one phase; 0 is 5m plus 100ms per object.")
	fs.StringVar(&from, "from", "", "Instead of running, render the tables and --docs from these results.json files (comma-separated, "+
		"same settings; a later file's scenario replaces an earlier one's).")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if from != "" {
		c.from = strings.Split(from, ",")
		return c, nil
	}
	var err error
	if c.scenarios, err = parseScenarios(scenarios); err != nil {
		return nil, err
	}
	if c.phases, err = parsePhases(phases); err != nil {
		return nil, err
	}
	if c.floorConcurrency, err = parseInts(floorConc, 0); err != nil {
		return nil, fmt.Errorf("--floor-concurrency: %w", err)
	}
	c.managerArgs = strings.Fields(managerArgs)
	c.managerEnv = strings.Fields(managerEnv)
	for _, e := range c.managerEnv {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return nil, fmt.Errorf("--manager-env: %q is not KEY=VALUE", e)
		}
	}
	for _, a := range c.managerArgs {
		if strings.HasPrefix(strings.TrimLeft(a, "-"), "resync-interval") {
			return nil, fmt.Errorf("set the resync interval with the bench's --resync-interval, not in --manager-args")
		}
	}
	if c.resync <= 0 || c.steadyIntervals < 1 || c.createConcurrency < 1 || c.profileSeconds < 1 {
		return nil, fmt.Errorf("--resync-interval, --steady-intervals, --create-concurrency and --profile-seconds must be positive")
	}
	if c.profile != "" {
		found := false
		for _, s := range c.scenarios {
			found = found || s.key() == c.profile
		}
		if !found {
			return nil, fmt.Errorf("--profile %q is not one of the scenarios", c.profile)
		}
	}
	return c, nil
}

func parseScenarios(spec string) ([]scenarioSpec, error) {
	var out []scenarioSpec
	seen := map[string]bool{}
	for _, entry := range strings.Fields(spec) {
		parts := strings.Split(entry, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("scenario %q: want KIND:COUNTS:APIS, e.g. users:1000:v4", entry)
		}
		var ks []*kind
		if parts[0] == "mixed" {
			for _, name := range kindOrder {
				ks = append(ks, kinds[name])
			}
		} else if k, ok := kinds[parts[0]]; ok {
			ks = []*kind{k}
		} else {
			return nil, fmt.Errorf("scenario %q: kind %q is not users, acls, bans or mixed", entry, parts[0])
		}
		counts, err := parseInts(parts[1], 1)
		if err != nil {
			return nil, fmt.Errorf("scenario %q: %w", entry, err)
		}
		for _, n := range counts {
			for _, api := range strings.Split(parts[2], ",") {
				if api != "v4" && api != "v5" {
					return nil, fmt.Errorf("scenario %q: API %q is not v4 or v5", entry, api)
				}
				s := scenarioSpec{name: parts[0], kinds: ks, n: n, api: api}
				if !seen[s.key()] {
					seen[s.key()] = true
					out = append(out, s)
				}
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenarios")
	}
	return out, nil
}

func parsePhases(spec string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range strings.Split(spec, ",") {
		known := false
		for _, q := range allPhases {
			known = known || p == q
		}
		if !known {
			return nil, fmt.Errorf("unknown phase %q (have %s)", p, strings.Join(allPhases, ","))
		}
		out[p] = true
	}
	for _, p := range []string{"restart", "steady", "wipe"} {
		if out[p] && !out["cold"] {
			return nil, fmt.Errorf("phase %s runs after cold; add cold", p)
		}
	}
	return out, nil
}

func parseInts(spec string, least int) ([]int, error) {
	var out []int
	for _, s := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < least {
			return nil, fmt.Errorf("%q is not a whole number of at least %d", s, least)
		}
		out = append(out, n)
	}
	return out, nil
}
