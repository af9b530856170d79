package budget_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// env is one running budget service with a client calling as the test principal.
type env struct {
	*testkit.Service
	client budgetv1.BudgetServiceClient
}

// start runs the budget service on db and a NATS server of the test environment.
func start(t testing.TB, db testenv.Database) *env {
	t.Helper()
	return startService(t, db, budget.Service())
}

// startService is start for the service as svc describes it, e.g. with other settings, and
// with testkit's options, e.g. a fake clock.
func startService(t testing.TB, db testenv.Database, svc host.Service, opts ...testkit.Option) *env {
	t.Helper()
	s := testkit.Start(t, db, svc, opts...)
	return &env{Service: s, client: budgetv1.NewBudgetServiceClient(s.Conn)}
}

// clientAs returns a client of e's service that calls as subject, with scopes (every scope when
// none are given): a second person, e.g. the approver of what the test's default caller submitted.
func clientAs(t testing.TB, e *env, subject string, scopes ...string) budgetv1.BudgetServiceClient {
	t.Helper()
	return budgetv1.NewBudgetServiceClient(e.ConnAs(t, subject, scopes...))
}

// forEachDatabase runs fn against SQLite and, when available, PostgreSQL.
func forEachDatabase(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) { fn(t, start(t, db)) })
}

// wantStatus asserts err's code, ErrorInfo reason and domain, and the fields of its BadRequest.
var wantStatus = testkit.ErrorsOf(budget.Domain).Assert

func create(t *testing.T, e *env, id, name, code, parent string) *budgetv1.CostCenter {
	t.Helper()
	cc, err := e.client.CreateCostCenter(context.Background(), &budgetv1.CreateCostCenterRequest{
		CostCenterId: id,
		CostCenter:   &budgetv1.CostCenter{DisplayName: name, Code: code, Parent: parent, Owner: "cio@example.com"},
	})
	if err != nil {
		t.Fatalf("create %s: %v", code, err)
	}
	return cc
}

func TestCostCenterLifecycle(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cc := create(t, e, "", "Infrastructure", "CC-100", "")
		if !strings.HasPrefix(cc.GetName(), "costCenters/") || len(cc.GetName()) != len("costCenters/")+36 {
			t.Errorf("server-assigned name = %q, want costCenters/<uuid>", cc.GetName())
		}
		if !cc.GetActive() || cc.GetEtag() == "" || cc.GetCreateTime() == nil || !cc.GetCreateTime().AsTime().Equal(cc.GetUpdateTime().AsTime()) {
			t.Errorf("created = %v", cc)
		}

		got, err := e.client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: cc.GetName()})
		if err != nil || !proto.Equal(got, cc) {
			t.Fatalf("get = %v, %v; want %v", got, err, cc)
		}

		// Update through a mask: only the named field changes, the etag moves on.
		upd, err := e.client.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{Name: cc.GetName(), DisplayName: "Infra & Ops", Code: "IGNORED", Etag: cc.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if upd.GetDisplayName() != "Infra & Ops" || upd.GetCode() != "CC-100" || upd.GetEtag() == cc.GetEtag() ||
			!upd.GetCreateTime().AsTime().Equal(cc.GetCreateTime().AsTime()) {
			t.Errorf("updated = %v", upd)
		}

		// The old etag is stale now.
		_, err = e.client.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{Name: cc.GetName(), Owner: "x", Etag: cc.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"owner"}},
		})
		wantStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		_, err = e.client.DeleteCostCenter(ctx, &budgetv1.DeleteCostCenterRequest{Name: cc.GetName(), Etag: cc.GetEtag()})
		wantStatus(t, err, codes.Aborted, "ETAG_MISMATCH")

		// An update that changes nothing keeps the etag.
		same, err := e.client.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{Name: cc.GetName(), DisplayName: "Infra & Ops"},
		})
		if err != nil || same.GetEtag() != upd.GetEtag() {
			t.Errorf("no-op update = %v, %v; want etag %s", same, err, upd.GetEtag())
		}

		if _, err := e.client.DeleteCostCenter(ctx, &budgetv1.DeleteCostCenterRequest{Name: cc.GetName(), Etag: upd.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: cc.GetName()})
		wantStatus(t, err, codes.NotFound, "COST_CENTER_NOT_FOUND")

		// Every change produced its event, in order, with the aggregate's version.
		evs := e.Events(t, 3)
		wantSubjects := []string{"cost_center.created", "cost_center.updated", "cost_center.deleted"}
		for i, m := range evs {
			if want := e.Subject(wantSubjects[i]); m.Subject() != want {
				t.Errorf("event %d subject = %s, want %s", i, m.Subject(), want)
			}
			if v := m.Headers().Get(events.HeaderVersion); v != fmt.Sprint(i+1) {
				t.Errorf("event %d version header = %s", i, v)
			}
			if m.Headers().Get(events.HeaderSubject) != cc.GetName() {
				t.Errorf("event %d ce-subject = %s", i, m.Headers().Get(events.HeaderSubject))
			}
		}
		var updated budgetv1.CostCenterUpdated
		if err := protojson.Unmarshal(evs[1].Data(), &updated); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(updated.GetChangedFields().GetPaths(), []string{"display_name"}) || updated.GetVersion() != 2 ||
			updated.GetCostCenter().GetDisplayName() != "Infra & Ops" {
			t.Errorf("updated event = %v", &updated)
		}
	})
}

func TestCreateRejectsBadInput(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tests := []struct {
			name   string
			req    *budgetv1.CreateCostCenterRequest
			code   codes.Code
			reason string
			fields []string
		}{
			{"no cost centre", &budgetv1.CreateCostCenterRequest{}, codes.InvalidArgument, "INVALID_ARGUMENT", []string{"cost_center:REQUIRED"}},
			{"missing display name and code", &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{Owner: "x"}},
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"cost_center.display_name:REQUIRED", "cost_center.code:REQUIRED"}},
			{"code pattern (schema rule)", &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "X", Code: "cc 1"}},
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"cost_center.code:STRING_PATTERN"}},
			{"bad id", &budgetv1.CreateCostCenterRequest{CostCenterId: "Bad_ID", CostCenter: &budgetv1.CostCenter{DisplayName: "X", Code: "X"}},
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"cost_center_id:STRING_PATTERN"}},
			{"unknown parent", &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "X", Code: "X", Parent: "costCenters/ghost"}},
				codes.InvalidArgument, "PARENT_NOT_FOUND", []string{"cost_center.parent:PARENT_NOT_FOUND"}},
			{"malformed parent", &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "X", Code: "X", Parent: "teams/1"}},
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"cost_center.parent:STRING_PATTERN"}},
			// PostgreSQL's text refuses a NUL (a 500 before the platform's text rule); SQLite stored it.
			{"NUL in the display name", &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "Infra\x00", Code: "X"}},
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"cost_center.display_name:CONTROL_CHARACTER"}},
			{"line break in the display name, escape in the owner", &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "In\nfra", Code: "X", Owner: "\x1b[2Jcio@example.com"}},
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"cost_center.display_name:CONTROL_CHARACTER", "cost_center.owner:CONTROL_CHARACTER"}},
			{"NUL in the description", &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "X", Code: "X", Description: "a\tb\n\x00"}},
				codes.InvalidArgument, "INVALID_ARGUMENT", []string{"cost_center.description:CONTROL_CHARACTER"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.client.CreateCostCenter(ctx, tt.req)
				wantStatus(t, err, tt.code, tt.reason, tt.fields...)
			})
		}

		list, err := e.client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{})
		if err != nil || len(list.GetCostCenters()) != 0 {
			t.Fatalf("cost centres after refused creates: %v, %v; want none", list.GetCostCenters(), err)
		}

		// A long text keeps its tabs and line breaks, on both engines.
		desc := "Servers and networks.\n\tCloud: yes\r\nOn-premises: no"
		multi, err := e.client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenterId: "multi",
			CostCenter: &budgetv1.CostCenter{DisplayName: "Multi", Code: "CC-099", Description: desc}})
		if err != nil || multi.GetDescription() != desc {
			t.Fatalf("create with a multi-line description = %q, %v; want it kept", multi.GetDescription(), err)
		}
		if got, err := e.client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: multi.GetName()}); err != nil || got.GetDescription() != desc {
			t.Fatalf("stored description = %q, %v; want %q", got.GetDescription(), err, desc)
		}
		// An update is refused the same way, and changes nothing.
		_, err = e.client.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{Name: multi.GetName(), DisplayName: "Mul\x00ti"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "cost_center.display_name:CONTROL_CHARACTER")
		if got, err := e.client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: multi.GetName()}); err != nil || got.GetDisplayName() != "Multi" {
			t.Fatalf("display name after a refused update = %q, %v; want Multi", got.GetDisplayName(), err)
		}

		create(t, e, "infra", "Infrastructure", "CC-100", "")
		_, err = e.client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenterId: "infra",
			CostCenter: &budgetv1.CostCenter{DisplayName: "Again", Code: "CC-101"}})
		wantStatus(t, err, codes.AlreadyExists, "COST_CENTER_ALREADY_EXISTS")
		_, err = e.client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{DisplayName: "Clash", Code: "CC-100"}})
		wantStatus(t, err, codes.AlreadyExists, "COST_CENTER_CODE_TAKEN")
	})
}

func TestUpdateRules(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		division := create(t, e, "division", "Technology", "D-1", "")
		dept := create(t, e, "dept", "Infrastructure", "D-2", division.GetName())
		team := create(t, e, "team", "Network", "D-3", dept.GetName())

		update := func(cc *budgetv1.CostCenter, paths ...string) (*budgetv1.CostCenter, error) {
			return e.client.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{CostCenter: cc, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
		}
		_, err := update(&budgetv1.CostCenter{Name: division.GetName(), Parent: team.GetName()}, "parent")
		wantStatus(t, err, codes.InvalidArgument, "PARENT_CYCLE", "cost_center.parent:PARENT_CYCLE")
		_, err = update(&budgetv1.CostCenter{Name: dept.GetName(), Parent: dept.GetName()}, "parent")
		wantStatus(t, err, codes.InvalidArgument, "PARENT_CYCLE", "cost_center.parent:PARENT_CYCLE")
		_, err = update(&budgetv1.CostCenter{Name: dept.GetName()}, "create_time", "code", "nonsense")
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "update_mask:FIELD_NOT_WRITABLE", "update_mask:FIELD_NOT_WRITABLE")
		_, err = update(&budgetv1.CostCenter{Name: dept.GetName(), DisplayName: ""}, "display_name")
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "cost_center.display_name:REQUIRED")
		_, err = update(&budgetv1.CostCenter{Name: "costCenters/ghost", Owner: "x"}, "owner")
		wantStatus(t, err, codes.NotFound, "COST_CENTER_NOT_FOUND")
		_, err = update(&budgetv1.CostCenter{Name: team.GetName(), Parent: "costCenters/ghost"}, "parent")
		wantStatus(t, err, codes.InvalidArgument, "PARENT_NOT_FOUND", "cost_center.parent:PARENT_NOT_FOUND")
		_, err = update(&budgetv1.CostCenter{Name: team.GetName(), Code: "D-1"}, "code")
		wantStatus(t, err, codes.AlreadyExists, "COST_CENTER_CODE_TAKEN")

		// Moving the team under the division and making the department a root is legal; "*"
		// replaces every writable field, so unset ones are cleared and the inactive flag applies.
		moved, err := update(&budgetv1.CostCenter{Name: team.GetName(), Parent: division.GetName()}, "parent")
		if err != nil || moved.GetParent() != division.GetName() {
			t.Fatalf("move = %v, %v", moved, err)
		}
		root, err := update(&budgetv1.CostCenter{Name: dept.GetName(), DisplayName: "Infra", Code: "D-2", Active: proto.Bool(false)}, "*")
		if err != nil || root.GetParent() != "" || root.GetOwner() != "" || root.GetActive() {
			t.Fatalf("full replacement = %v, %v", root, err)
		}

		_, err = e.client.DeleteCostCenter(ctx, &budgetv1.DeleteCostCenterRequest{Name: division.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "COST_CENTER_HAS_CHILDREN")
	})
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var want []string
		for i := range 7 {
			want = append(want, create(t, e, "", fmt.Sprintf("CC %d", i), fmt.Sprintf("CC-%d", i), "").GetName())
		}
		var got []string
		token := ""
		for pages := 0; ; pages++ {
			resp, err := e.client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{PageSize: 3, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range resp.GetCostCenters() {
				got = append(got, c.GetName())
			}
			token = resp.GetNextPageToken()
			if token == "" {
				if pages != 2 {
					t.Errorf("pages = %d, want 3", pages+1)
				}
				break
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("listed %v, want %v", got, want)
		}
		all, err := e.client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{PageSize: 5000})
		if err != nil || len(all.GetCostCenters()) != 7 || all.GetNextPageToken() != "" {
			t.Errorf("page size above the maximum: %d items, token %q, %v", len(all.GetCostCenters()), all.GetNextPageToken(), err)
		}
		_, err = e.client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{PageSize: -1})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "page_size:INT32_GTE")
		_, err = e.client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{PageToken: "not-a-token"})
		wantStatus(t, err, codes.InvalidArgument, "PAGE_TOKEN_INVALID", "page_token:PAGE_TOKEN_INVALID")
	})
}

func TestHealth(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.SQLite(t))
	h := healthpb.NewHealthClient(e.Conn)
	for _, svc := range []string{"", budgetv1.BudgetService_ServiceDesc.ServiceName} {
		resp, err := h.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health(%q) = %v, %v", svc, resp, err)
		}
	}
}
