package risk_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
)

// TestControlLinkNeedsTheRisk: under QUARTERDECK_RISK_WRITE_POLICY=owner, linking a control to
// a risk — creating it with the link, or adding it — and unlinking it need the caller to be one
// who may write the risk (its owner or risk.admin), since the link changes the risk's controls:
// another principal is refused with NOT_OWNER and neither the control nor the risk changes. The
// rest of a control is its owner's alone, and a risk that does not exist is still refused on its
// field.
func TestControlLinkNeedsTheRisk(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		cfg := risk.DefaultSettings()
		cfg.WritePolicy = string(ownership.Owner)
		s := testkit.Start(t, db, risk.Configured(cfg), testkit.WithHostOptions(func(o *host.Options) {
			o.Peers = map[string]string{"talent": "127.0.0.1:1"} // no team owns here: talent is never called
		}))
		ctx := context.Background()
		errs := testkit.ErrorsOf(risk.Domain)
		scopes := []string{"risk.read", "risk.write", "compliance.read", "compliance.write"}
		conn := func(who string, extra ...string) (riskv1.RiskServiceClient, riskv1.ComplianceServiceClient) {
			c := s.ConnOf(t, "apiKeys/"+who+"-1", "principals/"+who, append(extra, scopes...)...)
			return riskv1.NewRiskServiceClient(c), riskv1.NewComplianceServiceClient(c)
		}
		aliceRisks, alice := conn("alice")
		_, bob := conn("bob")
		_, root := conn("root", "risk.admin")
		rk, err := aliceRisks.CreateRisk(ctx, &riskv1.CreateRiskRequest{Risk: &riskv1.Risk{Title: "Phishing", Category: riskv1.Risk_CYBERSECURITY}})
		if err != nil {
			t.Fatal(err)
		}
		control := func(id string, risks ...string) *riskv1.CreateControlRequest {
			return &riskv1.CreateControlRequest{ControlId: id, Control: &riskv1.Control{Title: "Control " + id,
				Type: riskv1.ControlType_PREVENTIVE, TestFrequency: riskv1.TestFrequency_ANNUALLY, Risks: risks}}
		}
		relink := func(c riskv1.ComplianceServiceClient, name string, risks ...string) error {
			_, err := c.UpdateControl(ctx, &riskv1.UpdateControlRequest{Control: &riskv1.Control{Name: name, Risks: risks},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"risks"}}})
			return err
		}
		riskUnchanged := func(what string) {
			t.Helper()
			got, err := aliceRisks.GetRisk(ctx, &riskv1.GetRiskRequest{Name: rk.GetName()})
			if err != nil || got.GetEtag() != rk.GetEtag() || len(got.GetControls()) != len(rk.GetControls()) {
				t.Errorf("after %s the risk is %v, %v; want it unchanged", what, got, err)
			}
		}

		// Bob's new control mitigating alice's risk: refused, and nothing is created.
		_, err = bob.CreateControl(ctx, control("bobs", rk.GetName()))
		errs.Assert(t, err, codes.PermissionDenied, ownership.ReasonNotOwner)
		_, err = bob.GetControl(ctx, &riskv1.GetControlRequest{Name: "controls/bobs"})
		errs.Assert(t, err, codes.NotFound, "CONTROL_NOT_FOUND")
		riskUnchanged("a refused create")

		// Bob's control without the link is his; adding the link is refused, nothing changed.
		bobs, err := bob.CreateControl(ctx, control("bobs"))
		if err != nil || bobs.GetOwner() != "principals/bob" {
			t.Fatalf("bob's control = %v, %v", bobs, err)
		}
		errs.Assert(t, relink(bob, bobs.GetName(), rk.GetName()), codes.PermissionDenied, ownership.ReasonNotOwner)
		if got, err := bob.GetControl(ctx, &riskv1.GetControlRequest{Name: bobs.GetName()}); err != nil || got.GetEtag() != bobs.GetEtag() {
			t.Errorf("after a refused link bob's control is %v, %v; want it unchanged", got, err)
		}
		riskUnchanged("a refused link")
		// A risk that does not exist is refused on its field, as under the scopes policy.
		errs.Assert(t, relink(bob, bobs.GetName(), "risks/nothere"), codes.InvalidArgument, "INVALID_ARGUMENT", "control.risks[0]:RISK_NOT_FOUND")

		// Alice links her own control to her risk; the admin links bob's.
		if _, err := alice.CreateControl(ctx, control("alices", rk.GetName())); err != nil {
			t.Errorf("the risk owner's linked control = %v", err)
		}
		if err := relink(root, bobs.GetName(), rk.GetName()); err != nil {
			t.Errorf("the admin's link = %v", err)
		}
		rk, err = aliceRisks.GetRisk(ctx, &riskv1.GetRiskRequest{Name: rk.GetName()})
		if err != nil || len(rk.GetControls()) != 2 {
			t.Fatalf("the risk's controls = %v, %v; want alice's and bob's", rk.GetControls(), err)
		}

		// Bob may not unlink it either, but changes the rest of his control.
		errs.Assert(t, relink(bob, bobs.GetName()), codes.PermissionDenied, ownership.ReasonNotOwner)
		riskUnchanged("a refused unlink")
		if _, err := bob.UpdateControl(ctx, &riskv1.UpdateControlRequest{Control: &riskv1.Control{Name: bobs.GetName(), Title: "Bob's MFA"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
			t.Errorf("the control owner's title change = %v", err)
		}
		// Alice, who does not own bob's control, may not change it, her risk's link or not.
		errs.Assert(t, relink(alice, bobs.GetName()), codes.PermissionDenied, ownership.ReasonNotOwner)
	})
}
