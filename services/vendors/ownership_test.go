package vendors_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// owned are the resources of one BOLA case, all the owner's: an active vendor with an
// attestation, a draft and an active contract, a vendor still a prospect, and an evaluation.
type owned struct {
	vendor, prospect, attestation, draft, active, evaluation string
}

// TestOwnership: under QUARTERDECK_VENDORS_WRITE_POLICY=owner every write of a vendor (its
// attestations and contracts) or an evaluation by another principal holding vendors.write is
// refused with NOT_OWNER and changes nothing; the owner and a holder of vendors.admin succeed.
// Every method the policy checks has a case here (testkit.CheckOwnership fails otherwise).
func TestOwnership(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		cfg := vendors.DefaultSettings()
		cfg.WritePolicy = string(ownership.Owner)
		svc := vendors.Configured(cfg)
		fake := clock.NewFake(dec4)
		e := startContractsServing(t, db, svc, fake, fake, nil)
		ctx := context.Background()
		must := func(t *testing.T, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		contract := func() *vendorsv1.Contract {
			c := cloudContract()
			c.Owner, c.TotalValue, c.AnnualValue = "", eur(100), eur(100)
			return c
		}
		testkit.CheckOwnership(t, e.Service, testkit.Ownership[owned]{
			Service: svc,
			Scopes:  []string{"vendors.read", "vendors.write", "vendors.finance"},
			Setup: func(t *testing.T, conn *grpc.ClientConn, n string) owned {
				c := vendorsv1.NewVendorsServiceClient(conn)
				v, err := c.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{Vendor: acme("Owned "+n, 3)})
				must(t, err)
				if v.GetOwner() != testkit.Owner {
					t.Fatalf("a vendor created without an owner is %q's; want the creator's, %s", v.GetOwner(), testkit.Owner)
				}
				_, err = c.StartVendorOnboarding(ctx, &vendorsv1.StartVendorOnboardingRequest{Name: v.GetName()})
				must(t, err)
				_, err = e.approver.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: v.GetName()})
				must(t, err)
				prospect, err := c.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{Vendor: acme("Prospect "+n, 4)})
				must(t, err)
				a, err := c.CreateAttestation(ctx, &vendorsv1.CreateAttestationRequest{Parent: v.GetName(), Attestation: &vendorsv1.Attestation{
					Type: vendorsv1.Attestation_ISO_27001, IssueDate: ymd(2024, 1, 1), ExpiryDate: ymd(2027, 6, 1), Issuer: "TÜV"}})
				must(t, err)
				draft, err := c.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: v.GetName(), Contract: contract()})
				must(t, err)
				active, err := c.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: v.GetName(), Contract: contract()})
				must(t, err)
				_, err = c.SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: active.GetName()})
				must(t, err)
				_, err = e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: active.GetName(), RequestId: newRequestID()})
				must(t, err)
				ev, err := c.CreateEvaluation(ctx, &vendorsv1.CreateEvaluationRequest{Evaluation: &vendorsv1.Evaluation{Title: "Evaluation " + n}})
				must(t, err)
				return owned{vendor: v.GetName(), prospect: prospect.GetName(), attestation: a.GetName(),
					draft: draft.GetName(), active: active.GetName(), evaluation: ev.GetName()}
			},
			State: func(t *testing.T, conn *grpc.ClientConn, f owned) []proto.Message {
				c := vendorsv1.NewVendorsServiceClient(conn)
				var out []proto.Message
				for _, name := range []string{f.vendor, f.prospect} {
					v, err := c.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: name})
					must(t, err)
					out = append(out, v)
				}
				atts, err := c.ListAttestations(ctx, &vendorsv1.ListAttestationsRequest{Parent: f.vendor, PageSize: 100})
				must(t, err)
				contracts, err := c.ListContracts(ctx, &vendorsv1.ListContractsRequest{Parent: f.vendor, PageSize: 100})
				must(t, err)
				ev, err := c.GetEvaluation(ctx, &vendorsv1.GetEvaluationRequest{Name: f.evaluation})
				must(t, err)
				return append(out, atts, contracts, ev)
			},
			Writes: []testkit.OwnedWrite[owned]{
				{Method: "UpdateVendor", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).UpdateVendor(ctx, &vendorsv1.UpdateVendorRequest{
						Vendor: &vendorsv1.Vendor{Name: f.vendor, Description: "changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
					return err
				}},
				{Method: "DeleteVendor", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).DeleteVendor(ctx, &vendorsv1.DeleteVendorRequest{Name: f.prospect})
					return err
				}},
				{Method: "StartVendorOnboarding", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).StartVendorOnboarding(ctx, &vendorsv1.StartVendorOnboardingRequest{Name: f.prospect})
					return err
				}},
				{Method: "CreateAttestation", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).CreateAttestation(ctx, &vendorsv1.CreateAttestationRequest{Parent: f.vendor,
						Attestation: &vendorsv1.Attestation{Type: vendorsv1.Attestation_ISO_27001, IssueDate: ymd(2024, 1, 1), ExpiryDate: ymd(2027, 6, 1)}})
					return err
				}},
				{Method: "UpdateAttestation", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).UpdateAttestation(ctx, &vendorsv1.UpdateAttestationRequest{
						Attestation: &vendorsv1.Attestation{Name: f.attestation, Issuer: "BSI"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"issuer"}}})
					return err
				}},
				{Method: "DeleteAttestation", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).DeleteAttestation(ctx, &vendorsv1.DeleteAttestationRequest{Name: f.attestation})
					return err
				}},
				{Method: "CreateContract", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: f.vendor, Contract: contract()})
					return err
				}},
				{Method: "UpdateContract", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).UpdateContract(ctx, &vendorsv1.UpdateContractRequest{
						Contract: &vendorsv1.Contract{Name: f.draft, Title: "Changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
					return err
				}},
				{Method: "DeleteContract", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).DeleteContract(ctx, &vendorsv1.DeleteContractRequest{Name: f.draft})
					return err
				}},
				{Method: "SubmitContract", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: f.draft})
					return err
				}},
				{Method: "TerminateContract", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: f.active, Reason: "ended early", RequestId: newRequestID()})
					return err
				}},
				{Method: "UpdateEvaluation", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).UpdateEvaluation(ctx, &vendorsv1.UpdateEvaluationRequest{
						Evaluation: &vendorsv1.Evaluation{Name: f.evaluation, Need: "changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"need"}}})
					return err
				}},
				{Method: "DeleteEvaluation", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).DeleteEvaluation(ctx, &vendorsv1.DeleteEvaluationRequest{Name: f.evaluation})
					return err
				}},
				{Method: "CancelEvaluation", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := vendorsv1.NewVendorsServiceClient(conn).CancelEvaluation(ctx, &vendorsv1.CancelEvaluationRequest{Name: f.evaluation})
					return err
				}},
			},
		})

		// Under the owner policy an owner must be a principal.
		owner := vendorsv1.NewVendorsServiceClient(e.ConnOf(t, "apiKeys/owner-2", testkit.Owner, "vendors.read", "vendors.write"))
		v := acme("Mailed", 3)
		v.Owner = "ada@example.com"
		_, err := owner.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{Vendor: v})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "vendor.owner:"+ownership.ReasonOwnerNotPrincipal)
	})
}
