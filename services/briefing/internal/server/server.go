// Package server implements the briefing service's gRPC API on the read model.
package server

import (
	"context"
	"errors"
	"time"

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
func (s *Server) GetBriefing(ctx context.Context, _ *briefingv1.GetBriefingRequest) (*briefingv1.Briefing, error) {
	return s.briefing(ctx)
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
	return s.briefing(ctx)
}

func (s *Server) briefing(ctx context.Context) (*briefingv1.Briefing, error) {
	snap, err := model.Load(ctx, s.db)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	b, err := Compute(snap, civil.DateOf(now))
	if err != nil {
		return nil, err
	}
	b.ComputeTime = timestamppb.New(now)
	b.Freshness = s.freshness(ctx, snap)
	return b, nil
}

// pendingTimeout bounds the question of each consumer's lag to NATS: a briefing without it is
// better than a slow one.
const pendingTimeout = 500 * time.Millisecond

// freshness reports, per domain, the last event applied and the consumer's lag.
func (s *Server) freshness(ctx context.Context, snap *model.Snapshot) []*briefingv1.StreamFreshness {
	byDomain := map[string]model.Stream{}
	for _, st := range snap.Streams {
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
		if s.cons != nil {
			pctx, cancel := context.WithTimeout(ctx, pendingTimeout)
			if n, err := s.cons.Pending(pctx, d); err == nil {
				f.PendingCount = &n
			}
			cancel()
		}
		out = append(out, f)
	}
	return out
}
