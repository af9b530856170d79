package budget_test

import (
	"context"
	"path"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// owned are the resources of one BOLA case, all the owner's: a cost centre with a draft and an
// approved budget, two lines each, a renewal part and an invoice deferred to it, and an empty
// cost centre.
type owned struct {
	cc, empty, draft, approved string
	draftLines, approvedLines  []string
	deferredCommitment         string
	deferredActual             string
}

var ownerPolicy = budget.Settings{FiscalYearStartMonth: 1, WritePolicy: string(ownership.Owner)}

// TestOwnership: under QUARTERDECK_BUDGET_WRITE_POLICY=owner every write of a cost centre or a
// budget (and of what belongs to it: a cost centre's deferred renewal parts and invoices too) by
// another principal holding budget.write and budget.spend is refused with NOT_OWNER and changes
// nothing; the owner and a holder of budget.admin succeed. Every method the
// policy checks has a case here (testkit.CheckOwnership fails otherwise).
func TestOwnership(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		svc := budget.Configured(ownerPolicy)
		// Talent, asked about the members of owner teams, is not needed: no team owns here.
		e := startService(t, db, svc, testkit.WithHostOptions(func(o *host.Options) {
			o.Peers = map[string]string{"talent": "127.0.0.1:1"}
		}))
		ctx := context.Background()
		approver := clientAs(t, e, "apiKeys/approver", "budget.read", "budget.approve")
		// Budget defers renewal parts and invoices only from the vendors service's events; the
		// cases' are written straight into its tables, as it keeps them (deferRenewal,
		// deferInvoice).
		st := store.New(e.DB(t), nil)
		testkit.CheckOwnership(t, e.Service, testkit.Ownership[owned]{
			Service: svc,
			Scopes:  []string{"budget.read", "budget.write", "budget.transfer", "budget.spend"},
			Setup: func(t *testing.T, conn *grpc.ClientConn, n string) owned {
				c := budgetv1.NewBudgetServiceClient(conn)
				cc, err := c.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "Owned " + n, Code: "OWN-" + n}})
				if err != nil {
					t.Fatal(err)
				}
				if cc.GetOwner() != testkit.Owner {
					t.Fatalf("a cost centre created without an owner is %q's; want the creator's, %s", cc.GetOwner(), testkit.Owner)
				}
				empty, err := c.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "Empty " + n, Code: "EMPTY-" + n, Owner: testkit.Owner}})
				if err != nil {
					t.Fatal(err)
				}
				f := owned{cc: cc.GetName(), empty: empty.GetName()}
				for i, fy := range []int32{2027, 2028} {
					b, err := c.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{
						CostCenter: cc.GetName(), FiscalYear: fy, CurrencyCode: "EUR", DisplayName: "Budget " + n,
						OverspendPolicy: budgetv1.Budget_WARN}})
					if err != nil {
						t.Fatal(err)
					}
					var lines []string
					for _, id := range []string{"a", "b"} {
						l, err := c.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), BudgetLineId: id,
							BudgetLine: &budgetv1.BudgetLine{DisplayName: "Line " + id, Category: budgetv1.BudgetLine_CLOUD,
								ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: &money.Money{Units: 1200}}})
						if err != nil {
							t.Fatal(err)
						}
						lines = append(lines, l.GetName())
					}
					if i == 0 {
						f.draft, f.draftLines = b.GetName(), lines
						continue
					}
					if _, err := c.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
						t.Fatal(err)
					}
					if _, err := approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()}); err != nil {
						t.Fatal(err)
					}
					f.approved, f.approvedLines = b.GetName(), lines
				}
				ccID := path.Base(f.cc)
				c2029, a2029 := &domain.DeferredCommitment{ID: "part-" + n, CostCenterID: ccID, FiscalYear: 2029, LineID: "a",
					Amount: domain.Amount{Minor: 36_500, Currency: "EUR"}, ServiceStart: domain.Date{Year: 2028, Month: time.July, Day: 1},
					ServiceEnd: domain.Date{Year: 2029, Month: time.June, Day: 30}, Source: domain.CommitmentContract,
					SourceRef: "vendors/acme/contracts/c-" + n, CreateTime: time.Now()},
					&domain.DeferredActual{ID: "invoice-" + n, CostCenterID: ccID, FiscalYear: 2029, LineID: "a",
						Amount: domain.Amount{Minor: 10_000, Currency: "EUR"}, BookingDate: domain.Date{Year: 2029, Month: time.January, Day: 10},
						SourceRef: "vendors/acme/contracts/c-" + n + "/invoices/i-1", Contract: "vendors/acme/contracts/c-" + n, CreateTime: time.Now()}
				if err := st.Within(ctx, func(ctx context.Context, tx store.Tx) error {
					if _, err := tx.DeferCommitment(ctx, c2029); err != nil {
						return err
					}
					_, err := tx.DeferActual(ctx, a2029)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				f.deferredCommitment, f.deferredActual = c2029.Name(), a2029.Name()
				return f
			},
			State: func(t *testing.T, conn *grpc.ClientConn, f owned) []proto.Message {
				c := budgetv1.NewBudgetServiceClient(conn)
				var out []proto.Message
				for _, name := range []string{f.cc, f.empty} {
					got, err := c.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: name})
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, got)
				}
				budgets, err := c.ListBudgets(ctx, &budgetv1.ListBudgetsRequest{Filter: `cost_center = "` + f.cc + `"`, PageSize: 100})
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, budgets)
				for _, b := range budgets.GetBudgets() {
					lines, err := c.ListBudgetLines(ctx, &budgetv1.ListBudgetLinesRequest{Parent: b.GetName(), PageSize: 100})
					if err != nil {
						t.Fatal(err)
					}
					transfers, err := c.ListTransfers(ctx, &budgetv1.ListTransfersRequest{Parent: b.GetName(), PageSize: 100})
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, lines, transfers)
				}
				commitments, err := c.ListDeferredCommitments(ctx, &budgetv1.ListDeferredCommitmentsRequest{Parent: f.cc, PageSize: 100})
				if err != nil {
					t.Fatal(err)
				}
				actuals, err := c.ListDeferredActuals(ctx, &budgetv1.ListDeferredActualsRequest{Parent: f.cc, PageSize: 100})
				if err != nil {
					t.Fatal(err)
				}
				return append(out, commitments, actuals)
			},
			Writes: []testkit.OwnedWrite[owned]{
				{Method: "UpdateCostCenter", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
						CostCenter: &budgetv1.CostCenter{Name: f.cc, DisplayName: "Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
					return err
				}},
				{Method: "DeleteCostCenter", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).DeleteCostCenter(ctx, &budgetv1.DeleteCostCenterRequest{Name: f.empty})
					return err
				}},
				{Method: "UpdateBudget", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).UpdateBudget(ctx, &budgetv1.UpdateBudgetRequest{
						Budget: &budgetv1.Budget{Name: f.draft, DisplayName: "Renamed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
					return err
				}},
				{Method: "DeleteBudget", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).DeleteBudget(ctx, &budgetv1.DeleteBudgetRequest{Name: f.draft})
					return err
				}},
				{Method: "SubmitBudget", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: f.draft})
					return err
				}},
				{Method: "ReviseBudget", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: f.approved})
					return err
				}},
				{Method: "CreateBudgetLine", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: f.draft,
						BudgetLine: &budgetv1.BudgetLine{DisplayName: "More", Category: budgetv1.BudgetLine_CLOUD,
							ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: &money.Money{Units: 100}}})
					return err
				}},
				{Method: "UpdateBudgetLine", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).UpdateBudgetLine(ctx, &budgetv1.UpdateBudgetLineRequest{
						BudgetLine: &budgetv1.BudgetLine{Name: f.draftLines[0], PlannedAmount: &money.Money{Units: 1, CurrencyCode: "EUR"}},
						UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"planned_amount"}}})
					return err
				}},
				{Method: "DeleteBudgetLine", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).DeleteBudgetLine(ctx, &budgetv1.DeleteBudgetLineRequest{Name: f.draftLines[1]})
					return err
				}},
				{Method: "DeleteDeferredCommitment", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).DeleteDeferredCommitment(ctx, &budgetv1.DeleteDeferredCommitmentRequest{Name: f.deferredCommitment})
					return err
				}},
				{Method: "DeleteDeferredActual", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).DeleteDeferredActual(ctx, &budgetv1.DeleteDeferredActualRequest{Name: f.deferredActual})
					return err
				}},
				{Method: "CreateTransfer", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := budgetv1.NewBudgetServiceClient(conn).CreateTransfer(ctx, &budgetv1.CreateTransferRequest{Parent: f.approved,
						Transfer: &budgetv1.Transfer{SourceLine: f.approvedLines[0], TargetLine: f.approvedLines[1],
							Amount: &money.Money{Units: 100}, EffectiveDate: &date.Date{Year: 2028, Month: 1, Day: 1}, Reason: "rebalance"}})
					return err
				}},
			},
		})

		// Under the owner policy an owner must be a principal.
		owner := clientAs(t, e, "apiKeys/owner-2", "budget.read", "budget.write")
		_, err := owner.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{
			DisplayName: "Mailed", Code: "MAILED", Owner: "cio@example.com"}})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "cost_center.owner:"+ownership.ReasonOwnerNotPrincipal)
	})
}
