package idempotency_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

const method = "/quarterdeck.budget.v1.BudgetService/CreateCostCenter"

// requestIDs are the package's migrations; open applies them twice, because migrations must
// apply once however often they run.
var requestIDs = idempotency.Migrations

func open(t *testing.T, d testenv.Database) *sqldb.DB {
	return testkit.Open(t, d, requestIDs, requestIDs)
}

// service is a Create method that counts its executions.
type service struct {
	db    *sqldb.DB
	execs atomic.Int64
	fail  error
}

// txn is a service store's transaction, offering the request-ID table as every store's does.
type txn struct{ *sql.Tx }

func (t txn) Requests() idempotency.Querier { return t.Tx }

// within is the service store's transaction runner.
func (s *service) within(ctx context.Context, fn func(context.Context, txn) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return fn(ctx, txn{tx}) })
}

// create is a Create method as services write them: idempotency.InTx around the change.
func (s *service) create(ctx context.Context, req *budgetv1.CreateCostCenterRequest) (*budgetv1.CostCenter, error) {
	return idempotency.InTx(ctx, s.within, method, req, func(context.Context, txn) (*budgetv1.CostCenter, error) {
		if s.fail != nil {
			return nil, s.fail
		}
		n := s.execs.Add(1)
		cc := proto.CloneOf(req.GetCostCenter())
		cc.Name = "costCenters/" + req.GetCostCenterId()
		cc.Etag = string(rune('0' + n))
		return cc, nil
	})
}

func TestDo(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		ctx := context.Background()
		s := &service{db: open(t, d)}
		req := &budgetv1.CreateCostCenterRequest{RequestId: "0b7e1a52-5c55-4b59-9d36-6a5a3e1f7c11", CostCenterId: "infra",
			CostCenter: &budgetv1.CostCenter{DisplayName: "Infrastructure", Code: "CC-1"}}

		first, err := s.create(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		// A retry returns the first response without executing again.
		again, err := s.create(ctx, proto.CloneOf(req))
		if err != nil || !proto.Equal(again, first) || s.execs.Load() != 1 {
			t.Fatalf("replay = %v, %v after %d executions; want %v once", again, err, s.execs.Load(), first)
		}
		// The same ID with another request is refused.
		other := proto.CloneOf(req)
		other.CostCenter.DisplayName = "Other"
		_, err = s.create(ctx, other)
		if fe := fault.As(err); fe == nil || fe.Reason != idempotency.ReasonReused || fe.Kind != fault.InvalidArgument ||
			len(fe.Violations) != 1 || fe.Violations[0].Field != "request_id" {
			t.Errorf("reused id: err = %v, want REQUEST_ID_REUSED on request_id", err)
		}
		// Another caller with the same ID and request does not get the first caller's response.
		mallory := identity.NewContext(ctx, identity.Principal{Subject: "users/mallory"})
		if _, err := s.create(mallory, proto.CloneOf(req)); fault.As(err) == nil || fault.As(err).Reason != idempotency.ReasonReused {
			t.Errorf("other caller: err = %v, want REQUEST_ID_REUSED", err)
		}
		// No request ID: every call executes.
		noID := proto.CloneOf(req)
		noID.RequestId = ""
		for range 2 {
			if _, err := s.create(ctx, noID); err != nil {
				t.Fatal(err)
			}
		}
		if s.execs.Load() != 3 {
			t.Errorf("executions = %d, want 3", s.execs.Load())
		}

		// A failed execution leaves no claim behind: the retry executes.
		failing := proto.CloneOf(req)
		failing.RequestId = "6f1c2d1e-8a8e-4c1b-9f0e-2d7b5c4a3e21"
		s.fail = fault.New(fault.FailedPrecondition, "NOPE", "nope")
		if _, err := s.create(ctx, failing); !errors.Is(err, s.fail) {
			t.Fatalf("failing create: %v", err)
		}
		s.fail = nil
		if _, err := s.create(ctx, failing); err != nil || s.execs.Load() != 4 {
			t.Errorf("retry after failure: %v, executions %d", err, s.execs.Load())
		}

		// Pruning forgets IDs stored before the cut-off only.
		if n, err := idempotency.Prune(ctx, s.db, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Errorf("prune of old ids = %d, %v; want 0", n, err)
		}
		if n, err := idempotency.Prune(ctx, s.db, time.Now().Add(time.Minute)); err != nil || n != 2 {
			t.Errorf("prune of every id = %d, %v; want 2", n, err)
		}
		if _, err := s.create(ctx, other); err != nil || s.execs.Load() != 5 {
			t.Errorf("after pruning the id is new again: %v, executions %d", err, s.execs.Load())
		}
	})
}

// TestConcurrentDuplicates sends the same request with the same ID from many goroutines at
// once: it executes once and every caller gets that execution's response.
func TestConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		s := &service{db: open(t, d)}
		req := &budgetv1.CreateCostCenterRequest{RequestId: "9a0c9a57-3c3e-4d43-8f0e-4f9c8b3b2a10", CostCenterId: "x",
			CostCenter: &budgetv1.CostCenter{DisplayName: "X", Code: "X"}}
		const callers = 50
		var wg sync.WaitGroup
		resps := make([]*budgetv1.CostCenter, callers)
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() { resps[i], errs[i] = s.create(context.Background(), req) })
		}
		wg.Wait()
		for i := range callers {
			if errs[i] != nil || !proto.Equal(resps[i], resps[0]) {
				t.Errorf("caller %d: %v, %v; want %v", i, resps[i], errs[i], resps[0])
			}
		}
		if n := s.execs.Load(); n != 1 {
			t.Errorf("executions = %d, want 1", n)
		}
	})
}

func TestHashIgnoresRequestID(t *testing.T) {
	a, _ := idempotency.Hash("users/a", method, &budgetv1.CreateCostCenterRequest{RequestId: "a", CostCenterId: "x"})
	b, _ := idempotency.Hash("users/a", method, &budgetv1.CreateCostCenterRequest{RequestId: "b", CostCenterId: "x"})
	c, _ := idempotency.Hash("users/a", method, &budgetv1.CreateCostCenterRequest{RequestId: "a", CostCenterId: "y"})
	d, _ := idempotency.Hash("users/a", "/other", &budgetv1.CreateCostCenterRequest{RequestId: "a", CostCenterId: "x"})
	e, _ := idempotency.Hash("users/b", method, &budgetv1.CreateCostCenterRequest{RequestId: "a", CostCenterId: "x"})
	if string(a) != string(b) || string(a) == string(c) || string(a) == string(d) || string(a) == string(e) {
		t.Errorf("hashes: same request %t, other field %t, other method %t, other caller %t",
			string(a) == string(b), string(a) == string(c), string(a) == string(d), string(a) == string(e))
	}
}

// TestRunPruner checks that the pruner the host runs deletes IDs older than Retention and keeps
// younger ones.
func TestRunPruner(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := open(t, d)
		ctx := context.Background()
		for id, age := range map[string]time.Duration{"old": idempotency.Retention + time.Minute, "young": idempotency.Retention - time.Minute} {
			if _, err := db.ExecContext(ctx, `INSERT INTO request_ids (request_id, method, request_hash, create_time) VALUES ($1, $2, $3, $4)`,
				id, method, []byte{1}, time.Now().Add(-age).UTC()); err != nil {
				t.Fatal(err)
			}
		}
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			idempotency.RunPruner(pctx, db, time.Hour, slog.New(slog.DiscardHandler))
		}()
		defer func() { cancel(); <-done }()
		testkit.Eventually(t, 10*time.Second, func() error {
			if ids := testkit.Column[string](t, db, `SELECT request_id FROM request_ids ORDER BY request_id`); !slices.Equal(ids, []string{"young"}) {
				return fmt.Errorf("request ids = %v, want only young", ids)
			}
			return nil
		})
	})
}
