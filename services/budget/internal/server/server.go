// Package server implements the budget service's gRPC API on the domain and the store.
package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// Server implements budgetv1.BudgetServiceServer.
type Server struct {
	budgetv1.UnimplementedBudgetServiceServer

	store store.Store
	now   func() time.Time
	newID func() string
	// fiscalStart is the first month of the fiscal year given to new budgets.
	fiscalStart time.Month
	log         *slog.Logger
}

// Option changes a Server's defaults; tests use them to fix time and IDs.
type Option func(*Server)

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithIDs sets the generator of server-assigned IDs.
func WithIDs(newID func() string) Option { return func(s *Server) { s.newID = newID } }

// WithFiscalYearStart sets the first calendar month of the fiscal year of budgets created from
// now on; January by default.
func WithFiscalYearStart(m time.Month) Option { return func(s *Server) { s.fiscalStart = m } }

// WithLogger sets the logger of what the server does behind its calls (default slog.Default()).
func WithLogger(log *slog.Logger) Option { return func(s *Server) { s.log = log } }

// New returns a server on st.
func New(st store.Store, opts ...Option) *Server {
	s := &Server{store: st, now: time.Now, newID: names.NewID, fiscalStart: time.January, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
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

// actor is the caller of the call in ctx, as the gateway identified them: who submits, approves,
// records.
func actor(ctx context.Context) string { return identity.Actor(ctx) }

// principal names the person or workload behind the caller (identity.Owner): what the
// separation-of-duties rules store and compare — a submitter, a requester, who decides — so that
// a second key of the same person is that person.
func principal(ctx context.Context) string { return identity.Owner(ctx) }
