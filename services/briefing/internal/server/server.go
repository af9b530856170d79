// Package server implements the briefing service's gRPC API on the read model.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	briefingv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/briefing/v1"
	"github.com/quarterdeck/quarterdeck/services/briefing/internal/model"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// ErrNotConsuming refuses a rebuild while the consumers are not running (the service is starting
// or stopping).
var ErrNotConsuming = fault.New(fault.Unavailable, "CONSUMERS_NOT_RUNNING",
	"the briefing's consumers are not running; try again in a moment")

// Server implements briefingv1.BriefingServiceServer.
type Server struct {
	briefingv1.UnimplementedBriefingServiceServer

	db      *sqldb.DB
	cons    *consumer.Runtime
	bg      *host.Background // runs the checks behind the reads
	domains []string         // the domains whose streams the model is built from, one consumer each
	prefix  string
	now     func() time.Time

	// MaxStale bounds how far behind the model a read may be answered: a read gets the briefing
	// kept if it was computed or found current less than MaxStale ago, without reading the model,
	// and one check of the model (and computation of its new state, if it moved) starts behind
	// it, so that reads wait neither for the model nor for its database. Zero checks the model
	// before every answer. DefaultMaxStale unless changed before the server serves.
	MaxStale time.Duration

	// The briefing last computed, and whether a computation runs behind the reads.
	mu         sync.Mutex
	cached     *computed
	refreshing bool
}

// DefaultMaxStale is a server's MaxStale: a second behind is nothing to a reader of the briefing,
// and the freshness says exactly which events the answer includes.
const DefaultMaxStale = time.Second

// refreshTimeout bounds a computation behind the reads.
const refreshTimeout = 30 * time.Second

// computed is a briefing in both views and the state of the model and the day it was computed
// for.
type computed struct {
	views map[briefingv1.BriefingView]*briefingv1.Briefing // FULL and BASIC
	key   string
	day   civil.Date
	at    time.Time // when its computation started (the process's clock, monotonic)
	// checked is when the model was last found in the state it was computed from (guarded by mu).
	checked time.Time
}

// New returns a server on the model in db, built by the consumers of cons (one per domain in
// domains, named after it) from the streams under the subject prefix. cons may be nil in tests of
// the computation alone. The checks of the model behind the reads run in bg, which ends them when
// the service stops. now is the clock.
func New(db *sqldb.DB, cons *consumer.Runtime, bg *host.Background, domains []string, prefix string, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{db: db, cons: cons, bg: bg, domains: domains, prefix: prefix, now: now, MaxStale: DefaultMaxStale}
}

// GetBriefing implements briefingv1.BriefingServiceServer.
func (s *Server) GetBriefing(ctx context.Context, req *briefingv1.GetBriefingRequest) (*briefingv1.Briefing, error) {
	return s.briefing(ctx, req.GetView(), false)
}

// RebuildBriefing implements briefingv1.BriefingServiceServer.
func (s *Server) RebuildBriefing(ctx context.Context, _ *briefingv1.RebuildBriefingRequest) (*briefingv1.Briefing, error) {
	if s.cons == nil {
		return nil, ErrNotConsuming
	}
	if err := s.rebuild(ctx); err != nil {
		if errors.Is(err, consumer.ErrNotRunning) {
			return nil, ErrNotConsuming
		}
		return nil, err
	}
	return s.briefing(ctx, briefingv1.BriefingView_FULL, true)
}

// rebuild drops the model and has the consumers build it again from the first event of each
// stream (consumer.Runtime.Reset), recording in the transaction that empties it that this code
// (model.Version) builds it. The briefing kept must then be computed anew before it answers
// again: once the consumers have applied every event again, the streams' positions are those
// it was computed from, and cacheKey would take it for current.
func (s *Server) rebuild(ctx context.Context) error {
	return s.cons.Reset(ctx, model.Clear)
}

// Upgrade makes sure, as the service starts and before its consumers run, that the model is one
// this code builds (model.Version). A model nothing was applied to yet — a new installation — is
// recorded as this code's, since the consumers build it from the first event of each stream
// anyway. A model built by other code — an older binary, which did not fill a table a later
// migration added, or one from before the model recorded its version — is rebuilt from the
// streams as RebuildBriefing rebuilds it, once the consumers run, in the service's background
// (log says when and why) — unless a stream no longer holds its first event, when the model is
// kept (rebuildOnStart). Meanwhile the briefing answers from the model as it was.
func (s *Server) Upgrade(ctx context.Context, log *slog.Logger) error {
	built, err := model.Stamp(ctx, s.db)
	if err != nil {
		return err
	}
	if built == model.Version {
		return nil
	}
	if s.cons == nil {
		return fmt.Errorf("the briefing model of version %d must be rebuilt for version %d, and no consumers run", built, model.Version)
	}
	log.Warn("briefing model built by another version of the code: rebuilding it from the streams once the consumers run, if they hold every event",
		"stored_model_version", built, "model_version", model.Version)
	// Once the service stops, bg runs nothing: the stored version is still the old one, and the
	// next start rebuilds.
	s.bg.Go("briefing model upgrade", func(ctx context.Context) error { return s.rebuildOnStart(ctx, log, built) })
	return nil
}

// rebuildOnStart rebuilds the model built by the code of version built, as soon as the consumers
// run (the host starts them after it registered the service), until ctx ends. A failure is
// logged and tried again: the stored version stays built until a rebuild commits.
//
// It does not rebuild when a stream no longer holds its first event (QUARTERDECK_EVENT_MAX_AGE,
// by default 30 days): the rebuilt model would lack every event older than the stream's, more
// than the model built by the older code lacks. It keeps the model and its version, and says so
// at every start, for the operator to choose (RebuildBriefing).
func (s *Server) rebuildOnStart(ctx context.Context, log *slog.Logger, built int) error {
	wait := 10 * time.Millisecond
	for {
		trimmed, err := s.cons.Trimmed(ctx)
		if err == nil && len(trimmed) > 0 {
			log.Warn("briefing model not rebuilt: the streams no longer hold their first events, and a rebuild would lose them; "+
				"the model lacks what the older code did not keep until it is rebuilt by hand (POST /v1/briefing:rebuild)",
				"stored_model_version", built, "model_version", model.Version, "streams", strings.Join(trimmed, ","))
			return nil
		}
		if err == nil {
			err = s.rebuild(ctx)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, consumer.ErrNotRunning) {
			log.Warn("briefing model rebuild failed; trying again", "stored_model_version", built,
				"model_version", model.Version, "retry_in", wait, "error", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, maxRebuildWait)
	}
	log.Info("briefing model emptied for its rebuild; the consumers apply the streams again from their first event",
		"stored_model_version", built, "model_version", model.Version)
	if _, err := s.current(ctx, true); err != nil {
		// Forget the briefing of the model as it was, which a later check would take for current.
		s.mu.Lock()
		s.cached = nil
		s.mu.Unlock()
		return fmt.Errorf("compute the briefing after the rebuild: %w", err)
	}
	return nil
}

// maxRebuildWait bounds the wait between two attempts of a rebuild at the start.
const maxRebuildWait = 5 * time.Second

// briefing answers with the briefing of the model's current state, or with the one kept if the
// model was found in its state less than MaxStale ago, while a check of the model runs behind the
// read; now computes the current state first.
func (s *Server) briefing(ctx context.Context, view briefingv1.BriefingView, now bool) (*briefingv1.Briefing, error) {
	if view != briefingv1.BriefingView_BASIC {
		view = briefingv1.BriefingView_FULL
	}
	today := civil.DateOf(s.now().UTC())
	s.mu.Lock()
	c := s.cached
	if now || c == nil || c.day != today || time.Since(c.checked) >= s.MaxStale {
		c = nil
	} else if !s.refreshing {
		// Once the service stops, bg runs nothing: the briefing kept answers.
		s.refreshing = s.bg.Go("briefing refresh", s.refresh)
	}
	s.mu.Unlock()
	if c == nil {
		var err error
		if c, err = s.current(ctx, now); err != nil {
			return nil, err
		}
	}
	b := proto.Clone(c.views[view]).(*briefingv1.Briefing)
	s.pending(ctx, b.GetFreshness())
	return b, nil
}

// current is the briefing of the model's current state: the one kept if the model is still in
// the state it was computed from, else computed anew (always when recompute).
func (s *Server) current(ctx context.Context, recompute bool) (*computed, error) {
	checked := time.Now()
	// Each event applied moves its stream's sequence and count, and a rebuild empties them, so
	// the streams' positions and the day identify what a computation would give.
	streams, err := model.LoadStreams(ctx, s.db)
	if err != nil {
		return nil, err
	}
	key := cacheKey(civil.DateOf(s.now().UTC()), streams)
	s.mu.Lock()
	c := s.cached
	if !recompute && c != nil && c.key == key {
		if c.checked.Before(checked) {
			c.checked = checked
		}
		s.mu.Unlock()
		return c, nil
	}
	s.mu.Unlock()
	return s.compute(ctx)
}

// compute reads the model, computes its briefing in both views and keeps it, unless a
// computation that started later was kept first.
func (s *Server) compute(ctx context.Context) (*computed, error) {
	at := time.Now()
	now := s.now().UTC()
	today := civil.DateOf(now)
	snap, err := model.Load(ctx, s.db)
	if err != nil {
		return nil, err
	}
	b, err := Compute(snap, today)
	if err != nil {
		return nil, err
	}
	b.ComputeTime = timestamppb.New(now)
	b.Freshness = s.freshness(snap.Streams)
	basic := proto.Clone(b).(*briefingv1.Briefing)
	for _, c := range basic.GetBudget().GetCostCenters() {
		c.Periods = nil
	}
	for _, t := range basic.GetBudget().GetTotals() {
		t.Periods = nil
	}
	c := &computed{views: map[briefingv1.BriefingView]*briefingv1.Briefing{briefingv1.BriefingView_FULL: b, briefingv1.BriefingView_BASIC: basic},
		key: cacheKey(today, snap.Streams), day: today, at: at, checked: at}
	s.mu.Lock()
	if s.cached == nil || !at.Before(s.cached.at) {
		s.cached = c
	}
	s.mu.Unlock()
	return c, nil
}

// refresh checks the model behind the reads and computes its new state if it moved, until ctx
// ends (the service stops) or refreshTimeout. A failure, which bg logs, leaves the briefing kept
// as it was: once that is MaxStale old, the next read checks the model itself and answers with
// the error.
func (s *Server) refresh(ctx context.Context) error {
	defer func() {
		s.mu.Lock()
		s.refreshing = false
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	if _, err := s.current(ctx, false); err != nil {
		return fmt.Errorf("check the model behind the reads: %w", err)
	}
	return nil
}

// cacheKey identifies a state of the model on a day.
func cacheKey(today civil.Date, streams []model.Stream) string {
	var k strings.Builder
	k.WriteString(today.String())
	for _, st := range streams {
		fmt.Fprintf(&k, "|%s:%d:%d:%s", st.Domain, st.Sequence, st.Applied, st.LastEventID)
	}
	return k.String()
}

// pendingTimeout bounds the question of each consumer's lag to NATS: a briefing without it is
// better than a slow one.
const pendingTimeout = 500 * time.Millisecond

// freshness reports, per domain, the last event applied.
func (s *Server) freshness(streams []model.Stream) []*briefingv1.StreamFreshness {
	byDomain := map[string]model.Stream{}
	for _, st := range streams {
		byDomain[st.Domain] = st
	}
	out := make([]*briefingv1.StreamFreshness, 0, len(s.domains))
	for _, d := range s.domains {
		f := &briefingv1.StreamFreshness{Domain: d, Stream: events.StreamName(s.prefix, d)}
		if st, ok := byDomain[d]; ok {
			f.LastEventId, f.LastEventType = st.LastEventID, st.LastEventType
			if st.LastEventTime.Valid {
				f.LastEventTime = timestamppb.New(st.LastEventTime.Time)
			}
			f.ApplyTime = timestamppb.New(st.ApplyTime)
			f.StreamSequence, f.AppliedCount = uint64(st.Sequence), st.Applied
		}
		out = append(out, f)
	}
	return out
}

// pending sets each stream's lag, asked of NATS now.
func (s *Server) pending(ctx context.Context, fs []*briefingv1.StreamFreshness) {
	if s.cons == nil {
		return
	}
	for _, f := range fs {
		pctx, cancel := context.WithTimeout(ctx, pendingTimeout)
		if n, err := s.cons.Pending(pctx, f.GetDomain()); err == nil {
			f.PendingCount = &n
		}
		cancel()
	}
}
