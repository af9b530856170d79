package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// itemRow is a row of the scheduler's table.
type itemRow struct {
	Key      string
	Due      time.Time
	Fired    time.Time // zero when it has not fired
	Failed   bool      // the worker gave up on it
	Attempts int
}

// effectRow is a row the handler wrote: one per firing that committed.
type effectRow struct {
	ID                        int64
	Key, Worker               string
	DueUS, FiredUS, HandlerUS int64 // Unix microseconds
	Attempt                   int
}

// killReport is one kill -9 of the active worker.
type killReport struct {
	Victim      string    // the worker process's name
	Worker      string    // name/pid of the instance killed, as its effects name it
	At          time.Time // just before SIGKILL
	FiredBefore int       // items fired when the process was gone
	TxOpen      string    // "yes" when it was seen in a firing transaction that had written effects just before the kill (PostgreSQL), "no", or "n/a"
	RolledBack  int       // effect rows its last, uncommitted transaction had written (PostgreSQL; -1: not known)
	LeaseTo     string    // the worker that took the lease over (PostgreSQL)
	LeaseAfter  time.Duration
	// FirstBy fired the first item after the kill, FirstAfter after it.
	FirstBy    string
	FirstAfter time.Duration
}

type workerCount struct {
	Worker string
	N      int
}

// summary is what a run found. Failures lists each violated check with a few examples.
type summary struct {
	Engine                 string
	Workers                int
	PollInterval           time.Duration
	BatchSize              int
	Items                  int
	Window, Lead           time.Duration
	Scheduled, ScheduleTxs int
	ScheduleTook           time.Duration
	Kills                  []killReport
	Fired                  int // items marked fired
	Unfired, FailedItems   int
	Effects                int // effect rows
	ByWorker               []workerCount
	Missing                int // items without an effect
	Duplicates             int // effects beyond the first of an item
	Orphans                int // effects of no scheduled item
	Early                  int // items fired before their due time, by any of the times recorded
	OutOfOrder             int // effects written after an effect of a later-due item
	Mismatched             int // due or fire times that disagree between the plan, the table and the effect
	Retried                int // items that took more than one attempt (a handler error)
	RolledBack             int // effect rows of transactions that did not commit (PostgreSQL; -1: not known)
	LagP50, LagP99, LagMax time.Duration
	Elapsed                time.Duration
	Dir                    string
	Failures               []string
	Err                    string // what ended the run, when it failed
	failureCount           map[string]int
}

// fail records a violated check; each kind (the format) is listed at most five times.
func (s *summary) fail(format string, args ...any) {
	if s.failureCount == nil {
		s.failureCount = map[string]int{}
	}
	s.failureCount[format]++
	if s.failureCount[format] <= 5 {
		s.Failures = append(s.Failures, fmt.Sprintf(format, args...))
	}
}

// check compares the planned due times, the scheduler's table and the handler's effects (in
// the order of their ids), and fills s. identityGaps says that effect ids come from a sequence
// that a rolled-back insert consumes (PostgreSQL), so that the gaps count the rolled-back rows.
func check(s *summary, planned map[string]time.Time, items []itemRow, effects []effectRow, identityGaps bool) {
	byKey := make(map[string][]effectRow, len(effects))
	for _, ef := range effects {
		byKey[ef.Key] = append(byKey[ef.Key], ef)
	}
	s.Effects = len(effects)
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		want, ok := planned[it.Key]
		if !ok {
			s.fail("item %s is in the table but was not scheduled", it.Key)
			continue
		}
		seen[it.Key] = true
		if !it.Due.Equal(want) {
			s.Mismatched++
			s.fail("item %s: due %v in the table, scheduled for %v", it.Key, it.Due, want)
		}
		switch {
		case it.Failed:
			s.FailedItems++
			s.fail("item %s: the worker gave up on it after %d attempts", it.Key, it.Attempts)
		case it.Fired.IsZero():
			s.Unfired++
			s.fail("item %s has not fired", it.Key)
		default:
			s.Fired++
		}
		if it.Attempts > 1 {
			s.Retried++
		}
		early := !it.Fired.IsZero() && it.Fired.Before(want)
		efs := byKey[it.Key]
		switch {
		case len(efs) == 0 && !it.Fired.IsZero():
			s.Missing++
			s.fail("item %s is marked fired but has no effect", it.Key)
		case len(efs) == 0:
			s.Missing++
		case len(efs) > 1:
			s.Duplicates += len(efs) - 1
			s.fail("item %s fired %d times: %s", it.Key, len(efs), describe(efs))
		}
		for _, ef := range efs {
			if ef.FiredUS < want.UnixMicro() || ef.HandlerUS < want.UnixMicro() {
				early = true
			}
			if ef.DueUS != want.UnixMicro() {
				s.Mismatched++
				s.fail("item %s: its handler was told due %v, scheduled for %v", it.Key, time.UnixMicro(ef.DueUS).UTC(), want)
			}
		}
		if len(efs) == 1 && !it.Fired.IsZero() && efs[0].FiredUS != it.Fired.UnixMicro() {
			s.Mismatched++
			s.fail("item %s: marked fired at %v, its handler was told %v", it.Key, it.Fired, time.UnixMicro(efs[0].FiredUS).UTC())
		}
		if early {
			s.Early++
			s.fail("item %s fired early: due %v, marked fired %v, effects %s", it.Key, want, it.Fired, describe(efs))
		}
	}
	for key := range planned {
		if !seen[key] {
			s.Missing++
			s.Unfired++
			s.fail("item %s was scheduled but is not in the table", key)
		}
	}

	var lags []time.Duration
	var maxDue int64
	counts := map[string]int{}
	for _, ef := range effects {
		want, ok := planned[ef.Key]
		if !ok {
			s.Orphans++
			s.fail("effect %d names item %s, which was not scheduled", ef.ID, ef.Key)
			continue
		}
		lags = append(lags, time.Duration(ef.FiredUS-want.UnixMicro())*time.Microsecond)
		due := want.UnixMicro()
		if due < maxDue {
			s.OutOfOrder++
			s.fail("item %s (due %v) fired after an item due at %v", ef.Key, want, time.UnixMicro(maxDue).UTC())
		}
		maxDue = max(maxDue, due)
		if counts[ef.Worker] == 0 {
			s.ByWorker = append(s.ByWorker, workerCount{Worker: ef.Worker})
		}
		counts[ef.Worker]++
	}
	for i := range s.ByWorker {
		s.ByWorker[i].N = counts[s.ByWorker[i].Worker]
	}
	slices.Sort(lags)
	s.LagP50, s.LagP99, s.LagMax = percentile(lags, 0.50), percentile(lags, 0.99), percentile(lags, 1)

	if identityGaps && len(effects) > 0 {
		// Ids start at 1; every id missing below the last was taken by an insert that rolled back.
		s.RolledBack = int(effects[len(effects)-1].ID) - len(effects)
	}
	for i := range s.Kills {
		k := &s.Kills[i]
		at := k.At.UnixMicro()
		k.RolledBack = -1
		last := -1 // the killed worker's last effect
		for j, ef := range effects {
			if ef.Worker == k.Worker {
				last = j
			}
		}
		if identityGaps && last >= 0 && last+1 < len(effects) {
			k.RolledBack = int(effects[last+1].ID - effects[last].ID - 1)
		}
		for _, ef := range effects {
			if ef.HandlerUS >= at && ef.Worker != k.Worker {
				k.FirstBy, k.FirstAfter = ef.Worker, time.Duration(ef.HandlerUS-at)*time.Microsecond
				break
			}
		}
		if k.FirstBy == "" {
			s.fail("kill %d: no other worker fired an item after it", i+1)
		}
	}
}

// percentile returns the nearest-rank p-quantile of sorted (0 when empty).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted)) + 0.999999)
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func describe(efs []effectRow) string {
	parts := make([]string, len(efs))
	for i, ef := range efs {
		parts[i] = fmt.Sprintf("[%d by %s fired %v handler %v attempt %d]", ef.ID, ef.Worker,
			time.UnixMicro(ef.FiredUS).UTC().Format(time.RFC3339Nano), time.UnixMicro(ef.HandlerUS).UTC().Format(time.RFC3339Nano), ef.Attempt)
	}
	return strings.Join(parts, " ")
}

// ms formats d for the summary: milliseconds below a second, seconds above.
func ms(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func (s *summary) print(w io.Writer) {
	switch s.Engine {
	case enginePostgres:
		fmt.Fprintf(w, "engine         PostgreSQL: %d worker processes (one active, holding the lease; the others standing by), poll interval %s, %d items per firing transaction\n",
			s.Workers, s.PollInterval, s.BatchSize)
	default:
		fmt.Fprintf(w, "engine         SQLite: %d worker process, killed and restarted, poll interval %s, %d items per firing transaction\n",
			s.Workers, s.PollInterval, s.BatchSize)
	}
	fmt.Fprintf(w, "scheduled      %d items due over %s from %s after the start, in %d transactions (took %s)\n",
		s.Scheduled, s.Window, s.Lead, s.ScheduleTxs, s.ScheduleTook)
	for i, k := range s.Kills {
		fmt.Fprintf(w, "kill -9 #%d     %s after %d items had fired", i+1, k.Worker, k.FiredBefore)
		if k.TxOpen != "n/a" {
			fmt.Fprintf(w, "; seen in a firing transaction: %s", k.TxOpen)
		}
		if k.RolledBack >= 0 {
			fmt.Fprintf(w, "; %d effect rows of its uncommitted transaction rolled back", k.RolledBack)
		}
		if k.LeaseTo != "" {
			fmt.Fprintf(w, "; lease taken by %s after %s", k.LeaseTo, ms(k.LeaseAfter))
		}
		if k.FirstBy != "" {
			fmt.Fprintf(w, "; next item fired by %s %s after the kill", k.FirstBy, ms(k.FirstAfter))
		}
		fmt.Fprintln(w)
	}
	by := make([]string, len(s.ByWorker))
	for i, c := range s.ByWorker {
		by[i] = fmt.Sprintf("%s %d", c.Worker, c.N)
	}
	fmt.Fprintf(w, "fired          %d of %d items (by worker/pid: %s)\n", s.Fired, s.Items, strings.Join(by, ", "))
	fmt.Fprintf(w, "effects        %d rows\n", s.Effects)
	fmt.Fprintf(w, "missing        %d\n", s.Missing)
	fmt.Fprintf(w, "duplicates     %d\n", s.Duplicates)
	fmt.Fprintf(w, "early          %d\n", s.Early)
	fmt.Fprintf(w, "out of order   %d\n", s.OutOfOrder)
	fmt.Fprintf(w, "mismatched     %d\n", s.Mismatched)
	fmt.Fprintf(w, "unfired        %d (given up %d, retried %d)\n", s.Unfired, s.FailedItems, s.Retried)
	if s.RolledBack >= 0 {
		fmt.Fprintf(w, "rolled back    %d effect rows in all, written by firing transactions that never committed\n", s.RolledBack)
	}
	fmt.Fprintf(w, "lag            p50 %s, p99 %s, max %s (fire time − due time)\n", ms(s.LagP50), ms(s.LagP99), ms(s.LagMax))
	fmt.Fprintf(w, "elapsed        %s\n", s.Elapsed)
	if s.Dir != "" {
		fmt.Fprintf(w, "work directory %s (worker logs)\n", s.Dir)
	}
	for _, f := range s.Failures {
		fmt.Fprintf(w, "FAIL: %s\n", f)
	}
	for format, n := range s.failureCount {
		if n > 5 {
			fmt.Fprintf(w, "FAIL: … %d in all of: %s\n", n, format)
		}
	}
	if s.Err != "" && len(s.Failures) == 0 {
		fmt.Fprintf(w, "FAIL: %s\n", s.Err)
	}
	if s.Err == "" && len(s.Failures) == 0 {
		fmt.Fprintln(w, "PASS: every item fired exactly once, none before its due time, in due order")
	}
}
