package main

import (
	"fmt"
	"testing"
	"time"
)

var base = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

// plan returns n planned items due a second apart, fired 10 ms late with one effect each.
func plan(n int) (map[string]time.Time, []itemRow, []effectRow) {
	planned := map[string]time.Time{}
	var items []itemRow
	var effects []effectRow
	for i := range n {
		key, due := itemKey(i), base.Add(time.Duration(i)*time.Second)
		fired := due.Add(10 * time.Millisecond)
		planned[key] = due
		items = append(items, itemRow{Key: key, Due: due, Fired: fired, Attempts: 1})
		effects = append(effects, effectRow{ID: int64(i + 1), Key: key, Worker: "worker-0/1", DueUS: due.UnixMicro(),
			FiredUS: fired.UnixMicro(), HandlerUS: fired.UnixMicro() + 100, Attempt: 1})
	}
	return planned, items, effects
}

func TestCheckPasses(t *testing.T) {
	planned, items, effects := plan(100)
	for i := 50; i < len(effects); i++ { // a gap of two ids, and the rest by another worker
		effects[i].ID += 2
		effects[i].Worker = "worker-1/2"
	}
	s := &summary{Kills: []killReport{{Worker: "worker-0/1", At: base.Add(49*time.Second + 500*time.Millisecond)}}}
	check(s, planned, items, effects, true)
	if len(s.Failures) != 0 || s.Fired != 100 || s.Effects != 100 || s.RolledBack != 2 {
		t.Fatalf("failures %v, fired %d, effects %d, rolled back %d", s.Failures, s.Fired, s.Effects, s.RolledBack)
	}
	if s.LagP50 != 10*time.Millisecond || s.LagMax != 10*time.Millisecond {
		t.Errorf("lag p50 %v max %v, want 10ms", s.LagP50, s.LagMax)
	}
	if k := s.Kills[0]; k.FirstBy != "worker-1/2" || k.FirstAfter != 510*time.Millisecond+100*time.Microsecond || k.RolledBack != 2 {
		t.Errorf("takeover: first by %q after %v, %d rolled back", k.FirstBy, k.FirstAfter, k.RolledBack)
	}
	if len(s.ByWorker) != 2 || s.ByWorker[0].N != 50 || s.ByWorker[1].N != 50 {
		t.Errorf("by worker %v", s.ByWorker)
	}
}

// TestCheckFinds checks that each kind of violation is counted.
func TestCheckFinds(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(items []itemRow, effects []effectRow) ([]itemRow, []effectRow)
		got   func(s *summary) int
	}{
		{"duplicate", func(items []itemRow, effects []effectRow) ([]itemRow, []effectRow) {
			dup := effects[3]
			dup.ID = 100
			return items, append(effects, dup)
		}, func(s *summary) int { return s.Duplicates }},
		{"missing", func(items []itemRow, effects []effectRow) ([]itemRow, []effectRow) {
			return items, append(effects[:3], effects[4:]...)
		}, func(s *summary) int { return s.Missing }},
		{"early by the fire time", func(items []itemRow, effects []effectRow) ([]itemRow, []effectRow) {
			effects[5].FiredUS = items[5].Due.UnixMicro() - 1
			items[5].Fired = items[5].Due.Add(-time.Microsecond)
			return items, effects
		}, func(s *summary) int { return s.Early }},
		{"early by the handler's clock", func(items []itemRow, effects []effectRow) ([]itemRow, []effectRow) {
			effects[5].HandlerUS = items[5].Due.UnixMicro() - 1
			return items, effects
		}, func(s *summary) int { return s.Early }},
		{"out of due order", func(items []itemRow, effects []effectRow) ([]itemRow, []effectRow) {
			effects[2].ID, effects[3].ID = effects[3].ID, effects[2].ID
			effects[2], effects[3] = effects[3], effects[2]
			return items, effects
		}, func(s *summary) int { return s.OutOfOrder }},
		{"unfired", func(items []itemRow, effects []effectRow) ([]itemRow, []effectRow) {
			items[7].Fired = time.Time{}
			return items, append(effects[:7], effects[8:]...)
		}, func(s *summary) int { return s.Unfired }},
		{"wrong due time", func(items []itemRow, effects []effectRow) ([]itemRow, []effectRow) {
			effects[1].DueUS++
			return items, effects
		}, func(s *summary) int { return s.Mismatched }},
		{"orphan", func(items []itemRow, effects []effectRow) ([]itemRow, []effectRow) {
			return items, append(effects, effectRow{ID: 100, Key: "proof/x", DueUS: base.UnixMicro()})
		}, func(s *summary) int { return s.Orphans }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			planned, items, effects := plan(10)
			items, effects = tc.spoil(items, effects)
			s := &summary{}
			check(s, planned, items, effects, true)
			if tc.got(s) == 0 || len(s.Failures) == 0 {
				t.Fatalf("not found: %+v", s)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var lags []time.Duration
	for i := 1; i <= 1000; i++ {
		lags = append(lags, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		if got := percentile(lags, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 0.99); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := fmt.Sprint(percentile(lags[:1], 0.99)); got != "1ms" {
		t.Errorf("one: %v", got)
	}
}
