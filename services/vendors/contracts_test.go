package vendors_test

import (
	"context"
	"strings"
	"testing"
	"time"

	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

func TestContractCRUD(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startContracts(t, db, dec4)
		ctx := context.Background()

		in := cloudContract()
		in.State, in.Hold = vendorsv1.Contract_ACTIVE, "ignored" // output only
		c := e.mustContract(t, "acme", "cloud", in)
		if c.GetName() != "vendors/acme/contracts/cloud" || c.GetState() != vendorsv1.Contract_DRAFT || c.GetHold() != "" ||
			dateString(c.GetCancelByDate()) != "2027-09-02" || dateString(c.GetNoticeWindowOpenDate()) != "2027-07-04" ||
			minor(c.GetTotalValue()) != 1_200_000 || c.GetInvoicedAmount().GetCurrencyCode() != "EUR" || minor(c.GetInvoicedAmount()) != 0 ||
			c.GetEtag() == "" || !c.GetCreateTime().AsTime().Equal(dec4) {
			t.Errorf("created %v; want a DRAFT with cancel-by 2027-09-02, window 2027-07-04", c)
		}
		if got := e.get(t, c.GetName()); got.GetEtag() != c.GetEtag() || got.GetTitle() != "Acme Cloud 2027" {
			t.Errorf("get = %v", got)
		}
		_, err := e.client.GetContract(ctx, &vendorsv1.GetContractRequest{Name: "vendors/acme/contracts/nope"})
		e.AssertStatus(t, err, codes.NotFound, "CONTRACT_NOT_FOUND")
		_, err = e.client.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: "vendors/acme", ContractId: "cloud", Contract: cloudContract()})
		e.AssertStatus(t, err, codes.AlreadyExists, "CONTRACT_ALREADY_EXISTS")
		_, err = e.client.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: "vendors/nobody", Contract: cloudContract()})
		e.AssertStatus(t, err, codes.NotFound, "VENDOR_NOT_FOUND")

		// The bound of amounts (issue 20): more than 999,999,999,999,999 units is refused on its field.
		huge := cloudContract()
		huge.TotalValue = &moneypb.Money{CurrencyCode: "EUR", Units: 92_233_720_368_547_758}
		_, err = e.client.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: "vendors/acme", ContractId: "huge", Contract: huge})
		e.AssertStatus(t, err, codes.InvalidArgument, "AMOUNT_OUT_OF_RANGE", "contract.total_value:AMOUNT_OUT_OF_RANGE")

		// Validation: every broken rule of the contract, each on its field.
		bad := &vendorsv1.Contract{StartDate: day(2027, 6, 1), EndDate: day(2027, 1, 1), AutoRenew: true,
			TotalValue: eur(0), AnnualValue: &moneypb.Money{CurrencyCode: "USD", Units: 10}}
		_, err = e.client.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: "vendors/acme", Contract: bad})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "contract.title", "contract.total_value",
			"contract.annual_value", "contract.end_date", "contract.renewal_term_months")
		_, err = e.client.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: "vendors/acme", Contract: &vendorsv1.Contract{
			Title: "x", EndDate: day(2027, 2, 30)}})
		e.AssertStatus(t, err, codes.InvalidArgument, "DATE_INVALID", "contract.end_date")
		_, err = e.client.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: "vendors/acme", Contract: &vendorsv1.Contract{
			Title: "x", EndDate: day(2027, 2, 1), Slas: []*vendorsv1.ServiceLevel{{DisplayName: " "}}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "contract.slas[0].display_name")

		// A minimal draft: title and end date; a server-assigned ID.
		minimal, err := e.client.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: "vendors/acme",
			Contract: &vendorsv1.Contract{Title: "Support", EndDate: day(2027, 3, 31), NoticeWindowDays: 10}})
		if err != nil || !strings.HasPrefix(minimal.GetName(), "vendors/acme/contracts/") || minimal.GetTotalValue() != nil ||
			dateString(minimal.GetCancelByDate()) != "2027-03-31" || dateString(minimal.GetNoticeWindowOpenDate()) != "2027-03-21" {
			t.Fatalf("minimal draft = %v, %v", minimal, err)
		}

		// Update by mask: every field in DRAFT, the dates recomputed; a stale etag is ABORTED.
		e.clock.Advance(time.Hour)
		up, err := e.client.UpdateContract(ctx, &vendorsv1.UpdateContractRequest{
			Contract:   &vendorsv1.Contract{Name: c.GetName(), NoticePeriodDays: 30, Title: "ignored", Etag: c.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"notice_period_days"}}})
		if err != nil || up.GetTitle() != "Acme Cloud 2027" || dateString(up.GetCancelByDate()) != "2027-11-01" ||
			dateString(up.GetNoticeWindowOpenDate()) != "2027-09-02" || up.GetEtag() == c.GetEtag() {
			t.Fatalf("update notice period = %v, %v; want cancel-by 2027-11-01", up, err)
		}
		_, err = e.client.UpdateContract(ctx, &vendorsv1.UpdateContractRequest{
			Contract:   &vendorsv1.Contract{Name: c.GetName(), Title: "x", Etag: c.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		_, err = e.client.UpdateContract(ctx, &vendorsv1.UpdateContractRequest{
			Contract: &vendorsv1.Contract{Name: c.GetName()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"state"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "update_mask")
		_, err = e.client.UpdateContract(ctx, &vendorsv1.UpdateContractRequest{
			Contract: &vendorsv1.Contract{Name: c.GetName()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "contract.title")

		// Lists: across vendors with a filter on the computed date, in order.
		e.seedVendor(t, "beta")
		e.mustContract(t, "beta", "b1", &vendorsv1.Contract{Title: "Beta", EndDate: day(2027, 6, 30)})
		list := func(parent, filter, order string) []string {
			t.Helper()
			res, err := e.client.ListContracts(ctx, &vendorsv1.ListContractsRequest{Parent: parent, Filter: filter, OrderBy: order})
			if err != nil {
				t.Fatalf("list %s %q: %v", parent, filter, err)
			}
			var names []string
			for _, c := range res.GetContracts() {
				names = append(names, strings.TrimPrefix(c.GetName(), "vendors/"))
			}
			return names
		}
		if got := list("vendors/-", `cancel_by_date < "2027-07-01"`, "cancel_by_date desc"); len(got) != 2 || got[0] != "beta/contracts/b1" ||
			got[1] != strings.TrimPrefix(minimal.GetName(), "vendors/") {
			t.Errorf("cancel-by before July, latest first = %v", got)
		}
		if got := list("vendors/beta", "", ""); len(got) != 1 {
			t.Errorf("beta's contracts = %v", got)
		}
		if got := list("vendors/-", `auto_renew = true AND state = DRAFT AND budget_line = "budgets/it-2027/lines/cloud"`, ""); len(got) != 1 || got[0] != "acme/contracts/cloud" {
			t.Errorf("auto-renewing drafts on cloud = %v", got)
		}
		_, err = e.client.ListContracts(ctx, &vendorsv1.ListContractsRequest{Parent: "vendors/-", Filter: "nonsense = 1"})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter")

		// Delete a draft; it is gone.
		if _, err := e.client.DeleteContract(ctx, &vendorsv1.DeleteContractRequest{Name: minimal.GetName()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetContract(ctx, &vendorsv1.GetContractRequest{Name: minimal.GetName()})
		e.AssertStatus(t, err, codes.NotFound, "CONTRACT_NOT_FOUND")

		for suffix, want := range map[string]int{".contract.created": 3, ".contract.updated": 1, ".contract.deleted": 1} {
			if n := outboxCount(t, e.db, suffix); n != want {
				t.Errorf("%s events = %d, want %d", suffix, n, want)
			}
		}
	})
}

func TestContractLifecycle(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startContracts(t, db, dec4)
		ctx := context.Background()

		// An incomplete draft cannot be submitted: the missing fields are named.
		c := e.mustContract(t, "acme", "c1", &vendorsv1.Contract{Title: "Acme", EndDate: day(2027, 12, 31)})
		_, err := e.client.SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: c.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "CONTRACT_INCOMPLETE", "contract.total_value", "contract.annual_value",
			"contract.start_date", "contract.budget_line")

		full := cloudContract()
		full.Name = c.GetName()
		c, err = e.client.UpdateContract(ctx, &vendorsv1.UpdateContractRequest{Contract: full})
		if err != nil {
			t.Fatal(err)
		}
		sub, err := e.client.SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: c.GetName(), Etag: c.GetEtag()})
		if err != nil || sub.GetState() != vendorsv1.Contract_PENDING_APPROVAL || sub.GetSubmitter() == "" || sub.GetSubmitTime() == nil {
			t.Fatalf("submit = %v, %v", sub, err)
		}
		_, err = e.client.SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: c.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")

		// Pending: commercial fields are frozen, the open ones are not.
		_, err = e.client.UpdateContract(ctx, &vendorsv1.UpdateContractRequest{
			Contract: &vendorsv1.Contract{Name: c.GetName(), TotalValue: eur(1)}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"total_value"}}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "CONTRACT_NOT_DRAFT")
		own, err := e.client.UpdateContract(ctx, &vendorsv1.UpdateContractRequest{
			Contract: &vendorsv1.Contract{Name: c.GetName(), Owner: "people/bob"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"owner"}}})
		if err != nil || own.GetOwner() != "people/bob" || own.GetState() != vendorsv1.Contract_PENDING_APPROVAL {
			t.Fatalf("owner update while pending = %v, %v", own, err)
		}
		_, err = e.client.DeleteContract(ctx, &vendorsv1.DeleteContractRequest{Name: c.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "CONTRACT_NOT_DRAFT")

		// Reject sends it back with the reason; a new submission clears it.
		rej, err := e.approver.RejectContract(ctx, &vendorsv1.RejectContractRequest{Name: c.GetName(), Reason: "wrong line"})
		if err != nil || rej.GetState() != vendorsv1.Contract_DRAFT || rej.GetRejectionReason() != "wrong line" {
			t.Fatalf("reject = %v, %v", rej, err)
		}
		_, err = e.approver.RejectContract(ctx, &vendorsv1.RejectContractRequest{Name: c.GetName(), Reason: "again"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		sub, err = e.client.SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: c.GetName()})
		if err != nil || sub.GetRejectionReason() != "" {
			t.Fatalf("resubmit = %v, %v", sub, err)
		}

		// The submitter may not approve; the approver does, and the contract is ACTIVE on its hold.
		_, err = e.client.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: c.GetName()})
		e.AssertStatus(t, err, codes.PermissionDenied, "SELF_APPROVAL")
		// Nor with a second key of theirs: the rule compares principals, not keys.
		secondKey := vendorsv1.NewVendorsServiceClient(e.ConnOf(t, "apiKeys/second-key", identitytest.Subject))
		_, err = secondKey.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: c.GetName()})
		e.AssertStatus(t, err, codes.PermissionDenied, "SELF_APPROVAL")
		act, err := e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: c.GetName(), RequestId: newRequestID()})
		if err != nil || act.GetState() != vendorsv1.Contract_ACTIVE || act.GetApprover() != "apiKeys/approver" ||
			!strings.HasPrefix(act.GetHold(), "budgets/it-2027/lines/cloud/holds/") || act.GetActivateTime() == nil {
			t.Fatalf("approve = %v, %v", act, err)
		}
		_, err = e.client.UpdateContract(ctx, &vendorsv1.UpdateContractRequest{
			Contract: &vendorsv1.Contract{Name: c.GetName(), EndDate: day(2028, 1, 1)}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"end_date"}}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "CONTRACT_NOT_DRAFT")

		// Invoices on the active contract.
		inv := &vendorsv1.Invoice{InvoiceNumber: "INV-1", Amount: eur(100_000), InvoiceDate: day(2027, 1, 31),
			DueDate: day(2027, 2, 28), ServicePeriodStart: day(2027, 1, 1), ServicePeriodEnd: day(2027, 1, 31), Description: "January"}
		rid := newRequestID()
		i1, err := e.client.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: c.GetName(), Invoice: inv, RequestId: rid})
		if err != nil || !strings.HasPrefix(i1.GetName(), c.GetName()+"/invoices/") || minor(i1.GetAmount()) != 100_000 || i1.GetCreator() == "" {
			t.Fatalf("record invoice = %v, %v", i1, err)
		}
		again, err := e.client.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: c.GetName(), Invoice: inv, RequestId: rid})
		if err != nil || again.GetName() != i1.GetName() {
			t.Errorf("retried invoice = %v, %v; want the first", again, err)
		}
		_, err = e.client.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: c.GetName(), Invoice: inv})
		e.AssertStatus(t, err, codes.AlreadyExists, "INVOICE_ALREADY_EXISTS")
		credit := &vendorsv1.Invoice{InvoiceNumber: "CN-1", Amount: eur(-25_000), InvoiceDate: day(2027, 2, 5)}
		if _, err := e.client.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: c.GetName(), Invoice: credit}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: c.GetName(), Invoice: &vendorsv1.Invoice{
			InvoiceNumber: "X", Amount: &moneypb.Money{CurrencyCode: "USD", Units: 1}, InvoiceDate: day(2027, 2, 1), DueDate: day(2027, 1, 1)}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "invoice.amount", "invoice.due_date")
		if got := e.get(t, c.GetName()); minor(got.GetInvoicedAmount()) != 75_000 {
			t.Errorf("invoiced = %v; want 750.00", got.GetInvoicedAmount())
		}
		got, err := e.client.GetInvoice(ctx, &vendorsv1.GetInvoiceRequest{Name: i1.GetName()})
		if err != nil || got.GetInvoiceNumber() != "INV-1" || dateString(got.GetDueDate()) != "2027-02-28" {
			t.Errorf("get invoice = %v, %v", got, err)
		}
		res, err := e.client.ListInvoices(ctx, &vendorsv1.ListInvoicesRequest{Parent: "vendors/-/contracts/-",
			Filter: `invoice_date >= "2027-02-01"`, OrderBy: "invoice_date desc"})
		if err != nil || len(res.GetInvoices()) != 1 || res.GetInvoices()[0].GetInvoiceNumber() != "CN-1" {
			t.Errorf("invoices from February = %v, %v", res, err)
		}
		recorded := events(t, e.db, ".invoice.recorded", func() *vendorsv1.InvoiceRecorded { return &vendorsv1.InvoiceRecorded{} })
		if len(recorded) != 2 || minor(recorded[0].GetInvoice().GetAmount()) != 100_000 || recorded[0].GetBudgetLine() != "budgets/it-2027/lines/cloud" ||
			recorded[0].GetContract() != c.GetName() || recorded[0].GetVendor() != "vendors/acme" || minor(recorded[1].GetInvoice().GetAmount()) != -25_000 {
			t.Errorf("invoice.recorded = %v; want the two invoices with their money and line", recorded)
		}

		// Values are for vendors.finance: a reader without it gets the contract and its invoices
		// without their amounts, and a writer without it may not record an amount.
		reader := vendorsv1.NewVendorsServiceClient(e.ConnAs(t, "apiKeys/reader", "vendors.read"))
		hidden, err := reader.GetContract(ctx, &vendorsv1.GetContractRequest{Name: c.GetName()})
		if err != nil || hidden.GetTitle() != "Acme Cloud 2027" || hidden.GetTotalValue() != nil || hidden.GetAnnualValue() != nil ||
			hidden.GetInvoicedAmount() != nil {
			t.Errorf("contract for a reader without vendors.finance = %v, %v; want it without its total, annual and invoiced values", hidden, err)
		}
		listed, err := reader.ListContracts(ctx, &vendorsv1.ListContractsRequest{Parent: "vendors/acme"})
		if err != nil || len(listed.GetContracts()) == 0 {
			t.Fatalf("contracts for a reader without vendors.finance = %v, %v", listed, err)
		}
		for _, l := range listed.GetContracts() {
			if l.GetTotalValue() != nil || l.GetAnnualValue() != nil || l.GetInvoicedAmount() != nil {
				t.Errorf("listed for a reader without vendors.finance: %v; want no values", l)
			}
		}
		invoices, err := reader.ListInvoices(ctx, &vendorsv1.ListInvoicesRequest{Parent: c.GetName()})
		if err != nil || len(invoices.GetInvoices()) != 2 {
			t.Fatalf("invoices for a reader without vendors.finance = %v, %v; want the two", invoices, err)
		}
		for _, i := range invoices.GetInvoices() {
			if i.GetAmount() != nil || i.GetInvoiceNumber() == "" {
				t.Errorf("invoice for a reader without vendors.finance: %v; want its number, no amount", i)
			}
		}
		writer := vendorsv1.NewVendorsServiceClient(e.ConnAs(t, "apiKeys/writer", "vendors.read", "vendors.write"))
		_, err = writer.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: c.GetName(), Invoice: &vendorsv1.Invoice{
			InvoiceNumber: "INV-2", Amount: eur(10_000), InvoiceDate: day(2027, 2, 10)}})
		e.AssertStatus(t, err, codes.PermissionDenied, "FIELD_WRITE_DENIED")

		// Terminate: the effective date between today and the end date.
		_, err = e.client.TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: c.GetName(), Reason: "x", EffectiveDate: day(2026, 12, 3)})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "effective_date")
		_, err = e.client.TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: c.GetName(), Reason: "x", EffectiveDate: day(2028, 1, 1)})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "effective_date")
		term, err := e.client.TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: c.GetName(), Reason: "moving on", EffectiveDate: day(2027, 6, 30)})
		if err != nil || term.GetState() != vendorsv1.Contract_TERMINATED || term.GetTerminationReason() != "moving on" ||
			dateString(term.GetTerminationEffectiveDate()) != "2027-06-30" || term.GetTerminateTime() == nil {
			t.Fatalf("terminate = %v, %v", term, err)
		}
		terminated := events(t, e.db, ".contract.terminated", func() *vendorsv1.ContractTerminated { return &vendorsv1.ContractTerminated{} })
		if len(terminated) != 1 || dateString(terminated[0].GetEffectiveDate()) != "2027-06-30" || terminated[0].GetBudgetLine() != "budgets/it-2027/lines/cloud" {
			t.Errorf("contract.terminated = %v", terminated)
		}
		_, err = e.client.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: c.GetName(), Invoice: &vendorsv1.Invoice{
			InvoiceNumber: "INV-2", Amount: eur(1), InvoiceDate: day(2027, 3, 1)}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "CONTRACT_NOT_IN_FORCE")
		_, err = e.client.UpdateContract(ctx, &vendorsv1.UpdateContractRequest{
			Contract: &vendorsv1.Contract{Name: c.GetName(), Owner: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"owner"}}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "CONTRACT_ENDED")
		_, err = e.client.TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: c.GetName(), Reason: "again"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")

		for suffix, want := range map[string]int{".contract.submitted": 2, ".contract.rejected": 1, ".contract.activated": 1, ".contract.terminated": 1} {
			if n := outboxCount(t, e.db, suffix); n != want {
				t.Errorf("%s events = %d, want %d", suffix, n, want)
			}
		}
	})
}
