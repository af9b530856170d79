package gateway

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Refusals of unauthenticated and rate-limited calls are what a flood is made of: logged one by
// one at info they turn a flood of requests into a flood of log. They are logged at debug, and
// counted, and the counts are logged at info once a period (refusalSummaryEvery) when there were
// any.
const (
	// refusalSummaryEvery is the period of the refusals' summary.
	refusalSummaryEvery = time.Minute
	// refusalTop is how many (reason, address) pairs a summary names, the most frequent first.
	refusalTop = 10
	// refusalKeys bounds the (reason, address) pairs counted in a period; refusals of further
	// pairs count in the totals only, so that a flood from many addresses cannot grow the map.
	refusalKeys = 10000
)

// Reasons a refusal is counted under in the summary.
const (
	refusedUnauthenticated = "UNAUTHENTICATED"
	refusedRateLimited     = "RATE_LIMITED"
)

type refusalKey struct{ reason, addr string }

// refusals counts the refused calls of the current period.
type refusals struct {
	log *slog.Logger

	mu       sync.Mutex
	byReason map[string]int
	byKey    map[refusalKey]int
	since    time.Time
}

func newRefusals(log *slog.Logger, now time.Time) *refusals {
	return &refusals{log: log, byReason: map[string]int{}, byKey: map[refusalKey]int{}, since: now}
}

// add counts a refusal for reason of a call from addr.
func (r *refusals) add(reason, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byReason[reason]++
	k := refusalKey{reason, addr}
	if _, ok := r.byKey[k]; ok || len(r.byKey) < refusalKeys {
		r.byKey[k]++
	}
}

// flush logs the period's summary, if anything was refused, and starts a new period at now.
func (r *refusals) flush(ctx context.Context, now time.Time) {
	r.mu.Lock()
	byReason, byKey, since := r.byReason, r.byKey, r.since
	r.byReason, r.byKey, r.since = map[string]int{}, map[refusalKey]int{}, now
	r.mu.Unlock()
	if len(byReason) == 0 {
		return
	}
	total := 0
	reasons := make([]any, 0, len(byReason))
	for _, reason := range slices.Sorted(maps.Keys(byReason)) {
		total += byReason[reason]
		reasons = append(reasons, slog.Int(reason, byReason[reason]))
	}
	top := make([]refusalCount, 0, len(byKey))
	for k, n := range byKey {
		top = append(top, refusalCount{Reason: k.reason, Address: k.addr, Count: n})
	}
	slices.SortFunc(top, func(a, b refusalCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Address, b.Address), cmp.Compare(a.Reason, b.Reason))
	})
	r.log.LogAttrs(ctx, slog.LevelInfo, "refused calls",
		slog.Time("since", since), slog.Duration("period", now.Sub(since)), slog.Int("total", total),
		slog.Group("by_reason", reasons...), slog.Int("pairs", len(byKey)),
		slog.Any("top", top[:min(len(top), refusalTop)]))
}

// refusalCount is one line of the "top" list of the refusals' summary: how many calls from an
// address were refused for a reason in the period.
type refusalCount struct {
	Reason  string `json:"reason"`
	Address string `json:"address"`
	Count   int    `json:"count"`
}

// run logs a summary at every tick until ctx ends, and a last one then.
func (r *refusals) run(ctx context.Context, ticks <-chan time.Time) {
	for {
		select {
		case now := <-ticks:
			r.flush(ctx, now)
		case <-ctx.Done():
			r.flush(context.WithoutCancel(ctx), time.Now())
			return
		}
	}
}
