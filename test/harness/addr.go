package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// errCleanExit stands for the exit of a process that was expected to keep
// running but ended with status 0.
var errCleanExit = errors.New("exit status 0")

// FreeAddr returns a loopback address with a port nothing listens on now.
// Another process can take the port before it is used (test packages run
// in parallel, and outgoing connections take ports from the same range):
// Manager.Start checks that the manager itself listens there.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// CheckFree fails when something already listens on one of the addresses.
func CheckFree(addrs ...string) error {
	for _, addr := range addrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s is in use; stop whatever listens there: %w", addr, err)
		}
		_ = l.Close()
	}
	return nil
}

// waitHTTP polls url until it answers 200, the process ends, or timeout.
func waitHTTP(ctx context.Context, url string, p *Process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		last = err
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited (see %s): %w", p.name, p.logPath, cmp.Or(p.ExitErr(), errCleanExit))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (see %s): %w", p.name, timeout, p.logPath, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startOnOwnPorts runs start, which kills the process when it fails. When
// the failure was a port taken by another process between the pick and
// the bind (its log says so) and the harness picked the ports (auto),
// pick chooses new ones and start runs again; three tries in all.
func startOnOwnPorts(p *Process, auto bool, pick, start func() error) error {
	for try := 1; ; try++ {
		err := start()
		if err == nil || !auto || try == 3 || !strings.Contains(p.LogTail(20), "address already in use") {
			return err
		}
		if err := pick(); err != nil {
			return err
		}
	}
}

// waitListening waits until p itself listens on the port of each address
// ("" and "0" are skipped): an answer on a port proves only that some
// process listens there.
func waitListening(ctx context.Context, p *Process, timeout time.Duration, addrs ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		missing := ""
		for _, a := range addrs {
			if a == "" || a == "0" {
				continue
			}
			ok, err := listening(p.Pid(), a)
			if err != nil {
				return err
			}
			if !ok {
				missing = a
				break
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited before listening on %s (see %s): %w", p.name, missing, p.logPath, cmp.Or(p.ExitErr(), errCleanExit))
		case <-ctx.Done():
			return fmt.Errorf("%s does not listen on %s after %s (another process does?) (see %s)", p.name, missing, timeout, p.logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// listening reports whether process pid holds a listening TCP socket on
// addr's port, from /proc/net/tcp{,6} and the process's descriptors.
func listening(pid int, addr string) (bool, error) {
	_, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("address %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return false, fmt.Errorf("address %q: %w", addr, err)
	}
	inodes := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" {
				continue
			}
			i := strings.LastIndexByte(f[1], ':')
			if p, err := strconv.ParseUint(f[1][i+1:], 16, 16); err == nil && p == port {
				inodes["socket:["+f[9]+"]"] = true
			}
		}
	}
	if len(inodes) == 0 {
		return false, nil
	}
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(fds)
	if err != nil {
		return false, nil // the process is gone; the caller sees it exit
	}
	for _, e := range entries {
		if link, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && inodes[link] {
			return true, nil
		}
	}
	return false, nil
}
