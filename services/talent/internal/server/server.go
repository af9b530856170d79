// Package server implements the talent service's gRPC API on the domain and the store.
package server

import (
	"context"
	"log/slog"
	"maps"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// Server implements talentv1.TalentServiceServer. Until each resource's methods are written, the
// embedded UnimplementedTalentServiceServer answers them with UNIMPLEMENTED. Each resource's
// methods live in a file of their own (teams.go, people.go, …).
type Server struct {
	talentv1.UnimplementedTalentServiceServer

	store  store.Store
	budget budgetv1.BudgetServiceClient
	now    func() time.Time
	newID  func() string

	// calendar places headcount plans' quarters; holdTTL is the life of an approval's hold.
	calendar domain.FiscalCalendar
	holdTTL  time.Duration

	log *slog.Logger
}

// Option changes a Server's defaults; tests use them to fix time.
type Option func(*Server)

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithPlanning sets the first month of the fiscal years of headcount plans and the time to live
// of the budget hold a position's approval places.
func WithPlanning(fiscalYearStart time.Month, holdTTL time.Duration) Option {
	return func(s *Server) { s.calendar, s.holdTTL = domain.FiscalCalendar{StartMonth: fiscalYearStart}, holdTTL }
}

// WithIDs sets the generator of server-assigned IDs.
func WithIDs(newID func() string) Option { return func(s *Server) { s.newID = newID } }

// WithLogger sets the logger of what the server does behind its calls (default slog.Default()).
func WithLogger(log *slog.Logger) Option { return func(s *Server) { s.log = log } }

// New returns a server on st that asks budget about cost centres.
func New(st store.Store, budget budgetv1.BudgetServiceClient, opts ...Option) *Server {
	s := &Server{store: st, budget: budget, now: time.Now, newID: names.NewID,
		calendar: domain.FiscalCalendar{StartMonth: time.January}, holdTTL: 15 * time.Minute, log: slog.Default()}
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
		s.certificationSchedules(),
	} {
		maps.Copy(all, m)
	}
	return all
}

// today is the current date, UTC.
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
