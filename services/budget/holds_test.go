package budget_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/server"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// holdOf is a hold of minor units of EUR for a contract's term start–end.
func holdOf(minor int64, start, end *date.Date) *budgetv1.Hold {
	return &budgetv1.Hold{Amount: cents(minor, "EUR"), ServiceStartDate: start, ServiceEndDate: end,
		Source: budgetv1.Commitment_CONTRACT, SourceReference: "vendors/acme/contracts/c-1", Description: "Support renewal"}
}

func placeHold(e *spendEnv, line string, h *budgetv1.Hold) (*budgetv1.Hold, error) {
	return e.client.PlaceHold(context.Background(), &budgetv1.PlaceHoldRequest{Parent: line, Hold: h})
}

func mustHold(t *testing.T, e *spendEnv, line string, h *budgetv1.Hold) *budgetv1.Hold {
	t.Helper()
	out, err := placeHold(e, line, h)
	if err != nil {
		t.Fatalf("place %v on %s: %v", h, line, err)
	}
	return out
}

func getHold(t *testing.T, e *spendEnv, name string) *budgetv1.Hold {
	t.Helper()
	h, err := e.client.GetHold(context.Background(), &budgetv1.GetHoldRequest{Name: name})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return h
}

// lineFigures is the figures of the first line of budget id's summary.
func lineFigures(t *testing.T, e *spendEnv, id string) *budgetv1.Figures {
	t.Helper()
	return summary(t, e, id).GetLines()[0].GetFigures()
}

func holdID(t *testing.T, name string) string {
	t.Helper()
	return name[strings.LastIndex(name, "/")+1:]
}

// startHolds is a budget service like startSpend's, whose server and scheduler share a fake
// clock standing at spendNow: holds expire when the test moves it, not with the real time.
func startHolds(t *testing.T, db testenv.Database) (*spendEnv, *clock.Fake) {
	t.Helper()
	fake := clock.NewFake(spendNow)
	e := startService(t, db, budget.Configured(budget.Settings{FiscalYearStartMonth: 4}),
		testkit.WithHostOptions(func(o *host.Options) {
			o.Clock = fake
			o.Scheduler = scheduler.Settings{PollInterval: 50 * time.Millisecond}
		}))
	sdb := e.DB(t)
	return &spendEnv{env: e, approver: clientAs(t, e, "apiKeys/approver", "budget.read", "budget.approve"),
		db: sdb, store: store.New(sdb, nil)}, fake
}

// forEachHoldDatabase runs fn against SQLite and, when available, PostgreSQL (startHolds).
func forEachHoldDatabase(t *testing.T, fn func(t *testing.T, e *spendEnv, fake *clock.Fake)) {
	t.Helper()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e, fake := startHolds(t, db)
		fn(t, e, fake)
	})
}

func TestHolds(t *testing.T) {
	t.Parallel()
	forEachHoldDatabase(t, func(t *testing.T, e *spendEnv, _ *clock.Fake) {
		ctx := context.Background()
		const line = "budgets/ops/lines/l"
		seedApprovedBudget(t, e, "ops", "ops", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 100000})

		// Inside the fiscal year (FY2027: April 2026 to March 2027): all of it is held.
		h := mustHold(t, e, line, holdOf(30000, day(2026, 10, 1), day(2027, 3, 31)))
		if h.GetState() != budgetv1.Hold_HELD || minorOf(h.GetHeldAmount()) != 30000 || h.GetPeriod() != "FY2027-P07" ||
			h.GetSource() != budgetv1.Commitment_CONTRACT || h.GetSourceReference() != "vendors/acme/contracts/c-1" ||
			h.GetRate() != nil || h.GetCommitment() != "" || h.GetEtag() == "" || h.GetTtl() != nil ||
			!h.GetExpireTime().AsTime().Equal(spendNow.Add(15*time.Minute)) || !strings.HasPrefix(h.GetName(), line+"/holds/") {
			t.Fatalf("placed = %v", h)
		}
		if got := getHold(t, e, h.GetName()); got.GetEtag() != h.GetEtag() || got.GetState() != budgetv1.Hold_HELD {
			t.Errorf("get = %v", got)
		}
		st, err := e.store.HoldExpiry(ctx, holdID(t, h.GetName()))
		if err != nil || st.Kind != store.HoldExpiryKind || !st.Due.Equal(spendNow.Add(15*time.Minute)) {
			t.Errorf("expiry item = %+v, %v", st, err)
		}

		// Held money counts in held and available, not in the forecast.
		f := lineFigures(t, e, "ops")
		if minorOf(f.GetHeld()) != 30000 || minorOf(f.GetAvailable()) != 70000 || minorOf(f.GetCommitted()) != 0 ||
			minorOf(f.GetForecast()) != 0 || f.GetConsumptionBasisPoints() != 3000 {
			t.Errorf("line figures with the hold = %v", f)
		}
		s := summary(t, e, "ops")
		if minorOf(s.GetTotal().GetHeld()) != 30000 || minorOf(s.GetTotal().GetAvailable()) != 70000 ||
			minorOf(s.GetLines()[0].GetPeriods()[6].GetHeld()) != 30000 || minorOf(s.GetPeriods()[6].GetAvailable()) != -21667 {
			t.Errorf("budget figures with the hold: total %v, P07 %v", s.GetTotal(), s.GetPeriods()[6])
		}
		bl, err := e.client.GetBudgetLine(ctx, &budgetv1.GetBudgetLineRequest{Name: line})
		if err != nil || minorOf(bl.GetHeldAmount()) != 30000 || minorOf(bl.GetAvailableAmount()) != 70000 {
			t.Errorf("line = %v, %v", bl, err)
		}
		cf, err := e.client.CheckFunds(ctx, &budgetv1.CheckFundsRequest{Line: line, Amount: cents(70001, "EUR")})
		if err != nil || cf.GetDecision() != budgetv1.CheckFundsResponse_WARN || minorOf(cf.GetAvailable()) != 70000 {
			t.Errorf("check funds = %v, %v", cf, err)
		}
		checkRecomputed(t, e, "ops")

		// A term across the fiscal year holds its part, pro rata by days: 182 of 365 days.
		across := mustHold(t, e, line, holdOf(120000, day(2026, 10, 1), day(2027, 9, 30)))
		if minorOf(across.GetHeldAmount()) != 59836 || across.GetPeriod() != "FY2027-P07" {
			t.Errorf("held of a term across the year = %v (%s), want 598.36 EUR in P07", across.GetHeldAmount(), across.GetPeriod())
		}
		// One that started before the year: 275 of 365 days, from the year's first period.
		before := mustHold(t, e, line, holdOf(36500, day(2026, 1, 1), day(2026, 12, 31)))
		if minorOf(before.GetHeldAmount()) != 27500 || before.GetPeriod() != "FY2027-P01" {
			t.Errorf("held of a term from before the year = %v (%s)", before.GetHeldAmount(), before.GetPeriod())
		}
		// Over available on a WARN line: placed, and the line is overspent.
		if got := outboxCount(t, e, ".line.overspent"); got != 1 {
			t.Errorf("overspent events = %d, want 1", got)
		}

		// Idempotency: the same request ID and request return the same hold.
		rid := uuid.NewString()
		first, err := e.client.PlaceHold(ctx, &budgetv1.PlaceHoldRequest{Parent: line, Hold: holdOf(100, day(2026, 10, 1), day(2026, 10, 31)), RequestId: rid})
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.client.PlaceHold(ctx, &budgetv1.PlaceHoldRequest{Parent: line, Hold: holdOf(100, day(2026, 10, 1), day(2026, 10, 31)), RequestId: rid})
		if err != nil || again.GetName() != first.GetName() {
			t.Errorf("retry = %v, %v; want %s", again, err, first.GetName())
		}
		_, err = e.client.PlaceHold(ctx, &budgetv1.PlaceHoldRequest{Parent: line, Hold: holdOf(200, day(2026, 10, 1), day(2026, 10, 31)), RequestId: rid})
		wantStatus(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED", "request_id:REQUEST_ID_REUSED")

		// Lists: across budgets and lines, filtered, paged.
		all, pages := testkit.AllPages(t, func(token string) ([]*budgetv1.Hold, string, error) {
			r, err := e.client.ListHolds(ctx, &budgetv1.ListHoldsRequest{Parent: "budgets/-/lines/-", PageSize: 2, PageToken: token,
				Filter: `state = HELD AND source_reference = "vendors/acme/contracts/c-1"`})
			return r.GetHolds(), r.GetNextPageToken(), err
		})
		if len(all) != 4 || pages != 2 {
			t.Errorf("listed %d holds in %d pages, want 4 in 2", len(all), pages)
		}
		r, err := e.client.ListHolds(ctx, &budgetv1.ListHoldsRequest{Parent: line, Filter: `amount.currency_code = "USD"`})
		if err != nil || len(r.GetHolds()) != 0 {
			t.Errorf("USD holds = %v, %v", r, err)
		}

		// Release: the etag must match; the money is available again; a second release fails.
		_, err = e.client.ReleaseHold(ctx, &budgetv1.ReleaseHoldRequest{Name: h.GetName(), Etag: `W/"stale"`})
		if status.Code(err) != codes.Aborted {
			t.Errorf("release with a stale etag: %v, want ABORTED", err)
		}
		rel, err := e.client.ReleaseHold(ctx, &budgetv1.ReleaseHoldRequest{Name: h.GetName(), Etag: h.GetEtag(), Reason: "contract not signed"})
		if err != nil || rel.GetState() != budgetv1.Hold_RELEASED || rel.GetEtag() == h.GetEtag() {
			t.Fatalf("release = %v, %v", rel, err)
		}
		_, err = e.client.ReleaseHold(ctx, &budgetv1.ReleaseHoldRequest{Name: h.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "HOLD_NOT_HELD")
		if _, err := e.store.HoldExpiry(ctx, holdID(t, h.GetName())); !errors.Is(err, scheduler.ErrNotFound) {
			t.Errorf("expiry item of the released hold: %v, want none", err)
		}
		if got := minorOf(lineFigures(t, e, "ops").GetHeld()); got != 59836+27500+100 {
			t.Errorf("held after the release = %d", got)
		}
		released, err := e.client.ListHolds(ctx, &budgetv1.ListHoldsRequest{Parent: line, Filter: "state = RELEASED"})
		if err != nil || len(released.GetHolds()) != 1 || released.GetHolds()[0].GetName() != h.GetName() {
			t.Errorf("released holds = %v, %v", released, err)
		}
		_, err = e.client.GetHold(ctx, &budgetv1.GetHoldRequest{Name: line + "/holds/nope"})
		wantStatus(t, err, codes.NotFound, "HOLD_NOT_FOUND")
		checkRecomputed(t, e, "ops")

		if got := outboxCount(t, e, ".hold.placed"); got != 4 {
			t.Errorf("hold.placed events = %d, want 4", got)
		}
		if got := outboxCount(t, e, ".hold.released"); got != 1 {
			t.Errorf("hold.released events = %d, want 1", got)
		}

		// Closing the budget releases what is still held.
		closeBudget(t, e, "ops")
		for _, name := range []string{across.GetName(), before.GetName(), first.GetName()} {
			if got := getHold(t, e, name); got.GetState() != budgetv1.Hold_RELEASED {
				t.Errorf("%s after the close: %v", name, got.GetState())
			}
			if _, err := e.store.HoldExpiry(ctx, holdID(t, name)); !errors.Is(err, scheduler.ErrNotFound) {
				t.Errorf("expiry item of %s after the close: %v, want none", name, err)
			}
		}
		if got := minorOf(lineFigures(t, e, "ops").GetHeld()); got != 0 {
			t.Errorf("held after the close = %d", got)
		}
		if got := outboxCount(t, e, ".hold.released"); got != 4 {
			t.Errorf("hold.released events after the close = %d, want 4", got)
		}
		checkRecomputed(t, e, "ops")
	})
}

func TestHoldValidation(t *testing.T) {
	t.Parallel()
	forEachHoldDatabase(t, func(t *testing.T, e *spendEnv, _ *clock.Fake) {
		const line = "budgets/ops/lines/l"
		seedApprovedBudget(t, e, "ops", "ops", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 100000})
		oct, nov := day(2026, 10, 1), day(2026, 11, 30)
		with := func(change func(h *budgetv1.Hold)) *budgetv1.Hold {
			h := holdOf(1000, oct, nov)
			change(h)
			return h
		}
		for _, c := range []struct {
			name   string
			hold   *budgetv1.Hold
			code   codes.Code
			reason string
			fields []string
		}{
			{"ttl too short", with(func(h *budgetv1.Hold) { h.Ttl = durationpb.New(30 * time.Second) }),
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"hold.ttl:TTL_OUT_OF_RANGE"}},
			{"ttl too long", with(func(h *budgetv1.Hold) { h.Ttl = durationpb.New(25 * time.Hour) }),
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"hold.ttl:TTL_OUT_OF_RANGE"}},
			{"no amount", with(func(h *budgetv1.Hold) { h.Amount = nil }),
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"hold.amount:AMOUNT_NOT_POSITIVE"}},
			{"negative amount", with(func(h *budgetv1.Hold) { h.Amount = cents(-100, "EUR") }),
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"hold.amount:AMOUNT_NOT_POSITIVE"}},
			{"too precise", with(func(h *budgetv1.Hold) { h.Amount.Nanos = 1 }),
				codes.InvalidArgument, "AMOUNT_TOO_PRECISE", []string{"hold.amount:AMOUNT_TOO_PRECISE"}},
			{"no dates", with(func(h *budgetv1.Hold) { h.ServiceStartDate, h.ServiceEndDate = nil, nil }),
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"hold.service_start_date:REQUIRED", "hold.service_end_date:REQUIRED"}},
			{"end before start", with(func(h *budgetv1.Hold) { h.ServiceEndDate = day(2026, 9, 30) }),
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"hold.service_end_date:END_BEFORE_START"}},
			{"outside the year", with(func(h *budgetv1.Hold) { h.ServiceStartDate, h.ServiceEndDate = day(2027, 4, 1), day(2027, 6, 30) }),
				codes.FailedPrecondition, "DATE_OUTSIDE_FISCAL_YEAR", nil},
			{"no rate", with(func(h *budgetv1.Hold) { h.Amount = cents(1000, "USD") }),
				codes.FailedPrecondition, "EXCHANGE_RATE_MISSING", nil},
			{"bad source", with(func(h *budgetv1.Hold) { h.Source = 99 }),
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"hold.source:INVALID_VALUE"}},
		} {
			_, err := placeHold(e, line, c.hold)
			if err == nil {
				t.Errorf("%s: placed", c.name)
				continue
			}
			t.Run(c.name, func(t *testing.T) { wantStatus(t, err, c.code, c.reason, c.fields...) })
		}
		if got := outboxCount(t, e, ".hold.placed"); got != 0 {
			t.Errorf("hold.placed events after refusals = %d", got)
		}
		// Another currency is converted at the rate of the month of the term's first day.
		seedRate(t, e, "2026-10", "USD", "EUR", "0.5")
		h := mustHold(t, e, line, with(func(h *budgetv1.Hold) { h.Amount = cents(1000, "USD"); h.Ttl = durationpb.New(24 * time.Hour) }))
		if minorOf(h.GetHeldAmount()) != 500 || h.GetRate().GetMonth() != "2026-10" || !h.GetExpireTime().AsTime().Equal(spendNow.Add(24*time.Hour)) {
			t.Errorf("hold in USD = %v", h)
		}
	})
}

// TestConcurrentHoldsOnABlockLine places 20 holds of 100.00 at once on a BLOCK line with
// 1,400.00 available: exactly 14 are placed and 6 refused, and available never goes negative.
func TestConcurrentHoldsOnABlockLine(t *testing.T) {
	t.Parallel()
	forEachHoldDatabase(t, func(t *testing.T, e *spendEnv, _ *clock.Fake) {
		ctx := context.Background()
		const line = "budgets/strict/lines/l"
		seedApprovedBudget(t, e, "strict", "strict", "EUR", domain.PolicyBlock,
			fixtureLine{id: "l", planned: 140000}, fixtureLine{id: "m", planned: 1200})

		_, err := placeHold(e, line, holdOf(140001, day(2026, 10, 1), day(2027, 3, 31)))
		wantStatus(t, err, codes.FailedPrecondition, "INSUFFICIENT_FUNDS")
		info, _ := rpc.Details(err)
		if md := info.GetMetadata(); md["line"] != line || md["available"] != "1400.00 EUR" || md["requested"] != "1400.01 EUR" {
			t.Errorf("metadata = %v", md)
		}
		// A commitment refused by BLOCK says the same.
		_, err = recordCommitment(e, line, 140001, day(2026, 10, 1))
		wantStatus(t, err, codes.FailedPrecondition, "INSUFFICIENT_FUNDS")
		if info, _ := rpc.Details(err); info.GetMetadata()["line"] != line {
			t.Errorf("commitment refusal metadata = %v", info.GetMetadata())
		}

		var placed, refused atomic.Int32
		testkit.Concurrently(t, 20, func(i int) error {
			_, err := placeHold(e, line, holdOf(10000, day(2026, 10, 1), day(2027, 3, 31)))
			switch {
			case err == nil:
				placed.Add(1)
			case status.Code(err) == codes.FailedPrecondition && strings.Contains(err.Error(), "exceeds the available"):
				refused.Add(1)
			default:
				return err
			}
			return nil
		})
		if placed.Load() != 14 || refused.Load() != 6 {
			t.Errorf("placed %d, refused %d; want 14 and 6", placed.Load(), refused.Load())
		}
		f := lineFigures(t, e, "strict")
		if minorOf(f.GetHeld()) != 140000 || minorOf(f.GetAvailable()) != 0 {
			t.Errorf("figures = %v", f)
		}
		checkRecomputed(t, e, "strict")
		if got := outboxCount(t, e, ".hold.placed"); got != 14 {
			t.Errorf("hold.placed events = %d, want 14", got)
		}
		if got := outboxCount(t, e, ".line.overspent"); got != 0 {
			t.Errorf("overspent events = %d, want 0", got)
		}
		// Held money is not available to commitments, transfers or the funds check either.
		_, err = recordCommitment(e, line, 1, day(2026, 10, 1))
		wantStatus(t, err, codes.FailedPrecondition, "INSUFFICIENT_FUNDS")
		_, err = e.client.CreateTransfer(ctx, &budgetv1.CreateTransferRequest{Parent: "budgets/strict", Transfer: &budgetv1.Transfer{
			SourceLine: line, TargetLine: "budgets/strict/lines/m", Amount: cents(1, "EUR"), Reason: "more", EffectiveDate: day(2026, 10, 1)}})
		wantStatus(t, err, codes.FailedPrecondition, "INSUFFICIENT_FUNDS")
		cf, err := e.client.CheckFunds(ctx, &budgetv1.CheckFundsRequest{Line: line, Amount: cents(1, "EUR")})
		if err != nil || cf.GetDecision() != budgetv1.CheckFundsResponse_DENY {
			t.Errorf("check funds = %v, %v", cf, err)
		}
	})
}

// sideServer is a second server on e's database, for the calls consumers make inside their own
// transaction (ConvertHold); its events go into the same outbox.
func sideServer(t *testing.T, e *spendEnv, now func() time.Time) (*server.Server, store.Store) {
	t.Helper()
	f, err := outbox.NewFactory(e.NATS.SubjectPrefix, now)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(e.db, f)
	return server.New(st, server.WithClock(now), server.WithFiscalYearStart(time.April)), st
}

func convert(t *testing.T, srv *server.Server, st store.Store, hold string, fb server.Commitment) (*budgetv1.Commitment, error) {
	t.Helper()
	var out *budgetv1.Commitment
	err := st.Within(context.Background(), func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = srv.ConvertHold(ctx, tx, hold, fb)
		return err
	})
	return out, err
}

func fallbackOf(line string, minor int64) server.Commitment {
	return server.Commitment{
		ID: uuid.NewString(), Line: line, Amount: money.Amount{Minor: minor, Currency: "EUR"},
		ServiceStart: civil.Date{Year: 2026, Month: time.October, Day: 1}, ServiceEnd: civil.Date{Year: 2027, Month: time.March, Day: 31},
		Source: budgetv1.Commitment_CONTRACT, SourceRef: "vendors/acme/contracts/c-2", Description: "Support",
	}
}

func TestConvertHold(t *testing.T) {
	t.Parallel()
	forEachHoldDatabase(t, func(t *testing.T, e *spendEnv, _ *clock.Fake) {
		ctx := context.Background()
		const line = "budgets/strict/lines/l"
		seedApprovedBudget(t, e, "strict", "strict", "EUR", domain.PolicyBlock, fixtureLine{id: "l", planned: 100000})
		srv, st := sideServer(t, e, func() time.Time { return spendNow })

		// HELD → CONVERTED: the hold's money moves to committed.
		h := mustHold(t, e, line, holdOf(60000, day(2026, 10, 1), day(2027, 3, 31)))
		fb := fallbackOf(line, 60000)
		c, err := convert(t, srv, st, h.GetName(), fb)
		if err != nil {
			t.Fatal(err)
		}
		if c.GetHold() != h.GetName() || minorOf(c.GetConvertedAmount()) != 60000 || c.GetState() != budgetv1.Commitment_OPEN ||
			c.GetSource() != budgetv1.Commitment_CONTRACT || c.GetSourceReference() != "vendors/acme/contracts/c-1" ||
			c.GetName() != line+"/commitments/"+fb.ID || c.GetPeriod() != "FY2027-P07" {
			t.Errorf("converted = %v", c)
		}
		got := getHold(t, e, h.GetName())
		if got.GetState() != budgetv1.Hold_CONVERTED || got.GetCommitment() != c.GetName() {
			t.Errorf("hold after conversion = %v", got)
		}
		if gc, err := e.client.GetCommitment(ctx, &budgetv1.GetCommitmentRequest{Name: c.GetName()}); err != nil || gc.GetHold() != h.GetName() {
			t.Errorf("commitment = %v, %v", gc, err)
		}
		if l, err := e.client.ListCommitments(ctx, &budgetv1.ListCommitmentsRequest{Parent: "budgets/-/lines/-",
			Filter: `hold = "` + h.GetName() + `"`}); err != nil || len(l.GetCommitments()) != 1 || l.GetCommitments()[0].GetName() != c.GetName() {
			t.Errorf("commitments of the hold = %v, %v", l, err)
		}
		f := lineFigures(t, e, "strict")
		if minorOf(f.GetHeld()) != 0 || minorOf(f.GetCommitted()) != 60000 || minorOf(f.GetAvailable()) != 40000 {
			t.Errorf("figures after conversion = %v", f)
		}
		if _, err := e.store.HoldExpiry(ctx, holdID(t, h.GetName())); !errors.Is(err, scheduler.ErrNotFound) {
			t.Errorf("expiry item of the converted hold: %v, want none", err)
		}
		if n, m := outboxCount(t, e, ".commitment.recorded"), outboxCount(t, e, ".hold.released"); n != 1 || m != 1 {
			t.Errorf("commitment.recorded %d, hold.released %d; want 1 and 1", n, m)
		}

		// Already CONVERTED: the same commitment, nothing new.
		again, err := convert(t, srv, st, h.GetName(), fallbackOf(line, 60000))
		if err != nil || again.GetName() != c.GetName() {
			t.Errorf("second conversion = %v, %v; want %s", again, err, c.GetName())
		}
		if n, m := outboxCount(t, e, ".commitment.recorded"), outboxCount(t, e, ".hold.released"); n != 1 || m != 1 {
			t.Errorf("after the second conversion: commitment.recorded %d, hold.released %d; want 1 and 1", n, m)
		}

		// RELEASED: the fallback is recorded, beyond BLOCK's available, and the line is overspent.
		r := mustHold(t, e, line, holdOf(10000, day(2026, 10, 1), day(2027, 3, 31)))
		if _, err := e.client.ReleaseHold(ctx, &budgetv1.ReleaseHoldRequest{Name: r.GetName()}); err != nil {
			t.Fatal(err)
		}
		fb = fallbackOf(line, 50000)
		c2, err := convert(t, srv, st, r.GetName(), fb)
		if err != nil {
			t.Fatal(err)
		}
		if c2.GetHold() != "" || minorOf(c2.GetConvertedAmount()) != 50000 || c2.GetSourceReference() != "vendors/acme/contracts/c-2" ||
			c2.GetName() != line+"/commitments/"+fb.ID {
			t.Errorf("fallback commitment = %v", c2)
		}
		if got := getHold(t, e, r.GetName()); got.GetState() != budgetv1.Hold_RELEASED {
			t.Errorf("released hold after the fallback = %v", got)
		}
		if f := lineFigures(t, e, "strict"); minorOf(f.GetAvailable()) != -10000 {
			t.Errorf("available after the fallback = %v", f.GetAvailable())
		}
		if got := outboxCount(t, e, ".line.overspent"); got != 1 {
			t.Errorf("overspent events = %d, want 1", got)
		}
		// The same fallback again (a redelivery) returns the same commitment.
		if c3, err := convert(t, srv, st, r.GetName(), fb); err != nil || c3.GetName() != c2.GetName() {
			t.Errorf("fallback again = %v, %v", c3, err)
		}

		// Unknown hold, or none named: the fallback, with a term across the year's end.
		fb = fallbackOf(line, 36500)
		fb.ServiceStart, fb.ServiceEnd = civil.Date{Year: 2026, Month: time.January, Day: 1}, civil.Date{Year: 2026, Month: time.December, Day: 31}
		c4, err := convert(t, srv, st, line+"/holds/unknown", fb)
		if err != nil || minorOf(c4.GetConvertedAmount()) != 27500 || c4.GetExpectedDate().GetMonth() != 4 {
			t.Errorf("fallback for an unknown hold = %v, %v", c4, err)
		}
		if _, err := convert(t, srv, st, "", fallbackOf(line, 100)); err != nil {
			t.Errorf("fallback without a hold: %v", err)
		}
		if n := outboxCount(t, e, ".commitment.recorded"); n != 4 {
			t.Errorf("commitment.recorded events = %d, want 4", n)
		}
		checkRecomputed(t, e, "strict")
	})
}

// TestHoldExpiry moves the clock past a hold's expiry: the scheduler lets it lapse, publishes
// hold.expired and gives its money back; a late conversion still records its commitment.
func TestHoldExpiry(t *testing.T) {
	t.Parallel()
	forEachHoldDatabase(t, func(t *testing.T, se *spendEnv, fake *clock.Fake) {
		ctx := context.Background()
		const line = "budgets/ops/lines/l"
		seedApprovedBudget(t, se, "ops", "ops", "EUR", domain.PolicyBlock, fixtureLine{id: "l", planned: 100000})

		h := mustHold(t, se, line, &budgetv1.Hold{Amount: cents(40000, "EUR"), ServiceStartDate: day(2026, 10, 1),
			ServiceEndDate: day(2027, 3, 31), Ttl: durationpb.New(time.Minute)})
		kept := mustHold(t, se, line, &budgetv1.Hold{Amount: cents(10000, "EUR"), ServiceStartDate: day(2026, 10, 1),
			ServiceEndDate: day(2027, 3, 31), Ttl: durationpb.New(time.Minute)})
		if _, err := se.client.ReleaseHold(ctx, &budgetv1.ReleaseHoldRequest{Name: kept.GetName()}); err != nil {
			t.Fatal(err)
		}
		if f := lineFigures(t, se, "ops"); minorOf(f.GetHeld()) != 40000 || minorOf(f.GetAvailable()) != 60000 {
			t.Fatalf("figures before the expiry = %v", f)
		}
		expiry := h.GetExpireTime().AsTime()
		if !expiry.Equal(spendNow.Add(time.Minute)) {
			t.Fatalf("expire time = %v", expiry)
		}
		waitAsleep(t, fake, expiry)
		if got := getHold(t, se, h.GetName()); got.GetState() != budgetv1.Hold_HELD {
			t.Fatalf("before the expiry: %v", got)
		}

		fake.Set(expiry.Add(time.Second))
		testkit.Eventually(t, 20*time.Second, func() bool {
			return getHold(t, se, h.GetName()).GetState() == budgetv1.Hold_EXPIRED
		})
		if f := lineFigures(t, se, "ops"); minorOf(f.GetHeld()) != 0 || minorOf(f.GetAvailable()) != 100000 {
			t.Errorf("figures after the expiry = %v", f)
		}
		if got := outboxCount(t, se, ".hold.expired"); got != 1 {
			t.Errorf("hold.expired events = %d, want 1 (the released hold's item was cancelled)", got)
		}
		if got := outboxCount(t, se, ".hold.released"); got != 1 {
			t.Errorf("hold.released events = %d, want 1", got)
		}
		if got := getHold(t, se, kept.GetName()); got.GetState() != budgetv1.Hold_RELEASED {
			t.Errorf("released hold after the expiry = %v", got)
		}
		checkRecomputed(t, se, "ops")

		// The contract's event arrives late: the expired hold still becomes its commitment.
		srv, st := sideServer(t, se, fake.Now)
		c, err := convert(t, srv, st, h.GetName(), fallbackOf(line, 40000))
		if err != nil || c.GetHold() != h.GetName() || minorOf(c.GetConvertedAmount()) != 40000 {
			t.Fatalf("late conversion = %v, %v", c, err)
		}
		if got := getHold(t, se, h.GetName()); got.GetState() != budgetv1.Hold_CONVERTED || got.GetCommitment() != c.GetName() {
			t.Errorf("hold after the late conversion = %v", got)
		}
		if f := lineFigures(t, se, "ops"); minorOf(f.GetHeld()) != 0 || minorOf(f.GetCommitted()) != 40000 {
			t.Errorf("figures after the late conversion = %v", f)
		}
		checkRecomputed(t, se, "ops")
	})
}
