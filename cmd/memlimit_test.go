package main

import (
	"errors"
	"runtime/debug"
	"testing"
)

func TestParseCgroupLimit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"268435456\n", 268435456, true},
		{"max\n", 0, false},
		{"9223372036854771712\n", 0, false}, // v1 without a limit
		{"", 0, false},
		{"-1", 0, false},
	} {
		got, ok := parseCgroupLimit(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseCgroupLimit(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// The runtime's soft limit is the container's less a tenth or 48 MiB,
// whichever is more (and at least half), read from cgroup v2 or else v1;
// GOMEMLIMIT, when set, wins; no limit sets none.
func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if v, ok := m[name]; ok {
				return []byte(v), nil
			}
			return nil, errors.New("no such file")
		}
	}
	t.Setenv("GOMEMLIMIT", "")
	if got := setMemoryLimit(files(map[string]string{"/sys/fs/cgroup/memory.max": "268435456\n"})); got != 218103808 {
		t.Errorf("cgroup v2 256Mi: limit %d, want 218103808 (208Mi)", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 218103808 {
		t.Errorf("runtime limit %d after setMemoryLimit", got)
	}
	if got := setMemoryLimit(files(map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "1073741824"})); got != 966367642 {
		t.Errorf("cgroup v1 1Gi: limit %d, want 966367642", got)
	}
	if got := setMemoryLimit(files(map[string]string{"/sys/fs/cgroup/memory.max": "67108864"})); got != 33554432 {
		t.Errorf("cgroup v2 64Mi: limit %d, want half of it, 33554432", got)
	}
	if got := setMemoryLimit(files(map[string]string{"/sys/fs/cgroup/memory.max": "max"})); got != 0 {
		t.Errorf("no limit: set %d", got)
	}
	t.Setenv("GOMEMLIMIT", "100MiB")
	if got := setMemoryLimit(files(map[string]string{"/sys/fs/cgroup/memory.max": "268435456"})); got != 0 {
		t.Errorf("with GOMEMLIMIT set: set %d", got)
	}
}
