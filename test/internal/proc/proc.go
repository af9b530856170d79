// Package proc starts, signals and stops the child processes of the test programs (the fault proof
// and the load harness): servers and services they own for the length of a run.
package proc

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// FreePort asks the kernel for a free loopback port. Another process could take it before the
// child binds it; on this scale that race has not shown up, and a failed start is reported.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// User is a numeric user and group to run a child as.
type User struct{ UID, GID uint32 }

// Child is a process the program owns: it starts it, kills it with SIGKILL and restarts it with
// the same command line, so its ports and its data stay the same across restarts.
type Child struct {
	Name string
	Bin  string
	Args []string
	Env  []string
	Log  string // file that collects the process's output across restarts
	// StopSignal is the signal Stop sends first (SIGTERM when zero): PostgreSQL's fast shutdown
	// is SIGINT, as SIGTERM waits for every client to disconnect.
	StopSignal syscall.Signal
	// RunAs, when set, runs the process as that user and group (PostgreSQL refuses to run as root).
	RunAs *User

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (c *Child) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return fmt.Errorf("%s is already running", c.Name)
	}
	out, err := os.OpenFile(c.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("%s log: %w", c.Name, err)
	}
	cmd := exec.Command(c.Bin, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdout, cmd.Stderr = out, out
	orphanProof(cmd, c.RunAs)
	if err := cmd.Start(); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", c.Name, err)
	}
	done := make(chan struct{})
	go func() { // owned by the child: ends when the process does
		_ = cmd.Wait()
		out.Close()
		close(done)
	}()
	c.cmd, c.done = cmd, done
	return nil
}

// Running reports whether the process is alive.
func (c *Child) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL (no chance to flush, drain or unlock anything) and waits for the process to
// be gone.
func (c *Child) Kill() {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Signal sends sig to the running process (SIGSTOP and SIGCONT pause and resume it).
func (c *Child) Signal(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return fmt.Errorf("%s is not running", c.Name)
	}
	return c.cmd.Process.Signal(sig)
}

// Stop asks the process to stop (StopSignal, SIGTERM by default) and kills it after timeout.
func (c *Child) Stop(timeout time.Duration) {
	c.mu.Lock()
	cmd, done := c.cmd, c.done
	c.cmd = nil
	c.mu.Unlock()
	if cmd == nil {
		return
	}
	sig := c.StopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
	}
}

// Pid returns the process ID of the running process, or 0 when it is not running.
func (c *Child) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return 0
	}
	return c.cmd.Process.Pid
}
