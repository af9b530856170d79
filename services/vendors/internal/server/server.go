// Package server implements the vendors service's gRPC API on the domain and the store.
package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// Server implements vendorsv1.VendorsServiceServer. Until each resource's methods are written,
// the embedded UnimplementedVendorsServiceServer answers them with UNIMPLEMENTED.
type Server struct {
	vendorsv1.UnimplementedVendorsServiceServer

	store store.Store
	// budget is the budget service, called before a transaction (docs/services.md): ApproveContract
	// places its hold there (ADR 0010).
	budget budgetv1.BudgetServiceClient
	now    func() time.Time
	newID  func() string
	cfg    Config
	log    *slog.Logger
}

// Config are the service's settings as the server uses them; vendors.Settings converts to it.
type Config struct {
	// HoldTTL is the time to live of the budget hold ApproveContract places.
	HoldTTL time.Duration
	// NoticeWindowDays is how many days before a contract's cancel-by date its notice window
	// opens, for a contract whose notice_window_days is 0.
	NoticeWindowDays int
	// ReassessmentMonths is how long a completed assessment is valid, by the vendor's tier:
	// index 0 is tier 1.
	ReassessmentMonths [4]int
	// ScorecardWeights are the weights of a scorecard's components.
	ScorecardWeights ScorecardWeights
}

// ScorecardWeights are the weights of a scorecard's components, in the order the scorecard lists
// them.
type ScorecardWeights struct {
	Assessment, Attestations, Spend, Incidents, SLA int
}

// Option changes a Server's defaults; tests use them to fix time.
type Option func(*Server)

// WithClock sets the clock.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithIDs sets the generator of server-assigned IDs.
func WithIDs(newID func() string) Option { return func(s *Server) { s.newID = newID } }

// WithConfig sets the service's settings.
func WithConfig(cfg Config) Option { return func(s *Server) { s.cfg = cfg } }

// WithLogger sets the logger of what the server does behind its calls (default slog.Default()).
func WithLogger(log *slog.Logger) Option { return func(s *Server) { s.log = log } }

// New returns a server on st that calls budget.
func New(st store.Store, budget budgetv1.BudgetServiceClient, opts ...Option) *Server {
	s := &Server{store: st, budget: budget, now: time.Now, newID: names.NewID, log: slog.Default()}
	for _, o := range opts {
		o(s)
	}
	return s
}

// today is the current date, UTC: the day that decides what is valid, expiring or due.
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
