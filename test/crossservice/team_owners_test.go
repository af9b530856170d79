package crossservice_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// TestTeamOwners runs budget and risk under the owner write policy, calling talent, each on a
// database of its own: a cost centre and a risk may be owned by a team of talent; the principal
// of an ACTIVE person of the team writes them, a principal of another team is refused with
// NOT_OWNER and changes nothing, and with talent down a member not yet known is refused with
// UNAVAILABLE — never allowed — while the admin scope still writes.
func TestTeamOwners(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		// Talent's own peer, budget, is not needed: no team here names a cost centre.
		tal := testkit.Start(t, testenv.Another(t, db), talent.Service(), testkit.WithHostOptions(func(o *host.Options) {
			o.Peers = map[string]string{"budget": "127.0.0.1:1"}
		}))
		onTalent := testkit.WithHostOptions(func(o *host.Options) { o.Peers = map[string]string{"talent": tal.Addr} })
		owner := string(ownership.Owner)
		bud := testkit.Start(t, testenv.Another(t, db), budget.Configured(budget.Settings{FiscalYearStartMonth: 1, WritePolicy: owner}), onTalent)
		rc := risk.DefaultSettings()
		rc.WritePolicy = owner
		rsk := testkit.Start(t, db, risk.Configured(rc), onTalent)

		people := talentv1.NewTalentServiceClient(tal.Conn)
		for _, id := range []string{"platform", "data"} {
			if _, err := people.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: id, Team: &talentv1.Team{DisplayName: id}}); err != nil {
				t.Fatal(err)
			}
		}
		for id, team := range map[string]string{"ada": "teams/platform", "eve": "teams/platform", "bob": "teams/data"} {
			if _, err := people.CreatePerson(ctx, &talentv1.CreatePersonRequest{PersonId: id, Person: &talentv1.Person{
				DisplayName: id, Team: team, EmploymentType: talentv1.Person_EMPLOYEE, StartDate: day(2024, 1, 8),
				Principal: "principals/" + id}}); err != nil {
				t.Fatal(err)
			}
		}
		scopes := []string{"budget.read", "budget.write", "risk.read", "risk.write"}
		budgetOf := func(who string, extra ...string) budgetv1.BudgetServiceClient {
			return budgetv1.NewBudgetServiceClient(bud.ConnOf(t, "apiKeys/"+who+"-1", "principals/"+who, append(extra, scopes...)...))
		}
		riskOf := func(who string, extra ...string) riskv1.RiskServiceClient {
			return riskv1.NewRiskServiceClient(rsk.ConnOf(t, "apiKeys/"+who+"-1", "principals/"+who, append(extra, scopes...)...))
		}

		// Carol, in no team, creates a cost centre and a risk for the platform team.
		cc, err := budgetOf("carol").CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{
			DisplayName: "Platform", Code: "PLT", Owner: "teams/platform"}})
		if err != nil || cc.GetOwner() != "teams/platform" {
			t.Fatalf("a cost centre owned by a team = %v, %v", cc, err)
		}
		rk, err := riskOf("carol").CreateRisk(ctx, &riskv1.CreateRiskRequest{Risk: &riskv1.Risk{
			Title: "Cluster sprawl", Category: riskv1.Risk_CYBERSECURITY, Owner: "teams/platform"}})
		if err != nil || rk.GetOwner() != "teams/platform" {
			t.Fatalf("a risk owned by a team = %v, %v", rk, err)
		}
		renameCC := func(c budgetv1.BudgetServiceClient, to string) error {
			_, err := c.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{CostCenter: &budgetv1.CostCenter{Name: cc.GetName(), DisplayName: to},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
			return err
		}
		renameRisk := func(c riskv1.RiskServiceClient, to string) error {
			_, err := c.UpdateRisk(ctx, &riskv1.UpdateRiskRequest{Risk: &riskv1.Risk{Name: rk.GetName(), Title: to},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
			return err
		}
		unchanged := func(what string) {
			t.Helper()
			gotCC, err := budgetOf("ada").GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: cc.GetName()})
			if err != nil || !proto.Equal(gotCC, cc) {
				t.Errorf("after %s the cost centre is %v, %v; want %v", what, gotCC, err, cc)
			}
			gotRisk, err := riskOf("ada").GetRisk(ctx, &riskv1.GetRiskRequest{Name: rk.GetName()})
			if err != nil || gotRisk.GetEtag() != rk.GetEtag() {
				t.Errorf("after %s the risk is %v, %v; want %v", what, gotRisk, err, rk)
			}
		}

		// Bob, of the data team, may not; carol, who created them, neither.
		for _, who := range []string{"bob", "carol"} {
			testkit.ErrorsOf(budget.Domain).Assert(t, renameCC(budgetOf(who), "Bob's"), codes.PermissionDenied, ownership.ReasonNotOwner)
			testkit.ErrorsOf(risk.Domain).Assert(t, renameRisk(riskOf(who), "Bob's"), codes.PermissionDenied, ownership.ReasonNotOwner)
		}
		unchanged("the refused writes")

		// Ada, of the platform team, may.
		if err := renameCC(budgetOf("ada"), "Platform engineering"); err != nil {
			t.Errorf("a member's cost centre update = %v", err)
		}
		if err := renameRisk(riskOf("ada"), "Cluster sprawl and cost"); err != nil {
			t.Errorf("a member's risk update = %v", err)
		}
		if cc, err = budgetOf("ada").GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: cc.GetName()}); err != nil || cc.GetDisplayName() != "Platform engineering" {
			t.Fatalf("the cost centre after ada's update = %v, %v", cc, err)
		}
		if rk, err = riskOf("ada").GetRisk(ctx, &riskv1.GetRiskRequest{Name: rk.GetName()}); err != nil || rk.GetTitle() != "Cluster sprawl and cost" {
			t.Fatalf("the risk after ada's update = %v, %v", rk, err)
		}

		// Talent down: eve, a member whose teams were never asked, is refused with UNAVAILABLE,
		// not allowed and not NOT_OWNER; nothing changes. The admin scope needs no talent.
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := tal.Stop(sctx); err != nil {
			t.Fatal(err)
		}
		testkit.ErrorsOf(budget.Domain).Assert(t, renameCC(budgetOf("eve"), "Eve's"), codes.Unavailable, ownership.ReasonTeamsUnavailable)
		testkit.ErrorsOf(risk.Domain).Assert(t, renameRisk(riskOf("eve"), "Eve's"), codes.Unavailable, ownership.ReasonTeamsUnavailable)
		unchanged("the writes while talent is down")
		if err := renameCC(budgetOf("root", "budget.admin"), "Platform"); err != nil {
			t.Errorf("the admin's update with talent down = %v", err)
		}
		if err := renameRisk(riskOf("root", "risk.admin"), "Cluster sprawl"); err != nil {
			t.Errorf("the admin's risk update with talent down = %v", err)
		}
	})
}
