package consumer_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// filterEnv is a runtime that is never started, over dead letters written directly: listing
// needs neither NATS nor a handler.
func filterEnv(t *testing.T, d testenv.Database) *consumer.Runtime {
	t.Helper()
	db := openDB(t, d)
	rt, err := consumer.New(db, nil, []consumer.Spec{{Name: "budget-watch", Domain: "budget",
		Handler: func(context.Context, *sql.Tx, consumer.Event) error { return nil }}},
		consumer.Options{Service: "risk", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	seedDeadLetters(t, db)
	return rt
}

// dlT0 is the create_time of dead letter d2; the others are around it, two of them a
// microsecond apart and one with a fraction of a second, to prove time comparisons to the
// microsecond.
var dlT0 = time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)

// seedDeadLetters writes the dead letters d1 to d4, created in that order (ids sort as their
// creation, as UUIDv7 do).
func seedDeadLetters(t *testing.T, db *sqldb.DB) {
	t.Helper()
	for i, r := range []struct {
		consumer, eventType, subject, state string
		at                                  time.Time
	}{
		{"budget-watch", "quarterdeck.budget.v1.CostCenterCreated", "qd.budget.cost_center.created", "PENDING", dlT0.Add(-time.Hour)},
		{"budget-watch", "quarterdeck.budget.v1.CostCenterUpdated", "qd.budget.cost_center.updated", "REPLAYED", dlT0},
		{"vendor-watch", "quarterdeck.vendor.v1.VendorCreated", "qd.vendor.vendor.created", "PENDING", dlT0.Add(time.Microsecond)},
		{"vendor-watch", "quarterdeck.budget.v1.CostCenterCreated", "qd.budget.cost_center.created", "PENDING",
			dlT0.Add(time.Hour + 500*time.Millisecond)},
	} {
		_, err := db.ExecContext(context.Background(), `INSERT INTO consumer_dead_letters (id, consumer, event_id,
			event_type, subject, payload, headers, error, attempts, state, create_time)
			VALUES ($1, $2, $3, $4, $5, $6, '{}', 'failed', 3, $7, $8)`,
			fmt.Sprintf("d%d", i+1), r.consumer, fmt.Sprintf("e%d", i+1), r.eventType, r.subject, []byte("{}"), r.state, r.at)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// listDeadLetters returns the ids of every dead letter the filter selects, following the pages,
// and the number of pages.
func listDeadLetters(t *testing.T, rt *consumer.Runtime, expr string, pageSize int32) ([]string, int) {
	t.Helper()
	dls, pages := testkit.AllPages(t, func(token string) ([]*operationsv1.DeadLetter, string, error) {
		resp, err := rt.ListDeadLetters(context.Background(), &operationsv1.ListDeadLettersRequest{
			Parent: "services/risk", Filter: expr, PageSize: pageSize, PageToken: token})
		return resp.GetDeadLetters(), resp.GetNextPageToken(), err
	})
	var ids []string
	for _, d := range dls {
		ids = append(ids, d.GetEventId())
	}
	return ids, pages
}

func TestListDeadLettersFilter(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		rt := filterEnv(t, d)
		for _, tt := range []struct {
			filter string
			want   []string
		}{
			{``, []string{"e4", "e3", "e2", "e1"}},
			{`state = STATE_PENDING`, []string{"e4", "e3", "e1"}},
			{`state != STATE_PENDING`, []string{"e2"}},
			{`state:STATE_REPLAYED`, []string{"e2"}},
			{`consumer = "budget-watch" AND state = STATE_REPLAYED`, []string{"e2"}},
			{`consumer = "vendor-watch" OR event_type = "quarterdeck.budget.v1.CostCenterUpdated"`, []string{"e4", "e3", "e2"}},
			{`NOT consumer = "budget-watch"`, []string{"e4", "e3"}},
			{`-(state = STATE_PENDING AND consumer = "vendor-watch")`, []string{"e2", "e1"}},
			{`subject = "qd.budget.cost_center.created" state = STATE_PENDING`, []string{"e4", "e1"}},
			{`event_type = "quarterdeck.vendor.v1.VendorCreated"`, []string{"e3"}},
			{`(consumer = "vendor-watch" AND create_time < "2026-01-15T09:00:00Z") OR state = STATE_REPLAYED`, []string{"e3", "e2"}},
			// Time ranges, to the microsecond and across offsets.
			{`create_time >= "2026-01-15T08:00:00Z"`, []string{"e4", "e3", "e2"}},
			{`create_time > "2026-01-15T08:00:00Z"`, []string{"e4", "e3"}},
			{`create_time = "2026-01-15T08:00:00.000001Z"`, []string{"e3"}},
			{`create_time < "2026-01-15T10:00:00.5+01:00"`, []string{"e3", "e2", "e1"}},
			{`create_time <= "2026-01-15T10:00:00.5+01:00"`, []string{"e4", "e3", "e2", "e1"}},
			{`create_time > "2026-01-15T08:00:00Z" AND create_time < "2026-01-15T09:00:00Z"`, []string{"e3"}},
		} {
			got, _ := listDeadLetters(t, rt, tt.filter, 0)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q = %v, want %v", tt.filter, got, tt.want)
			}
		}

		// A create_time as the list returns it selects its dead letter.
		all, err := rt.ListDeadLetters(context.Background(), &operationsv1.ListDeadLettersRequest{Parent: "services/risk"})
		if err != nil {
			t.Fatal(err)
		}
		at := all.GetDeadLetters()[0].GetCreateTime().AsTime().Format(time.RFC3339Nano)
		if got, _ := listDeadLetters(t, rt, `create_time = "`+at+`"`, 0); !slices.Equal(got, []string{"e4"}) {
			t.Errorf("create_time = %s: %v, want [e4]", at, got)
		}

		// Pages of a filtered list stay newest first.
		got, pages := listDeadLetters(t, rt, `state = STATE_PENDING`, 2)
		if !slices.Equal(got, []string{"e4", "e3", "e1"}) || pages != 2 {
			t.Errorf("filtered pages = %v in %d pages, want [e4 e3 e1] in 2", got, pages)
		}
		got, pages = listDeadLetters(t, rt, `create_time <= "2026-01-15T08:00:00.000001Z"`, 1)
		if !slices.Equal(got, []string{"e3", "e2", "e1"}) || pages != 3 {
			t.Errorf("filtered pages = %v in %d pages, want [e3 e2 e1] in 3", got, pages)
		}
	})
}

func TestListDeadLettersFilterErrors(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		rt := filterEnv(t, d)
		ctx := context.Background()
		for _, tt := range []struct{ filter, reason string }{
			{`state =`, filter.ReasonSyntax},
			{`(state = STATE_PENDING`, filter.ReasonSyntax},
			{`error = "x"`, filter.ReasonUnknownField},
			{`payload = "x"`, filter.ReasonUnknownField},
			{`state = PENDING`, filter.ReasonInvalidValue},
			{`state = STATE_UNSPECIFIED`, filter.ReasonInvalidValue},
			{`state > STATE_PENDING`, filter.ReasonInvalidValue},
			{`create_time > "yesterday"`, filter.ReasonInvalidValue},
		} {
			_, err := rt.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/risk", Filter: tt.filter})
			fe := fault.As(err)
			if fe == nil || fe.Kind != fault.InvalidArgument || len(fe.Violations) != 1 ||
				fe.Violations[0].Field != "filter" || fe.Violations[0].Reason != tt.reason {
				t.Errorf("%q: %v, want INVALID_ARGUMENT with a %s violation on filter", tt.filter, err, tt.reason)
			}
		}
		// Every bad field is reported at once.
		_, err := rt.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/risk", PageSize: -1, Filter: `colour = red`})
		if fe := fault.As(err); fe == nil || len(fe.Violations) != 2 || fe.Violations[0].Field != "page_size" ||
			fe.Violations[1].Field != "filter" || fe.Violations[1].Reason != filter.ReasonUnknownField {
			t.Errorf("bad page size and filter: %v", err)
		}

		// A page token is refused with another filter than the one it was issued for.
		req := &operationsv1.ListDeadLettersRequest{Parent: "services/risk", Filter: `state = STATE_PENDING`, PageSize: 1}
		first, err := rt.ListDeadLetters(ctx, req)
		if err != nil || first.GetNextPageToken() == "" {
			t.Fatalf("first page: %v, %v", first, err)
		}
		req.PageToken = first.GetNextPageToken()
		if _, err := rt.ListDeadLetters(ctx, req); err != nil {
			t.Fatalf("second page with the same filter: %v", err)
		}
		req.Filter = `state = STATE_REPLAYED`
		_, err = rt.ListDeadLetters(ctx, req)
		if fe := fault.As(err); fe == nil || fe.Kind != fault.InvalidArgument || fe.Reason != "PAGE_TOKEN_INVALID" {
			t.Errorf("token with another filter: %v, want PAGE_TOKEN_INVALID", err)
		}
	})
}
