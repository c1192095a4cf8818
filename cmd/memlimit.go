package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of the container's memory limit the Go
// runtime aims to stay under; the rest is for what it does not count
// (stacks of exited goroutines returned late, the binary, page tables).
const memoryLimitShare = 0.9

// cgroupMemoryFiles hold the container's memory limit: cgroup v2, then v1.
var cgroupMemoryFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// setMemoryLimit gives the Go runtime a soft memory limit under the
// container's, unless GOMEMLIMIT sets one. Without it the heap may grow to
// twice what is live before a collection (GOGC=100), and a manager holding
// 30,000 objects crosses a 256 MiB limit in a burst (a restart lists every
// kind at once) although what it keeps is half that: the kernel kills it.
// With it the collector runs more often as the limit nears. It returns the
// limit set, 0 for none.
func setMemoryLimit(read func(string) ([]byte, error)) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	for _, f := range cgroupMemoryFiles {
		data, err := read(f)
		if err != nil {
			continue
		}
		limit, ok := parseCgroupLimit(string(data))
		if !ok {
			return 0
		}
		soft := int64(float64(limit) * memoryLimitShare)
		debug.SetMemoryLimit(soft)
		return soft
	}
	return 0
}

// parseCgroupLimit reads a cgroup memory limit: a byte count, or "max" (v2)
// or a value near the largest int64 (v1) for none.
func parseCgroupLimit(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0, false
	}
	return n, true
}
