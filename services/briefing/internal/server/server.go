// Package server implements the briefing service's gRPC API on the read model.
package server

import (
	"context"
	"errors"
	"fmt"
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
	domains []string // the domains whose streams the model is built from, one consumer each
	prefix  string
	now     func() time.Time

	// The briefing last computed and the state of the model and day it was computed for: a read
	// while no event was applied reuses it.
	mu     sync.Mutex
	cached map[briefingv1.BriefingView]*briefingv1.Briefing // FULL and BASIC
	key    string
}

// New returns a server on the model in db, built by the consumers of cons (one per domain in
// domains, named after it) from the streams under the subject prefix. cons may be nil in tests of
// the computation alone. now is the clock.
func New(db *sqldb.DB, cons *consumer.Runtime, domains []string, prefix string, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	return &Server{db: db, cons: cons, domains: domains, prefix: prefix, now: now}
}

// GetBriefing implements briefingv1.BriefingServiceServer.
func (s *Server) GetBriefing(ctx context.Context, req *briefingv1.GetBriefingRequest) (*briefingv1.Briefing, error) {
	return s.briefing(ctx, req.GetView())
}

// RebuildBriefing implements briefingv1.BriefingServiceServer.
func (s *Server) RebuildBriefing(ctx context.Context, _ *briefingv1.RebuildBriefingRequest) (*briefingv1.Briefing, error) {
	if s.cons == nil {
		return nil, ErrNotConsuming
	}
	if err := s.cons.Reset(ctx, model.Clear); err != nil {
		if errors.Is(err, consumer.ErrNotRunning) {
			return nil, ErrNotConsuming
		}
		return nil, err
	}
	return s.briefing(ctx, briefingv1.BriefingView_FULL)
}

func (s *Server) briefing(ctx context.Context, view briefingv1.BriefingView) (*briefingv1.Briefing, error) {
	if view != briefingv1.BriefingView_BASIC {
		view = briefingv1.BriefingView_FULL
	}
	now := s.now().UTC()
	today := civil.DateOf(now)
	// Each event applied moves its stream's sequence and count, and a rebuild empties them, so
	// the streams' positions and the day identify what a computation would give.
	streams, err := model.LoadStreams(ctx, s.db)
	if err != nil {
		return nil, err
	}
	var b *briefingv1.Briefing
	s.mu.Lock()
	if s.cached != nil && s.key == cacheKey(today, streams) {
		b = proto.Clone(s.cached[view]).(*briefingv1.Briefing)
	}
	s.mu.Unlock()
	if b == nil {
		snap, err := model.Load(ctx, s.db)
		if err != nil {
			return nil, err
		}
		if b, err = Compute(snap, today); err != nil {
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
		views := map[briefingv1.BriefingView]*briefingv1.Briefing{briefingv1.BriefingView_FULL: b, briefingv1.BriefingView_BASIC: basic}
		s.mu.Lock()
		s.cached, s.key = views, cacheKey(today, snap.Streams)
		s.mu.Unlock()
		b = proto.Clone(views[view]).(*briefingv1.Briefing)
	}
	s.pending(ctx, b.GetFreshness())
	return b, nil
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
