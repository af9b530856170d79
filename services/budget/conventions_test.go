package budget_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestCreateRequestID sends 100 identical creates with one request ID at once: one cost centre,
// one event, and every caller gets it. A later retry gets it too; a different request with the
// same ID is refused.
func TestCreateRequestID(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		db := e.DB(t)
		req := &budgetv1.CreateCostCenterRequest{
			RequestId:  "3f0e8a8c-6a57-4c1e-9a3b-5d2f7e6c1b40",
			CostCenter: &budgetv1.CostCenter{DisplayName: "Infrastructure", Code: "CC-100"},
		}
		const callers = 100
		var wg sync.WaitGroup
		resps := make([]*budgetv1.CostCenter, callers)
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() { resps[i], errs[i] = e.client.CreateCostCenter(ctx, req) })
		}
		wg.Wait()
		for i := range callers {
			if errs[i] != nil || !proto.Equal(resps[i], resps[0]) {
				t.Fatalf("caller %d: %v, %v; want %v", i, resps[i], errs[i], resps[0])
			}
		}
		list, err := e.client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{})
		if err != nil || len(list.GetCostCenters()) != 1 {
			t.Fatalf("list = %v, %v; want 1 cost centre", list, err)
		}
		if n := testkit.Column[int](t, db, `SELECT COUNT(*) FROM outbox`)[0]; n != 1 {
			t.Errorf("outbox rows = %d, want 1", n)
		}
		// Every outbox row published, the stream holds exactly one event.
		testkit.Eventually(t, 15*time.Second, func() error {
			n, _, err := outbox.Pending(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				return fmt.Errorf("%d events still pending", n)
			}
			return nil
		})
		stream, err := e.JetStream.Stream(ctx, e.Stream())
		if err != nil {
			t.Fatal(err)
		}
		info, err := stream.Info(ctx)
		if err != nil || info.State.Msgs != 1 {
			t.Errorf("stream messages = %v, %v; want 1", info.State.Msgs, err)
		}

		// A retry after the fact returns the original cost centre, even after it changed.
		upd, err := e.client.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{Name: resps[0].GetName(), Owner: "cfo@example.com"}})
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.client.CreateCostCenter(ctx, req)
		if err != nil || !proto.Equal(again, resps[0]) || again.GetEtag() == upd.GetEtag() {
			t.Errorf("retry = %v, %v; want the original %v", again, err, resps[0])
		}
		// The same ID with another request is refused.
		other := proto.CloneOf(req)
		other.CostCenter.Code = "CC-200"
		_, err = e.client.CreateCostCenter(ctx, other)
		wantStatus(t, err, codes.InvalidArgument, "REQUEST_ID_REUSED", "request_id:REQUEST_ID_REUSED")
		// Request IDs are UUIDs.
		bad := proto.CloneOf(req)
		bad.RequestId = "retry-1"
		_, err = e.client.CreateCostCenter(ctx, bad)
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "request_id:STRING_UUID")
		// Refused requests store no request ID.
		if n := testkit.Column[int](t, db, `SELECT COUNT(*) FROM request_ids`)[0]; n != 1 {
			t.Errorf("request ids stored = %d, want 1", n)
		}
	})
}

// TestConcurrentUpdatesWithOneEtag sends 50 updates carrying the same etag at once: exactly one
// wins, the others get ABORTED with ETAG_MISMATCH, and no update is lost or doubled.
func TestConcurrentUpdatesWithOneEtag(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cc := create(t, e, "infra", "Infrastructure", "CC-100", "")
		const callers = 50
		var wg sync.WaitGroup
		errs := make([]error, callers)
		for i := range callers {
			wg.Go(func() {
				_, errs[i] = e.client.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
					CostCenter: &budgetv1.CostCenter{Name: cc.GetName(), Description: fmt.Sprint("writer ", i), Etag: cc.GetEtag()},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
				})
			})
		}
		wg.Wait()
		ok, aborted := 0, 0
		for _, err := range errs {
			if err == nil {
				ok++
				continue
			}
			if status.Code(err) == codes.Aborted {
				wantStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
				aborted++
			} else {
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 || aborted != callers-1 {
			t.Errorf("%d succeeded, %d aborted; want 1 and %d", ok, aborted, callers-1)
		}
		got, err := e.client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: cc.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		// Version 2: one change on top of the create.
		if evs := e.Events(t, 2); evs[1].Headers().Get(events.HeaderVersion) != "2" {
			t.Errorf("second event version = %s", evs[1].Headers().Get(events.HeaderVersion))
		}
		if got.GetEtag() == cc.GetEtag() {
			t.Error("etag unchanged after the winning update")
		}
	})
}

// TestListFilterAndOrder lists through the API with filter, order_by and pages, and checks the
// errors of each.
func TestListFilterAndOrder(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		it := create(t, e, "it", "technology", "IT", "")
		for i, n := range []string{"network", "storage", "apps", "security", "data"} {
			create(t, e, n, n, fmt.Sprintf("IT%d", i), it.GetName())
		}
		create(t, e, "hr", "people", "HR", "")
		names := func(req *budgetv1.ListCostCentersRequest) []string {
			t.Helper()
			var out []string
			for {
				resp, err := e.client.ListCostCenters(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range resp.GetCostCenters() {
					out = append(out, c.GetDisplayName())
				}
				if resp.GetNextPageToken() == "" {
					return out
				}
				req = proto.CloneOf(req)
				req.PageToken = resp.GetNextPageToken()
			}
		}
		got := names(&budgetv1.ListCostCentersRequest{Filter: `parent = "costCenters/it"`, OrderBy: "display_name desc", PageSize: 2})
		if want := []string{"storage", "security", "network", "data", "apps"}; !slices.Equal(got, want) {
			t.Errorf("children of it by display_name desc = %v, want %v", got, want)
		}
		got = names(&budgetv1.ListCostCentersRequest{Filter: `parent = null OR code = "IT3"`, OrderBy: "code"})
		if want := []string{"people", "technology", "security"}; !slices.Equal(got, want) {
			t.Errorf("roots and IT3 by code = %v, want %v", got, want)
		}

		first, err := e.client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{PageSize: 1, Filter: "active = true"})
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			req    *budgetv1.ListCostCentersRequest
			reason string
			field  string
		}{
			{&budgetv1.ListCostCentersRequest{Filter: `colour = "red"`}, "INVALID_ARGUMENT", "filter:FILTER_UNKNOWN_FIELD"},
			{&budgetv1.ListCostCentersRequest{Filter: `display_name =`}, "INVALID_ARGUMENT", "filter:FILTER_SYNTAX_ERROR"},
			{&budgetv1.ListCostCentersRequest{Filter: `parent = "it"`}, "INVALID_ARGUMENT", "filter:FILTER_INVALID_VALUE"},
			{&budgetv1.ListCostCentersRequest{Filter: `create_time > "last week"`}, "INVALID_ARGUMENT", "filter:FILTER_INVALID_VALUE"},
			{&budgetv1.ListCostCentersRequest{OrderBy: "colour"}, "INVALID_ARGUMENT", "order_by:ORDER_BY_INVALID"},
			{&budgetv1.ListCostCentersRequest{OrderBy: "code sideways"}, "INVALID_ARGUMENT", "order_by:ORDER_BY_INVALID"},
			{&budgetv1.ListCostCentersRequest{PageToken: first.GetNextPageToken(), Filter: "active = false"}, "PAGE_TOKEN_INVALID", "page_token:PAGE_TOKEN_INVALID"},
			{&budgetv1.ListCostCentersRequest{PageToken: first.GetNextPageToken(), Filter: "active = true", OrderBy: "code"}, "PAGE_TOKEN_INVALID", "page_token:PAGE_TOKEN_INVALID"},
		}
		for _, tt := range tests {
			_, err := e.client.ListCostCenters(ctx, tt.req)
			wantStatus(t, err, codes.InvalidArgument, tt.reason, tt.field)
		}
	})
}
