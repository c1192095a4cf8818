package harness

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Usage of the control plane's processes, found by their command lines:
// the kube-apiserver serving this control plane's port and the etcd it
// uses. envtest keeps their process handles to itself.
func (c *ControlPlane) Usage() (apiserver, etcd Usage, err error) {
	u, err := url.Parse(c.Config.Host)
	if err != nil {
		return Usage{}, Usage{}, fmt.Errorf("api server address %q: %w", c.Config.Host, err)
	}
	procs, err := commandLines()
	if err != nil {
		return Usage{}, Usage{}, err
	}
	apiPid, etcdURL := 0, ""
	for pid, args := range procs {
		if filepath.Base(args[0]) == "kube-apiserver" && argValue(args, "secure-port") == u.Port() {
			apiPid, etcdURL = pid, argValue(args, "etcd-servers")
		}
	}
	if apiPid == 0 {
		return Usage{}, Usage{}, fmt.Errorf("no kube-apiserver process serves port %s", u.Port())
	}
	etcdPid := 0
	for pid, args := range procs {
		if filepath.Base(args[0]) == "etcd" && argValue(args, "listen-client-urls") == etcdURL {
			etcdPid = pid
		}
	}
	if etcdPid == 0 {
		return Usage{}, Usage{}, fmt.Errorf("no etcd process listens on %s", etcdURL)
	}
	if apiserver, err = procUsage(apiPid); err != nil {
		return Usage{}, Usage{}, err
	}
	if etcd, err = procUsage(etcdPid); err != nil {
		return Usage{}, Usage{}, err
	}
	return apiserver, etcd, nil
}

// commandLines maps every visible process to its argv.
func commandLines() (map[int][]string, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := map[int][]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue // gone, or a kernel thread
		}
		out[pid] = strings.Split(string(bytes.TrimRight(raw, "\x00")), "\x00")
	}
	return out, nil
}

// argValue finds --name=value or --name value in args.
func argValue(args []string, name string) string {
	for i, a := range args {
		a = strings.TrimLeft(a, "-")
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// MachineCPU is the machine's CPU time since boot from /proc/stat: busy
// (everything but idle and iowait) and total, summed over all cores. The
// difference of two readings gives the machine's load during a run.
func MachineCPU() (busy, total time.Duration, err error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("unexpected /proc/stat line %q", line)
	}
	var idle int64
	for i, s := range f[1:] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("parse /proc/stat %q: %w", s, err)
		}
		total += time.Duration(n) * time.Second / clockTicks
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return total - time.Duration(idle)*time.Second/clockTicks, total, nil
}
