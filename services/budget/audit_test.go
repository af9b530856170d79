package budget_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// auditRecords lists every audit record of the budget service once at least want are sealed
// (records are listed a moment after their commit, once the service's sealer has sealed them),
// failing after a deadline. The pass that seals the last of the calls' records also seals any
// record committed before it, so a count above want still shows.
func auditRecords(t *testing.T, e *env, want int) []*operationsv1.AuditRecord {
	t.Helper()
	var rs []*operationsv1.AuditRecord
	testkit.Eventually(t, 20*time.Second, func() error {
		resp, err := operationsv1.NewOperationsServiceClient(e.Conn).ListAuditRecords(context.Background(),
			&operationsv1.ListAuditRecordsRequest{Parent: "services/budget", PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if rs = resp.GetAuditRecords(); len(rs) < want {
			return fmt.Errorf("%d audit records sealed, want %d: %v", len(rs), want, rs)
		}
		return nil
	})
	return rs
}

// changes renders a record's changes as "path: before -> after" in compact JSON.
func changes(t *testing.T, r *operationsv1.AuditRecord) []string {
	t.Helper()
	var out []string
	for _, c := range r.GetChanges() {
		out = append(out, fmt.Sprintf("%s: %s -> %s", c.GetPath(), compact(t, c.Before), compact(t, c.After)))
	}
	return out
}

func compact(t *testing.T, v *structpb.Value) string {
	t.Helper()
	if v == nil {
		return "-"
	}
	b, err := protojson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(x)
	return string(b)
}

func TestCostCenterChangesAreAudited(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-request-id", "gw-req-1")
		cc, err := e.client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
			CostCenterId: "infra", CostCenter: &budgetv1.CostCenter{DisplayName: "Infrastructure", Code: "CC-100"},
		})
		if err != nil {
			t.Fatal(err)
		}
		upd, err := e.client.UpdateCostCenter(context.Background(), &budgetv1.UpdateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{Name: cc.GetName(), DisplayName: "Infra and Ops", Owner: "cio@example.com"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name", "owner"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		// A no-op update changes nothing and records nothing.
		if _, err := e.client.UpdateCostCenter(context.Background(), &budgetv1.UpdateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{Name: cc.GetName(), DisplayName: "Infra and Ops"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
		}); err != nil {
			t.Fatal(err)
		}
		// A rejected change records nothing either.
		_, err = e.client.DeleteCostCenter(context.Background(), &budgetv1.DeleteCostCenterRequest{Name: cc.GetName(), Etag: cc.GetEtag()})
		wantStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		if _, err := e.client.DeleteCostCenter(context.Background(), &budgetv1.DeleteCostCenterRequest{Name: cc.GetName(), Etag: upd.GetEtag()}); err != nil {
			t.Fatal(err)
		}

		rs := auditRecords(t, e, 3)
		if len(rs) != 3 {
			t.Fatalf("%d audit records, want 3 (create, update, delete): %v", len(rs), rs)
		}
		const svc = "/quarterdeck.budget.v1.BudgetService/"
		for i, want := range []struct{ action, method string }{
			{"CREATE", svc + "CreateCostCenter"}, {"UPDATE", svc + "UpdateCostCenter"}, {"DELETE", svc + "DeleteCostCenter"},
		} {
			r := rs[i]
			if r.GetAction() != want.action || r.GetMethod() != want.method || r.GetResource() != "costCenters/infra" ||
				r.GetActor() != identitytest.Subject || r.GetSequence() != int64(i+1) {
				t.Errorf("record %d = %v, want %s by %s", i+1, r, want.action, want.method)
			}
		}
		if rs[0].GetRequestId() != "gw-req-1" || rs[1].GetRequestId() != "" {
			t.Errorf("request ids = %q, %q", rs[0].GetRequestId(), rs[1].GetRequestId())
		}
		created := changes(t, rs[0])
		if len(created) != 5 || created[0] != `active: - -> true` || created[1] != `code: - -> "CC-100"` {
			t.Errorf("create changes = %q", created)
		}
		updated := changes(t, rs[1])
		if fmt.Sprint(updated) != `[display_name: "Infrastructure" -> "Infra and Ops" owner: - -> "cio@example.com"]` {
			t.Errorf("update changes = %q", updated)
		}
		deleted := changes(t, rs[2])
		if len(deleted) != 6 || deleted[4] != `name: "costCenters/infra" -> -` {
			t.Errorf("delete changes = %q", deleted)
		}

		v, err := operationsv1.NewOperationsServiceClient(e.Conn).VerifyAuditChain(context.Background(),
			&operationsv1.VerifyAuditChainRequest{Parent: "services/budget"})
		if err != nil || !v.GetValid() || v.GetRecordsChecked() != 3 {
			t.Fatalf("verify = %v, %v", v, err)
		}
	})
}

func TestConcurrentUpdatesFormOneAuditChain(t *testing.T) {
	t.Parallel()
	const writers = 50
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cc := create(t, e, "infra", "Infrastructure", "CC-100", "")
		testkit.Concurrently(t, writers, func(i int) error {
			_, err := e.client.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
				CostCenter: &budgetv1.CostCenter{Name: cc.GetName(), Description: fmt.Sprint("edit ", i)},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}},
			})
			return err
		})
		rs := auditRecords(t, e, writers+1)
		if len(rs) != writers+1 {
			t.Fatalf("%d audit records, want %d", len(rs), writers+1)
		}
		description := func(r *operationsv1.AuditRecord) (before, after string) {
			for _, c := range r.GetChanges() {
				if c.GetPath() == "description" {
					return c.GetBefore().GetStringValue(), c.GetAfter().GetStringValue()
				}
			}
			t.Fatalf("record %d does not change the description: %v", r.GetSequence(), r)
			return "", ""
		}
		prev := ""
		for i, r := range rs {
			if r.GetSequence() != int64(i+1) {
				t.Fatalf("record %d has sequence %d", i+1, r.GetSequence())
			}
			if i == 0 {
				continue
			}
			// The updates of one cost centre are chained in the order they were made: each
			// record's before is the previous record's after.
			before, after := description(r)
			if before != prev {
				t.Fatalf("record %d changes the description from %q, but record %d left %q", i+1, before, i, prev)
			}
			prev = after
		}
		v, err := operationsv1.NewOperationsServiceClient(e.Conn).VerifyAuditChain(ctx,
			&operationsv1.VerifyAuditChainRequest{Parent: "services/budget"})
		if err != nil || !v.GetValid() || v.GetRecordsChecked() != writers+1 {
			t.Fatalf("verify = %v, %v", v, err)
		}
	})
}

func TestOperationsServiceIsHealthy(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		resp, err := healthpb.NewHealthClient(e.Conn).Check(context.Background(),
			&healthpb.HealthCheckRequest{Service: operationsv1.OperationsService_ServiceDesc.ServiceName})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health = %v, %v", resp, err)
		}
	})
}
