package harness

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// errCleanExit stands for the exit of a process that was expected to keep
// running but ended with status 0.
var errCleanExit = errors.New("exit status 0")

// FreeAddr returns a loopback address with a port nothing listens on now.
// Another process could take the port before it is used; on loopback in a
// test that is rare enough.
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
