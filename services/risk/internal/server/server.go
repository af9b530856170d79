// Package server implements the risk service's gRPC API on the domain and the store.
package server

import (
	"context"
	"maps"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// Server implements riskv1.RiskServiceServer. Until each resource's methods are written, the
// embedded UnimplementedRiskServiceServer answers them with UNIMPLEMENTED. Each resource's
// methods live in a file of their own (risks.go, matrix.go, actions.go, …).
type Server struct {
	riskv1.UnimplementedRiskServiceServer

	store store.Store
	now   func() time.Time
	newID func() string
	cfg   Config

	// talent is asked about the people an incident's roles name (roles.go).
	talent talentv1.TalentServiceClient

	// mayWriteRisk, under the owner write policy, refuses a caller who may not write a risk
	// (its owner, a member of its owner team, or risk.admin): a control linked to or unlinked
	// from a risk changes the risk (controls.go). Nil under the scopes policy.
	mayWriteRisk func(ctx context.Context, risk string) error
}

// Config are the service's settings as the server uses them; risk.Settings converts to it.
type Config struct {
	// ReviewDays is the review cadence in days by residual level: index 0 is a risk not yet
	// scored (due for assessment), then LOW, MEDIUM, HIGH and CRITICAL.
	ReviewDays [5]int
	// AcceptanceMaxDays is the furthest an acceptance's expiry date may be from the day it is
	// requested.
	AcceptanceMaxDays int
}

// DefaultConfig is the configuration of risk.DefaultSettings.
func DefaultConfig() Config {
	return Config{ReviewDays: [5]int{30, 365, 180, 90, 30}, AcceptanceMaxDays: 730}
}

// Option changes a Server's defaults; tests use them to fix time.
type Option func(*Server)

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithIDs sets the generator of server-assigned IDs.
func WithIDs(newID func() string) Option { return func(s *Server) { s.newID = newID } }

// WithTalent sets the talent service's client, through which the server asks about the people
// an incident's roles name.
func WithTalent(c talentv1.TalentServiceClient) Option { return func(s *Server) { s.talent = c } }

// WithRiskWriters sets the check of the callers who may write a risk, under the owner write
// policy: linking a control to a risk, or unlinking it, needs it (controls.go).
func WithRiskWriters(check func(ctx context.Context, risk string) error) Option {
	return func(s *Server) { s.mayWriteRisk = check }
}

// WithConfig sets the service's settings.
func WithConfig(cfg Config) Option { return func(s *Server) { s.cfg = cfg } }

// New returns a server on st.
func New(st store.Store, opts ...Option) *Server {
	s := &Server{store: st, now: time.Now, newID: names.NewID, cfg: DefaultConfig()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Schedules returns the handlers of the service's due items, by kind: each resource's file
// declares its own kinds in a method of its own, gathered here.
func (s *Server) Schedules() map[string]scheduler.Handler {
	all := map[string]scheduler.Handler{}
	for _, m := range []map[string]scheduler.Handler{
		s.riskSchedules(),
		s.actionSchedules(),
		s.acceptanceSchedules(),
		s.Incidents().breachSchedules(),
		s.Incidents().postmortemSchedules(),
		s.complianceSchedules(),
		s.policySchedules(),
		s.continuitySchedules(),
	} {
		maps.Copy(all, m)
	}
	return all
}

// today is the current date, UTC: the day that decides what is due.
func (s *Server) today() civil.Date { return civil.DateOf(s.now().UTC()) }

// id is the ID a request gives, or a new one when it gives none.
func (s *Server) id(given string) string {
	if given == "" {
		return s.newID()
	}
	return given
}

// empty answers a call that has no result once its work, which returned err, is done.
func empty(err error) (*emptypb.Empty, error) {
	if err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// inTx runs fn in a transaction of st and returns its result once the transaction committed.
func inTx[T any](ctx context.Context, st store.Store, fn func(ctx context.Context, tx store.Tx) (T, error)) (T, error) {
	return sqlstore.Result(ctx, st.Within, fn)
}
