// Package proc starts, signals and stops the child processes of the test programs (the fault proof
// and the load harness): servers and services they own for the length of a run.
package proc

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// FreePort returns a loopback port that is free now and that no outgoing connection can take
// before a child binds it: a random port below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), from which every connect and every listen on port 0 draws.
// A port the kernel hands out for :0 is released at once, so the harness's own connections (to
// PostgreSQL, NATS and the platform, thousands in a run) could take it before the child binds it;
// runs failed that way ("bind: address already in use"). A port is not returned twice in one
// process. Where the range cannot be read, or nothing below it is free, the kernel chooses.
func FreePort() (int, error) {
	low := ephemeralLow()
	freeMu.Lock()
	defer freeMu.Unlock()
	for range 64 {
		if low <= firstListenPort {
			break
		}
		port := firstListenPort + rand.IntN(low-firstListenPort)
		if handedOut[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = l.Close()
		handedOut[port] = true
		return port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	handedOut[port] = true
	return port, nil
}

// firstListenPort is the lowest port FreePort picks: above the well-known and most registered
// servers' ports.
const firstListenPort = 20000

var (
	freeMu    sync.Mutex
	handedOut = map[int]bool{}
)

// ephemeralLow is the first port of the kernel's ephemeral range, or 0 when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return low
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
