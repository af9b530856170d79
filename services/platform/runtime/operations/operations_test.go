package operations_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/operations"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

type env struct {
	db     *sqldb.DB
	client operationsv1.OperationsServiceClient
}

// start serves the operations server of the service "budget" on d through the real interceptor
// chain.
func start(t *testing.T, d testenv.Database, dl operations.DeadLetters) *env {
	t.Helper()
	db := testkit.Open(t, d, audit.Migrations)
	srv, err := rpc.NewServer(rpc.Options{Domain: "budget.quarterdeck.io", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ops := operations.New("budget", audit.NewStore(db))
	ops.DeadLetters = dl
	operationsv1.RegisterOperationsServiceServer(srv, ops)
	return &env{db: db, client: operationsv1.NewOperationsServiceClient(testkit.Dial(t, testkit.Serve(t, srv)))}
}

func (e *env) append(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		err := e.db.InTx(context.Background(), func(tx *sql.Tx) error {
			_, err := audit.Append(context.Background(), tx, e.db.Engine(), audit.Entry{
				Actor: "users/alice", Method: "/quarterdeck.budget.v1.BudgetService/UpdateCostCenter",
				Resource: fmt.Sprintf("costCenters/c%d", i), Action: audit.Update, RequestID: fmt.Sprint("r", i),
				Changes: []audit.Change{{Path: "display_name", Before: structpb.NewStringValue("a"), After: structpb.NewStringValue("b")}},
			})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Lists and the verifier show sealed records only; the host's sealer would seal these a moment
	// after their commits.
	if _, err := audit.SealPending(context.Background(), e.db); err != nil {
		t.Fatal(err)
	}
}

// wantError checks the code, the ErrorInfo reason and domain and the field violations of err.
var wantError = testkit.ErrorsOf("budget").Assert

func TestListAuditRecords(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		e := start(t, d, nil)
		ctx := context.Background()
		e.append(t, 5)

		records, pages := testkit.AllPages(t, func(token string) ([]*operationsv1.AuditRecord, string, error) {
			resp, err := e.client.ListAuditRecords(ctx, &operationsv1.ListAuditRecordsRequest{Parent: "services/budget", PageSize: 2, PageToken: token})
			return resp.GetAuditRecords(), resp.GetNextPageToken(), err
		})
		var seqs []int64
		for _, r := range records {
			seqs = append(seqs, r.GetSequence())
			if r.GetName() != fmt.Sprint("services/budget/auditRecords/", r.GetSequence()) ||
				r.GetHash() == "" || r.GetCreateTime() == nil || r.GetChanges()[0].GetAfter().GetStringValue() != "b" {
				t.Errorf("record = %v", r)
			}
		}
		if fmt.Sprint(seqs) != "[1 2 3 4 5]" || pages != 3 {
			t.Errorf("sequences over pages = %v in %d pages, want [1 2 3 4 5] in 3", seqs, pages)
		}

		_, err := e.client.ListAuditRecords(ctx, &operationsv1.ListAuditRecordsRequest{Parent: "services/vendors"})
		wantError(t, err, codes.NotFound, "SERVICE_NOT_FOUND")
		_, err = e.client.ListAuditRecords(ctx, &operationsv1.ListAuditRecordsRequest{Parent: "budget"})
		wantError(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "parent")
		_, err = e.client.ListAuditRecords(ctx, &operationsv1.ListAuditRecordsRequest{Parent: "services/budget", PageToken: "bogus"})
		wantError(t, err, codes.InvalidArgument, "PAGE_TOKEN_INVALID", "page_token")
		first, err := e.client.ListAuditRecords(ctx, &operationsv1.ListAuditRecordsRequest{Parent: "services/budget", PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		// A token belongs to the request that produced it.
		_, err = e.client.ListAuditRecords(ctx, &operationsv1.ListAuditRecordsRequest{
			Parent: "services/budget", PageToken: first.GetNextPageToken(), Filter: `action = "UPDATE"`})
		wantError(t, err, codes.InvalidArgument, "PAGE_TOKEN_INVALID", "page_token")
	})
}

func TestVerifyAuditChain(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		e := start(t, d, nil)
		ctx := context.Background()
		resp, err := e.client.VerifyAuditChain(ctx, &operationsv1.VerifyAuditChainRequest{Parent: "services/budget"})
		if err != nil || !resp.GetValid() || resp.GetRecordsChecked() != 0 {
			t.Fatalf("empty chain: %v, %v", resp, err)
		}
		e.append(t, 4)
		resp, err = e.client.VerifyAuditChain(ctx, &operationsv1.VerifyAuditChainRequest{Parent: "services/budget"})
		if err != nil || !resp.GetValid() || resp.GetRecordsChecked() != 4 {
			t.Fatalf("intact chain: %v, %v", resp, err)
		}
		if _, err := e.db.ExecContext(ctx, `UPDATE audit_records SET resource = 'costCenters/x' WHERE sequence = 3`); err != nil {
			t.Fatal(err)
		}
		resp, err = e.client.VerifyAuditChain(ctx, &operationsv1.VerifyAuditChainRequest{Parent: "services/budget"})
		if err != nil || resp.GetValid() || resp.GetFirstBrokenSequence() != 3 || resp.GetRecordsChecked() != 2 || resp.GetReason() == "" {
			t.Fatalf("tampered chain: %v, %v", resp, err)
		}
		_, err = e.client.VerifyAuditChain(ctx, &operationsv1.VerifyAuditChainRequest{Parent: "services/risk"})
		wantError(t, err, codes.NotFound, "SERVICE_NOT_FOUND")
	})
}

type fakeDeadLetters struct{}

func (fakeDeadLetters) ListDeadLetters(context.Context, *operationsv1.ListDeadLettersRequest) (*operationsv1.ListDeadLettersResponse, error) {
	return &operationsv1.ListDeadLettersResponse{DeadLetters: []*operationsv1.DeadLetter{{Name: "services/budget/deadLetters/d1"}}}, nil
}

func (fakeDeadLetters) ReplayDeadLetter(_ context.Context, req *operationsv1.ReplayDeadLetterRequest) (*operationsv1.DeadLetter, error) {
	return &operationsv1.DeadLetter{Name: req.GetName(), State: operationsv1.DeadLetter_STATE_REPLAYED}, nil
}

func TestDeadLettersAreDelegated(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.SQLite(t), nil)
	ctx := context.Background()
	_, err := e.client.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/budget"})
	wantError(t, err, codes.Unimplemented, "UNIMPLEMENTED")
	_, err = e.client.ReplayDeadLetter(ctx, &operationsv1.ReplayDeadLetterRequest{Name: "services/budget/deadLetters/d1"})
	wantError(t, err, codes.Unimplemented, "UNIMPLEMENTED")

	e = start(t, testenv.SQLite(t), fakeDeadLetters{})
	list, err := e.client.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/budget"})
	if err != nil || len(list.GetDeadLetters()) != 1 {
		t.Fatalf("list = %v, %v", list, err)
	}
	dl, err := e.client.ReplayDeadLetter(ctx, &operationsv1.ReplayDeadLetterRequest{Name: "services/budget/deadLetters/d1"})
	if err != nil || dl.GetState() != operationsv1.DeadLetter_STATE_REPLAYED {
		t.Fatalf("replay = %v, %v", dl, err)
	}
	_, err = e.client.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/talent"})
	wantError(t, err, codes.NotFound, "SERVICE_NOT_FOUND")
	_, err = e.client.ReplayDeadLetter(ctx, &operationsv1.ReplayDeadLetterRequest{Name: "services/talent/deadLetters/d1"})
	wantError(t, err, codes.NotFound, "SERVICE_NOT_FOUND")
}
