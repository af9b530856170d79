package risk_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
)

// owned are the resources of one BOLA case, all the owner's: risks identified, assessed (with an
// open action and a pending acceptance), under treatment and closed, a continuity plan, a
// control mitigating the assessed risk, and a policy.
type owned struct {
	identified, assessed, treating, closed, action, acceptance, plan string
	control, policy                                                  string
}

// TestOwnership: under QUARTERDECK_RISK_WRITE_POLICY=owner every write of a risk (its actions
// and acceptances) by another principal holding risk.write is refused with NOT_OWNER and changes
// nothing; the owner and a holder of risk.admin succeed; so for a continuity plan (its changes
// and its exercises), a control and a policy (its versions). Every method the policy checks has a
// case here (testkit.CheckOwnership fails otherwise); incidents and frameworks are declared not
// owned.
func TestOwnership(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		cfg := risk.DefaultSettings()
		cfg.WritePolicy = string(ownership.Owner)
		svc := risk.Configured(cfg)
		fake := clock.NewFake(dec4)
		s := testkit.Start(t, db, svc, testkit.WithHostOptions(func(o *host.Options) {
			o.Clock = fake
			o.Peers = map[string]string{"talent": "127.0.0.1:1"} // no role names a person: talent is never called
		}))
		ctx := context.Background()
		must := func(t *testing.T, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		testkit.CheckOwnership(t, s, testkit.Ownership[owned]{
			Service: svc,
			Scopes:  []string{"risk.read", "risk.write", "compliance.read", "compliance.write"},
			Setup: func(t *testing.T, conn *grpc.ClientConn, n string) owned {
				c := riskv1.NewRiskServiceClient(conn)
				var f owned
				for i, name := range []*string{&f.identified, &f.assessed, &f.treating, &f.closed} {
					r, err := c.CreateRisk(ctx, &riskv1.CreateRiskRequest{Risk: &riskv1.Risk{Title: "Risk " + n, Category: riskv1.Risk_CYBERSECURITY}})
					must(t, err)
					if r.GetOwner() != testkit.Owner {
						t.Fatalf("a risk created without an owner is %q's; want the creator's, %s", r.GetOwner(), testkit.Owner)
					}
					*name = r.GetName()
					if i == 0 {
						continue
					}
					_, err = c.AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: r.GetName(), Reason: "first assessment",
						Inherent: &riskv1.RiskScore{Likelihood: 4, Impact: 4}, Residual: &riskv1.RiskScore{Likelihood: 3, Impact: 3}})
					must(t, err)
				}
				_, err := c.StartRiskTreatment(ctx, &riskv1.StartRiskTreatmentRequest{Name: f.treating, Treatment: riskv1.Risk_MITIGATE, TreatmentPlan: "patch"})
				must(t, err)
				_, err = c.CloseRisk(ctx, &riskv1.CloseRiskRequest{Name: f.closed, Reason: "retired"})
				must(t, err)
				a, err := c.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: f.assessed,
					MitigationAction: &riskv1.MitigationAction{Title: "Enforce MFA", DueDate: day(2027, 1, 31)}})
				must(t, err)
				if a.GetOwner() != testkit.Owner {
					t.Fatalf("an action created without an owner is %q's; want the creator's, %s", a.GetOwner(), testkit.Owner)
				}
				q, err := c.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: f.assessed, Acceptance: &riskv1.Acceptance{
					Justification: "Compensating controls in place.", ExpiryDate: day(2027, 3, 31)}})
				must(t, err)
				f.action, f.acceptance = a.GetName(), q.GetName()
				p, err := riskv1.NewComplianceServiceClient(conn).CreateContinuityPlan(ctx, &riskv1.CreateContinuityPlanRequest{
					ContinuityPlan: &riskv1.ContinuityPlan{Title: "Recovery " + n, Service: "service-" + n,
						RecoveryTimeObjective: durationpb.New(time.Hour), RecoveryPointObjective: durationpb.New(time.Minute),
						ExerciseCadence: &riskv1.ExerciseCadence{Months: 6}}})
				must(t, err)
				if p.GetOwner() != testkit.Owner {
					t.Fatalf("a plan created without an owner is %q's; want the creator's, %s", p.GetOwner(), testkit.Owner)
				}
				f.plan = p.GetName()
				cc := riskv1.NewComplianceServiceClient(conn)
				ctl, err := cc.CreateControl(ctx, &riskv1.CreateControlRequest{Control: &riskv1.Control{Title: "MFA " + n,
					Type: riskv1.ControlType_PREVENTIVE, TestFrequency: riskv1.TestFrequency_ANNUALLY, Risks: []string{f.assessed}}})
				must(t, err)
				pol, err := cc.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{Policy: &riskv1.Policy{Title: "Policy " + n, Everyone: true}})
				must(t, err)
				if ctl.GetOwner() != testkit.Owner || pol.GetOwner() != testkit.Owner {
					t.Fatalf("a control and a policy created without an owner are %q's and %q's; want the creator's, %s", ctl.GetOwner(), pol.GetOwner(), testkit.Owner)
				}
				f.control, f.policy = ctl.GetName(), pol.GetName()
				return f
			},
			State: func(t *testing.T, conn *grpc.ClientConn, f owned) []proto.Message {
				c := riskv1.NewRiskServiceClient(conn)
				var out []proto.Message
				for _, name := range []string{f.identified, f.assessed, f.treating, f.closed} {
					r, err := c.GetRisk(ctx, &riskv1.GetRiskRequest{Name: name})
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, r)
				}
				actions, err := c.ListMitigationActions(ctx, &riskv1.ListMitigationActionsRequest{Parent: f.assessed, PageSize: 100})
				must(t, err)
				acceptances, err := c.ListAcceptances(ctx, &riskv1.ListAcceptancesRequest{Parent: f.assessed, PageSize: 100})
				must(t, err)
				comp := riskv1.NewComplianceServiceClient(conn)
				plan, err := comp.GetContinuityPlan(ctx, &riskv1.GetContinuityPlanRequest{Name: f.plan})
				must(t, err)
				exercises, err := comp.ListContinuityExercises(ctx, &riskv1.ListContinuityExercisesRequest{Parent: f.plan, PageSize: 100})
				must(t, err)
				ctl, err := comp.GetControl(ctx, &riskv1.GetControlRequest{Name: f.control})
				must(t, err)
				pol, err := comp.GetPolicy(ctx, &riskv1.GetPolicyRequest{Name: f.policy})
				must(t, err)
				versions, err := comp.ListPolicyVersions(ctx, &riskv1.ListPolicyVersionsRequest{Parent: f.policy, PageSize: 100})
				must(t, err)
				return append(out, actions, acceptances, plan, exercises, ctl, pol, versions)
			},
			Writes: []testkit.OwnedWrite[owned]{
				{Method: "UpdateRisk", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).UpdateRisk(ctx, &riskv1.UpdateRiskRequest{
						Risk: &riskv1.Risk{Name: f.identified, Title: "Changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
					return err
				}},
				{Method: "DeleteRisk", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).DeleteRisk(ctx, &riskv1.DeleteRiskRequest{Name: f.identified})
					return err
				}},
				{Method: "AssessRisk", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).AssessRisk(ctx, &riskv1.AssessRiskRequest{Name: f.identified, Reason: "scored",
						Inherent: &riskv1.RiskScore{Likelihood: 1, Impact: 1}, Residual: &riskv1.RiskScore{Likelihood: 1, Impact: 1}})
					return err
				}},
				{Method: "ReviewRisk", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).ReviewRisk(ctx, &riskv1.ReviewRiskRequest{Name: f.assessed, Reason: "unchanged"})
					return err
				}},
				{Method: "StartRiskTreatment", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).StartRiskTreatment(ctx, &riskv1.StartRiskTreatmentRequest{Name: f.assessed,
						Treatment: riskv1.Risk_MITIGATE, TreatmentPlan: "patch"})
					return err
				}},
				{Method: "MonitorRisk", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).MonitorRisk(ctx, &riskv1.MonitorRiskRequest{Name: f.treating})
					return err
				}},
				{Method: "CloseRisk", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).CloseRisk(ctx, &riskv1.CloseRiskRequest{Name: f.assessed, Reason: "gone"})
					return err
				}},
				{Method: "ReopenRisk", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).ReopenRisk(ctx, &riskv1.ReopenRiskRequest{Name: f.closed, Reason: "back"})
					return err
				}},
				{Method: "CreateMitigationAction", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: f.assessed,
						MitigationAction: &riskv1.MitigationAction{Title: "Another", DueDate: day(2027, 2, 28)}})
					return err
				}},
				{Method: "UpdateMitigationAction", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).UpdateMitigationAction(ctx, &riskv1.UpdateMitigationActionRequest{
						MitigationAction: &riskv1.MitigationAction{Name: f.action, Title: "Changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
					return err
				}},
				{Method: "StartMitigationAction", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).StartMitigationAction(ctx, &riskv1.StartMitigationActionRequest{Name: f.action})
					return err
				}},
				{Method: "CompleteMitigationAction", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).CompleteMitigationAction(ctx, &riskv1.CompleteMitigationActionRequest{Name: f.action})
					return err
				}},
				{Method: "CancelMitigationAction", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).CancelMitigationAction(ctx, &riskv1.CancelMitigationActionRequest{Name: f.action, Reason: "superseded"})
					return err
				}},
				{Method: "CreateAcceptance", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: f.treating,
						Acceptance: &riskv1.Acceptance{Justification: "Accepted for now.", ExpiryDate: day(2027, 3, 31)}})
					return err
				}},
				{Method: "WithdrawAcceptance", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewRiskServiceClient(conn).WithdrawAcceptance(ctx, &riskv1.WithdrawAcceptanceRequest{Name: f.acceptance, Reason: "mitigating instead"})
					return err
				}},
				{Method: "UpdateContinuityPlan", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewComplianceServiceClient(conn).UpdateContinuityPlan(ctx, &riskv1.UpdateContinuityPlanRequest{
						ContinuityPlan: &riskv1.ContinuityPlan{Name: f.plan, Title: "Changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
					return err
				}},
				{Method: "DeleteContinuityPlan", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewComplianceServiceClient(conn).DeleteContinuityPlan(ctx, &riskv1.DeleteContinuityPlanRequest{Name: f.plan})
					return err
				}},
				{Method: "CreateContinuityExercise", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewComplianceServiceClient(conn).CreateContinuityExercise(ctx, &riskv1.CreateContinuityExerciseRequest{
						Parent: f.plan, ContinuityExercise: &riskv1.ContinuityExercise{Kind: riskv1.ExerciseKind_TABLETOP, ExerciseDate: day(2026, 12, 4)}})
					return err
				}},
				{Method: "UpdateControl", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewComplianceServiceClient(conn).UpdateControl(ctx, &riskv1.UpdateControlRequest{
						Control: &riskv1.Control{Name: f.control, Title: "Changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
					return err
				}},
				{Method: "DeleteControl", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewComplianceServiceClient(conn).DeleteControl(ctx, &riskv1.DeleteControlRequest{Name: f.control})
					return err
				}},
				{Method: "UpdatePolicy", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewComplianceServiceClient(conn).UpdatePolicy(ctx, &riskv1.UpdatePolicyRequest{
						Policy: &riskv1.Policy{Name: f.policy, Title: "Changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
					return err
				}},
				{Method: "DeletePolicy", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewComplianceServiceClient(conn).DeletePolicy(ctx, &riskv1.DeletePolicyRequest{Name: f.policy})
					return err
				}},
				{Method: "CreatePolicyVersion", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := riskv1.NewComplianceServiceClient(conn).CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: f.policy,
						PolicyVersion: &riskv1.PolicyVersion{DocumentUri: "https://docs.example.com/policy/1", EffectiveDate: day(2027, 1, 4)}})
					return err
				}},
			},
		})

		// Under the owner policy an owner, a risk's or an action's, must be a principal.
		owner := riskv1.NewRiskServiceClient(s.ConnOf(t, "apiKeys/owner-2", testkit.Owner, "risk.read", "risk.write"))
		_, err := owner.CreateRisk(ctx, &riskv1.CreateRiskRequest{Risk: &riskv1.Risk{Title: "Mailed", Category: riskv1.Risk_CYBERSECURITY, Owner: "ana@example.com"}})
		testkit.ErrorsOf(risk.Domain).Assert(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "risk.owner:"+ownership.ReasonOwnerNotPrincipal)
	})
}
