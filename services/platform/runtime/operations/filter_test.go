package operations_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// t0 is the create_time of record 2; the others are around it, two of them a microsecond apart
// and one with a fraction of a second, to prove time comparisons to the microsecond.
var t0 = time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)

// seed appends five records and sets their create_time to fixed instants (which breaks their
// hashes, which listing does not check).
func (e *env) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for i, r := range []struct {
		actor, resource, action, requestID string
		at                                 time.Time
	}{
		{"users/alice", "costCenters/infra", audit.Create, "r1", t0.Add(-time.Hour)},
		{"users/alice", "costCenters/infra", audit.Update, "r2", t0},
		{"users/bob", "costCenters/apps", audit.Create, "r3", t0.Add(time.Microsecond)},
		{"users/bob", "costCenters/infra", audit.Delete, "r4", t0.Add(time.Hour + 500*time.Millisecond)},
		{"users/carol", "costCenters/apps", audit.Update, `r"5`, t0.Add(2 * time.Hour)},
	} {
		err := e.db.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := audit.Append(ctx, tx, e.db.Engine(), audit.Entry{
				Actor: r.actor, Method: "/quarterdeck.budget.v1.BudgetService/" + r.action, Resource: r.resource,
				Action: r.action, RequestID: r.requestID,
			}); err != nil {
				return err
			}
			// Before sealing, so that the record's hash covers the time it is given here.
			_, err := tx.ExecContext(ctx, `UPDATE audit_records SET create_time = $1 WHERE sequence IS NULL`, r.at)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := audit.SealPending(ctx, e.db); err != nil || n != 1 {
			t.Fatalf("record %d: sealed %d, %v", i+1, n, err)
		}
	}
}

// list returns the sequences of every record the filter selects, following the pages, and the
// number of pages.
func (e *env) list(t *testing.T, expr string, pageSize int32) ([]int64, int) {
	t.Helper()
	records, pages := testkit.AllPages(t, func(token string) ([]*operationsv1.AuditRecord, string, error) {
		resp, err := e.client.ListAuditRecords(context.Background(), &operationsv1.ListAuditRecordsRequest{
			Parent: "services/budget", Filter: expr, PageSize: pageSize, PageToken: token})
		return resp.GetAuditRecords(), resp.GetNextPageToken(), err
	})
	var seqs []int64
	for _, r := range records {
		seqs = append(seqs, r.GetSequence())
	}
	return seqs, pages
}

func TestListAuditRecordsFilter(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		e := start(t, d, nil)
		e.seed(t)
		for _, tt := range []struct {
			filter string
			want   []int64
		}{
			{``, []int64{1, 2, 3, 4, 5}},
			{`resource = "costCenters/infra"`, []int64{1, 2, 4}},
			{`actor = "users/alice" AND action = UPDATE`, []int64{2}},
			{`actor = "users/alice" action = "CREATE"`, []int64{1}},
			{`method = "/quarterdeck.budget.v1.BudgetService/DELETE"`, []int64{4}},
			{`request_id = "r\"5"`, []int64{5}},
			{`action = DELETE OR actor = "users/carol"`, []int64{4, 5}},
			{`NOT resource = "costCenters/infra"`, []int64{3, 5}},
			{`-actor = "users/bob"`, []int64{1, 2, 5}},
			{`resource != "costCenters/apps" AND (action = CREATE OR action = DELETE)`, []int64{1, 4}},
			{`NOT (actor = "users/alice" OR actor = "users/bob")`, []int64{5}},
			{`resource = "costCenters/none"`, nil},
			// Time ranges, to the microsecond and across offsets.
			{`create_time >= "2026-01-15T08:00:00Z"`, []int64{2, 3, 4, 5}},
			{`create_time > "2026-01-15T08:00:00Z"`, []int64{3, 4, 5}},
			{`create_time = "2026-01-15T08:00:00.000001Z"`, []int64{3}},
			{`create_time <= "2026-01-15T08:00:00.000001Z"`, []int64{1, 2, 3}},
			{`create_time < "2026-01-15T10:00:00.5+01:00"`, []int64{1, 2, 3}},
			{`create_time <= "2026-01-15T10:00:00.5+01:00"`, []int64{1, 2, 3, 4}},
			{`create_time > "2026-01-15T09:00:00.4999Z" AND create_time < "2026-01-15T09:00:00.5001Z"`, []int64{4}},
			{`create_time >= "2026-01-15T07:00:00Z" AND create_time < "2026-01-15T08:00:00Z"`, []int64{1}},
			{`resource = "costCenters/apps" AND create_time > "2026-01-15T08:00:00.000001Z"`, []int64{5}},
		} {
			got, _ := e.list(t, tt.filter, 0)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q = %v, want %v", tt.filter, got, tt.want)
			}
		}

		// Pages of a filtered list, oldest first, end on the last match.
		got, pages := e.list(t, `resource = "costCenters/infra" OR actor = "users/carol"`, 2)
		if !slices.Equal(got, []int64{1, 2, 4, 5}) || pages != 2 {
			t.Errorf("filtered pages = %v in %d pages, want [1 2 4 5] in 2", got, pages)
		}
		got, pages = e.list(t, `actor = "users/bob" OR create_time >= "2026-01-15T10:00:00Z"`, 1)
		if !slices.Equal(got, []int64{3, 4, 5}) || pages != 3 {
			t.Errorf("filtered pages = %v in %d pages, want [3 4 5] in 3", got, pages)
		}
	})
}

func TestListAuditRecordsFilterErrors(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		e := start(t, d, nil)
		e.seed(t)
		ctx := context.Background()
		for _, tt := range []struct{ filter, reason string }{
			{`resource`, filter.ReasonSyntax},
			{`resource =`, filter.ReasonSyntax},
			{`resource ~ "x"`, filter.ReasonSyntax},
			{`(resource = "x"`, filter.ReasonSyntax},
			{`resource = "unterminated`, filter.ReasonSyntax},
			{`resource = "x" AND`, filter.ReasonSyntax},
			{`owner = "x"`, filter.ReasonUnknownField},
			{`trace_id = "x"`, filter.ReasonUnknownField},
			{`resource = "x" OR changes = "y"`, filter.ReasonUnknownField},
			{`create_time >= "yesterday"`, filter.ReasonInvalidValue},
			{`create_time > 2026`, filter.ReasonInvalidValue},
			{`resource:*`, filter.ReasonInvalidValue},
		} {
			t.Run(tt.filter, func(t *testing.T) {
				_, err := e.client.ListAuditRecords(ctx, &operationsv1.ListAuditRecordsRequest{Parent: "services/budget", Filter: tt.filter})
				wantError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter:"+tt.reason)
			})
		}

		// A page token is refused with another filter than the one it was issued for.
		req := &operationsv1.ListAuditRecordsRequest{Parent: "services/budget", Filter: `actor = "users/alice"`, PageSize: 1}
		first, err := e.client.ListAuditRecords(ctx, req)
		if err != nil || first.GetNextPageToken() == "" {
			t.Fatalf("first page: %v, %v", first, err)
		}
		req.PageToken = first.GetNextPageToken()
		if _, err := e.client.ListAuditRecords(ctx, req); err != nil {
			t.Fatalf("second page with the same filter: %v", err)
		}
		req.Filter = `actor = "users/bob"`
		_, err = e.client.ListAuditRecords(ctx, req)
		wantError(t, err, codes.InvalidArgument, "PAGE_TOKEN_INVALID", "page_token")
	})
}
