package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat; it
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// Process is a child process whose output goes to a log file. It can be
// started again with the same command line after it exits.
type Process struct {
	name    string
	bin     string
	args    []string
	env     []string
	logPath string

	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	err   error
	state *os.ProcessState
}

// NewProcess describes a child; Start runs it. env is added to the
// harness's own environment.
func NewProcess(name, bin, logPath string, env []string, args ...string) *Process {
	return &Process{name: name, bin: bin, logPath: logPath, env: env, args: args}
}

// Args is the command line the process is started with (without the binary).
func (p *Process) Args() []string { return append([]string(nil), p.args...) }

// LogPath is where the process's stdout and stderr go.
func (p *Process) LogPath() string { return p.logPath }

// Start runs the process. The first start truncates the log; later ones
// append to it after a marker line, so a restart's log follows the last.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && p.state == nil {
		return fmt.Errorf("%s is already running (pid %d)", p.name, p.cmd.Process.Pid)
	}
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if p.cmd != nil {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	logf, err := os.OpenFile(p.logPath, flags, 0o644)
	if err != nil {
		return fmt.Errorf("open %s log: %w", p.name, err)
	}
	if p.cmd != nil {
		_, _ = fmt.Fprintf(logf, "---- harness: %s restarted at %s ----\n", p.name, time.Now().Format(time.RFC3339Nano))
	}
	cmd := exec.Command(p.bin, p.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), p.env...)
	// A child must not outlive the harness when the harness is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("start %s (%s): %w", p.name, p.bin, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.err, p.state = cmd, done, nil, nil
	go func() {
		err := cmd.Wait()
		_ = logf.Close()
		p.mu.Lock()
		p.err, p.state = err, cmd.ProcessState
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// Pid is the process id of the current (or last) run, 0 before the first.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Done is closed when the current run ends.
func (p *Process) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

// Running reports whether the current run has not ended.
func (p *Process) Running() bool {
	select {
	case <-p.Done():
		return false
	default:
		return true
	}
}

// ExitErr is how the last run ended (nil for exit status 0); it is only
// meaningful once Done is closed.
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// State says in a few words whether the process runs or how it ended, for
// a test that fails while waiting on it.
func (p *Process) State() string {
	if p.Running() {
		return fmt.Sprintf("%s running (pid %d)", p.name, p.Pid())
	}
	if err := p.ExitErr(); err != nil {
		return fmt.Sprintf("%s exited: %v", p.name, err)
	}
	return p.name + " exited with status 0"
}

// LogTail is the last n lines of the process's log, for a failure message.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Kill sends SIGKILL, as a node failure or an OOM kill would, and waits
// for the process to be gone.
func (p *Process) Kill() error {
	return p.signalAndWait(syscall.SIGKILL, 0)
}

// Stop sends SIGTERM and waits up to grace for a clean exit, then kills.
func (p *Process) Stop(grace time.Duration) error {
	return p.signalAndWait(syscall.SIGTERM, grace)
}

func (p *Process) signalAndWait(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	if sig == syscall.SIGKILL {
		<-done
		return nil
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("%s did not exit within %s of SIGTERM and was killed", p.name, grace)
}

// Usage is a process's resource use.
type Usage struct {
	// RSS is the resident set size now (0 once the process has exited).
	RSS int64
	// PeakRSS is the largest resident set size of the run (VmHWM).
	PeakRSS int64
	// CPU is user plus system time of the run.
	CPU time.Duration
}

// Usage reads the current run's memory and CPU time from /proc while it
// runs, and from the kernel's rusage once it has exited.
func (p *Process) Usage() (Usage, error) {
	p.mu.Lock()
	cmd, state := p.cmd, p.state
	p.mu.Unlock()
	if cmd == nil {
		return Usage{}, fmt.Errorf("%s was never started", p.name)
	}
	if state == nil {
		u, err := procUsage(cmd.Process.Pid)
		if err == nil {
			return u, nil
		}
		// It may have exited in between; the rusage below then answers.
		select {
		case <-p.Done():
		case <-time.After(time.Second):
		}
		p.mu.Lock()
		state = p.state
		p.mu.Unlock()
		if state == nil {
			return Usage{}, err
		}
	}
	u := Usage{CPU: state.UserTime() + state.SystemTime()}
	if ru, ok := state.SysUsage().(*syscall.Rusage); ok {
		u.PeakRSS = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return u, nil
}

func procUsage(pid int) (Usage, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("read /proc status: %w", err)
	}
	var u Usage
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch key {
		case "VmRSS":
			dst = &u.RSS
		case "VmHWM":
			dst = &u.PeakRSS
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return Usage{}, fmt.Errorf("parse %s %q: %w", key, val, err)
		}
		*dst = kb * 1024
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("read /proc stat: %w", err)
	}
	cpu, err := statCPU(string(stat))
	if err != nil {
		return Usage{}, err
	}
	u.CPU = cpu
	return u, nil
}

// statCPU is utime+stime from a /proc/<pid>/stat line. The command name in
// parentheses may contain spaces, so fields are counted after the last ')'.
func statCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc stat %q", stat)
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15), so utime is the
	// 12th field after the name.
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc stat %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse /proc stat cpu %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
