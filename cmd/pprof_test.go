package main

import (
	"strings"
	"testing"
)

// The profiler is off unless asked for, and serves /debug/pprof/ where asked.
func TestManagerServesPprofWhenAsked(t *testing.T) {
	if o := bindFlags(newFlagSet()); o.pprofAddr != "" {
		t.Fatalf("--pprof-bind-address defaults to %q, want off", o.pprofAddr)
	}
	probe, pprof := freeAddr(t), freeAddr(t)
	startManager(t, testCfg, "--health-probe-bind-address", probe, "--metrics-bind-address", "0", "--pprof-bind-address", pprof)
	if body := poll(t, "http://"+pprof+"/debug/pprof/"); !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/ does not list the goroutine profile:\n%.500s", body)
	}
}
