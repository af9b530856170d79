package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/procstat"
)

// rss reads the resident set of a process from /proc (Linux), in bytes.
func rss(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", v, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// rssSampler samples a process's resident set every interval until stopped.
type rssSampler struct {
	stopc chan struct{}
	done  chan struct{}
	mu    sync.Mutex
	max   int64
	sum   int64
	n     int64
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if v, err := rss(pid); err == nil {
				s.mu.Lock()
				s.sum += v
				s.n++
				if v > s.max {
					s.max = v
				}
				s.mu.Unlock()
			}
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends sampling and returns the mean and the peak.
func (s *rssSampler) stop() (mean, peak int64) {
	close(s.stopc)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return 0, 0
	}
	return s.sum / s.n, s.max
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// profileCPU fetches a CPU profile of the process serving Go profiling at addr, for d, into file.
func profileCPU(ctx context.Context, addr string, d time.Duration, file string) error {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("CPU profile from %s: %w", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("CPU profile from %s: HTTP %d", addr, resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pprofTop renders the top of a profile with `go tool pprof`, sorted by cumulative time.
func pprofTop(ctx context.Context, bin, file string, nodes int) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount="+strconv.Itoa(nodes), bin, file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w: %s", err, out)
	}
	return string(out), nil
}

// machine describes where the run happened, for the report.
func machine(ctx context.Context, dsn, natsServer string) []string {
	var out []string
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				out = append(out, "CPU: "+strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":")))
				break
			}
		}
	}
	out = append(out, fmt.Sprintf("cores: %d (GOMAXPROCS of the harness: %d)", runtime.NumCPU(), runtime.GOMAXPROCS(0)))
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if l, _, ok := strings.Cut(string(b), "\n"); ok {
			out = append(out, "memory: "+strings.Join(strings.Fields(strings.TrimPrefix(l, "MemTotal:")), " "))
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		out = append(out, "load average at start: "+strings.Join(strings.Fields(string(b))[:3], " "))
	}
	out = append(out, "Go: "+runtime.Version())
	if dsn != "" {
		if conn, err := pgx.Connect(ctx, dsn); err == nil {
			var v string
			if conn.QueryRow(ctx, "SHOW server_version").Scan(&v) == nil {
				var sc string
				_ = conn.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc)
				out = append(out, fmt.Sprintf("PostgreSQL: %s (synchronous_commit=%s)", v, sc))
			}
			conn.Close(ctx)
		}
	}
	if natsServer != "" {
		if b, err := exec.CommandContext(ctx, natsServer, "--version").Output(); err == nil {
			out = append(out, "NATS server (distributed): "+strings.TrimSpace(string(b))+", `sync_interval: always`")
		}
	}
	return out
}

// absBin resolves a binary folder against the working directory.
func absBin(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}

// pidsNamed returns the processes whose command name is name (e.g. every PostgreSQL backend).
func pidsNamed(name string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(b)) == name {
			out = append(out, pid)
		}
	}
	return out
}

// cpuGroups names the processes whose CPU a measurement accounts for: the harness, each process
// the run started, and the PostgreSQL server's processes.
func cpuGroups(p *platform) map[string][]int {
	g := map[string][]int{"load harness": {os.Getpid()}}
	for _, c := range p.children {
		if pid := c.Pid(); pid > 0 {
			g[c.Name] = append(g[c.Name], pid)
		}
	}
	if p.setup == "distributed" {
		g["postgres"] = pidsNamed("postgres")
	}
	return g
}

// cpuUse is CPU time per group between two snapshots.
type cpuUse struct {
	group string
	cpu   time.Duration
}

// cpuSnapshot reads every group's CPU time; processes that have gone are skipped, and a
// PostgreSQL backend that starts between two snapshots counts from zero.
func cpuSnapshot(groups map[string][]int) map[string]map[int]time.Duration {
	out := map[string]map[int]time.Duration{}
	for g, pids := range groups {
		out[g] = map[int]time.Duration{}
		for _, pid := range pids {
			if d, err := procstat.CPU(pid); err == nil {
				out[g][pid] = d
			}
		}
	}
	return out
}

// cpuSince returns each group's CPU time from before to now, largest first.
func cpuSince(groups map[string][]int, before map[string]map[int]time.Duration) []cpuUse {
	if pg, ok := groups["postgres"]; ok {
		groups["postgres"] = append(pg[:0:0], pidsNamed("postgres")...) // backends opened meanwhile
	}
	after := cpuSnapshot(groups)
	var out []cpuUse
	for g, pids := range after {
		var sum time.Duration
		for pid, d := range pids {
			sum += d - before[g][pid]
		}
		out = append(out, cpuUse{g, sum})
	}
	slices.SortFunc(out, func(a, b cpuUse) int { return int(b.cpu - a.cpu) })
	return out
}
