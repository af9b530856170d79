package budget_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/server"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store/storepg"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store/storesqlite"
	"github.com/quarterdeck/quarterdeck/services/platform/events"
	"github.com/quarterdeck/quarterdeck/services/platform/host"
	"github.com/quarterdeck/quarterdeck/services/platform/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testenv"
)

// spendEnv is a running budget service with an April fiscal year and a clock fixed at
// 2026-09-15 (FY2027, six periods started), a client calling as another subject for four-eyes
// decisions, and the service's store for fixtures and for checks against the records.
type spendEnv struct {
	*env
	approver budgetv1.BudgetServiceClient
	db       *sqldb.DB
	store    store.Store
}

var spendNow = time.Date(2026, 9, 15, 12, 0, 0, 0, time.UTC)

func startSpend(t *testing.T, db testenv.Database) *spendEnv {
	t.Helper()
	ctx := context.Background()
	ns := testenv.NATSServer(t)
	nc, js := testenv.Connect(t, ns.URL)
	svc := budget.Configured(budget.Settings{FiscalYearStartMonth: 4}, server.WithClock(func() time.Time { return spendNow }))
	in, err := host.Start(ctx, svc, host.Options{
		DatabaseURL: db.DSN, Schema: db.Schema, GRPCAddr: "127.0.0.1:0", NATS: nc,
		Stream:   events.StreamConfig{Prefix: ns.SubjectPrefix},
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Identity: identitytest.Verifier(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	dial := func(opt grpc.DialOption) *grpc.ClientConn {
		conn, err := grpc.NewClient(in.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()), opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	conn := dial(identitytest.DialOption())
	approver := dial(identitytest.DialOptionAs("apiKeys/approver", "budget.read", "budget.approve"))
	sdb, err := sqldb.Open(ctx, db.DSN, sqldb.Options{Schema: db.Schema, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sdb.Close() })
	var st store.Store = storesqlite.New(sdb)
	if sdb.Engine() == sqldb.Postgres {
		st = storepg.New(sdb)
	}
	return &spendEnv{
		env:      &env{client: budgetv1.NewBudgetServiceClient(conn), conn: conn, js: js, nats: ns},
		approver: budgetv1.NewBudgetServiceClient(approver), db: sdb, store: st,
	}
}

// forEachSpendDatabase runs fn against SQLite and, when available, PostgreSQL.
func forEachSpendDatabase(t *testing.T, fn func(t *testing.T, e *spendEnv)) {
	t.Helper()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			fn(t, startSpend(t, db))
		})
	}
}

// fixtureLine is a line of seedApprovedBudget: planned minor units, phased evenly unless
// phasing is given.
type fixtureLine struct {
	id      string
	planned int64
	capex   bool
	phasing []int64
}

// seedApprovedBudget writes an APPROVED, in-force FY2027 budget with lines straight into the
// store, for the cost centre ccID (created here when missing). It stands in for the budget and
// line API calls until those exist; replace it by them then.
func seedApprovedBudget(t *testing.T, e *spendEnv, ccID, budgetID, currency string, policy domain.Policy, lines ...fixtureLine) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.store.GetCostCenter(ctx, ccID); err != nil {
		create(t, e.env, ccID, "CC "+ccID, "CC-"+strings.ToUpper(ccID), "")
	}
	now := spendNow.Add(-24 * time.Hour)
	b, err := domain.NewBudget(budgetID, ccID, 2027, time.April, currency,
		domain.BudgetFields{DisplayName: budgetID, Owner: "owner@example.com", Policy: policy}, now)
	if err != nil {
		t.Fatal(err)
	}
	b.State, b.Submitter, b.Decider = domain.StateApproved, "apiKeys/owner", "apiKeys/approver"
	var ls []*domain.Line
	for _, fl := range lines {
		f := domain.LineFields{DisplayName: fl.id, Category: domain.CategoryCloud, ExpenseType: domain.Opex, PlannedMinor: fl.planned}
		if fl.capex {
			f.ExpenseType, f.Category = domain.Capex, domain.CategoryHardware
		}
		if fl.phasing != nil {
			f.Phasing = &domain.Phasing{Granularity: domain.Monthly, Amounts: fl.phasing}
		}
		l, err := domain.NewLine(fl.id, budgetID, f, now)
		if err != nil {
			t.Fatal(err)
		}
		b.PlannedMinor += l.PlannedMinor
		ls = append(ls, l)
	}
	err = e.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		chain := domain.NewChain(b)
		if err := tx.InsertChain(ctx, chain); err != nil {
			return err
		}
		if err := tx.InsertBudget(ctx, b); err != nil {
			return err
		}
		for _, l := range ls {
			if err := tx.InsertLine(ctx, l); err != nil {
				return err
			}
		}
		c, err := tx.LockChain(ctx, chain.ID)
		if err != nil {
			return err
		}
		prev := c.Version
		c.Approved(b.ID)
		return tx.UpdateChain(ctx, c, prev)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// seedRate writes an exchange rate straight into the store (until the rates API exists).
func seedRate(t *testing.T, e *spendEnv, month, src, dst, value string) {
	t.Helper()
	m, err := domain.ParseMonth(month)
	if err != nil {
		t.Fatal(err)
	}
	r, err := domain.NewExchangeRate(m, src, dst, value, spendNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.Within(context.Background(), func(ctx context.Context, tx store.Tx) error {
		return tx.InsertExchangeRate(ctx, r)
	}); err != nil {
		t.Fatal(err)
	}
}

// setBudgetState moves a seeded budget to state directly in the store (close, or back to draft).
func setBudgetState(t *testing.T, e *spendEnv, budgetID string, state domain.State) {
	t.Helper()
	if err := e.store.Within(context.Background(), func(ctx context.Context, tx store.Tx) error {
		b, err := tx.GetBudget(ctx, budgetID)
		if err != nil {
			return err
		}
		prev := b.Version
		b.State = state
		b.Version++
		return tx.UpdateBudget(ctx, b, prev)
	}); err != nil {
		t.Fatal(err)
	}
}

// outboxCount counts the events in the outbox whose subject ends with suffix (e.g.
// ".line.threshold_crossed").
func outboxCount(t *testing.T, e *spendEnv, suffix string) int {
	t.Helper()
	var n int
	if err := e.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1`, "%"+suffix).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
