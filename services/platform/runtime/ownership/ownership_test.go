package ownership_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
)

// The budget API serves as the API under test: the kit reads any service's descriptors.
var budgetService = budgetv1.File_quarterdeck_budget_v1_budget_service_proto.Services().ByName("BudgetService")

func rules(owners ownership.Owners) ownership.Rules {
	return ownership.Rules{
		Service: budgetService,
		Owned:   []string{"costCenters", "budgets"},
		Owners:  owners,
		Unowned: map[string]string{"exchangeRates": "reference data"},
		Exempt: map[string]string{"ApproveBudget": "an approver", "RejectBudget": "an approver",
			"CloseBudget": "an approver", "ApproveTransfer": "an approver", "RejectTransfer": "an approver"},
	}
}

func as(who string, scopes ...string) context.Context {
	return identity.NewContext(context.Background(), identity.Principal{Subject: "apiKeys/" + who + "-1", Owner: who, Scopes: scopes})
}

func TestClassify(t *testing.T) {
	_, _, err := ownership.Classify(rules(nil))
	if err == nil || !strings.Contains(err.Error(), "has no Owners") {
		t.Errorf("Classify without Owners = %v; want an error", err)
	}
	ms, admin, err := ownership.Classify(rules(func(context.Context, string) ([]string, error) { return nil, nil }))
	if err != nil {
		t.Fatal(err)
	}
	if admin != "budget.admin" {
		t.Errorf("admin scope = %q; want budget.admin", admin)
	}
	for name, want := range map[string]ownership.Kind{
		"GetBudget": ownership.Read, "ListBudgets": ownership.Read, "UpdateBudget": ownership.Checked,
		"DeleteCostCenter": ownership.Checked, "SubmitBudget": ownership.Checked, "CreateBudgetLine": ownership.Checked,
		"ReleaseHold": ownership.Checked, "CreateBudget": ownership.Create, "CreateCostCenter": ownership.Create,
		"ApproveBudget": ownership.NotOwned, "CreateExchangeRate": ownership.NotOwned, "UpdateExchangeRate": ownership.NotOwned,
	} {
		if got := ms[name]; got == nil || got.Kind != want {
			t.Errorf("%s = %+v; want kind %d", name, got, want)
		}
	}

	// A write of a collection nobody declared, and an exemption of a method that does not
	// exist, fail: a new method cannot slip through unclassified.
	r := rules(func(context.Context, string) ([]string, error) { return nil, nil })
	delete(r.Unowned, "exchangeRates")
	r.Exempt["ApproveEverything"] = "no such method"
	_, _, err = ownership.Classify(r)
	for _, want := range []string{"CreateExchangeRate writes \"exchangeRates\"", "DeleteExchangeRate", "exempts ApproveEverything"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Classify = %v; want it to name %s", err, want)
		}
	}
	if _, err := ownership.New(ownership.Scopes, r); err == nil {
		t.Error("New accepted rules with a gap under the scopes policy")
	}
}

func TestCheck(t *testing.T) {
	var looked []string
	owners := func(_ context.Context, name string) ([]string, error) {
		looked = append(looked, name)
		b, ok := ownership.Ancestor(name, "budgets")
		switch {
		case !ok:
			return nil, fault.New(fault.NotFound, "NOT_FOUND", name)
		case b == "budgets/alices":
			return []string{"principals/alice"}, nil
		case b == "budgets/mailed":
			return []string{"alice@example.com"}, nil
		}
		return nil, fault.New(fault.NotFound, "BUDGET_NOT_FOUND", name)
	}
	g, err := ownership.New(ownership.Owner, rules(owners))
	if err != nil {
		t.Fatal(err)
	}
	const update = "/quarterdeck.budget.v1.BudgetService/UpdateBudget"
	const line = "/quarterdeck.budget.v1.BudgetService/DeleteBudgetLine"
	const approve = "/quarterdeck.budget.v1.BudgetService/ApproveBudget"
	upd := func(name, owner string, paths ...string) proto.Message {
		return &budgetv1.UpdateBudgetRequest{Budget: &budgetv1.Budget{Name: name, Owner: owner},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}
	}
	for _, c := range []struct {
		name   string
		ctx    context.Context
		method string
		req    proto.Message
		code   fault.Kind
		reason string
	}{
		{"the owner", as("principals/alice", "budget.write"), update, upd("budgets/alices", "", "display_name"), 0, ""},
		{"another principal", as("principals/bob", "budget.write"), update, upd("budgets/alices", "", "display_name"), fault.PermissionDenied, ownership.ReasonNotOwner},
		{"another principal on a child", as("principals/bob", "budget.write"), line, &budgetv1.DeleteBudgetLineRequest{Name: "budgets/alices/lines/x"}, fault.PermissionDenied, ownership.ReasonNotOwner},
		{"the owner on a child", as("principals/alice", "budget.write"), line, &budgetv1.DeleteBudgetLineRequest{Name: "budgets/alices/lines/x"}, 0, ""},
		{"the admin", as("principals/bob", "budget.write", "budget.admin"), update, upd("budgets/alices", "", "display_name"), 0, ""},
		{"an exempt method", as("principals/bob", "budget.approve"), approve, &budgetv1.ApproveBudgetRequest{Name: "budgets/alices"}, 0, ""},
		{"nobody owns an e-mail", as("principals/alice", "budget.write"), update, upd("budgets/mailed", "", "display_name"), fault.PermissionDenied, ownership.ReasonNotOwner},
		{"a missing budget", as("principals/alice", "budget.write"), update, upd("budgets/none", "", "display_name"), fault.NotFound, "BUDGET_NOT_FOUND"},
		{"an owner not a principal", as("principals/alice", "budget.write"), update, upd("budgets/alices", "bob@example.com", "owner"), fault.InvalidArgument, fault.ReasonInvalid},
		{"an owner cleared", as("principals/alice", "budget.write"), update, upd("budgets/alices", "", "owner"), fault.InvalidArgument, fault.ReasonInvalid},
		{"a handover", as("principals/alice", "budget.write"), update, upd("budgets/alices", "principals/bob", "owner"), 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := g.Check(c.ctx, c.method, c.req)
			fe := fault.As(err)
			switch {
			case c.reason == "" && err != nil:
				t.Errorf("Check = %v; want nil", err)
			case c.reason != "" && (fe == nil || fe.Kind != c.code || fe.Reason != c.reason):
				t.Errorf("Check = %v; want %v %s", err, c.code, c.reason)
			case c.reason == ownership.ReasonNotOwner && (fe.Metadata["resource"] == "" || fe.Metadata["scope"] != "budget.admin"):
				t.Errorf("Check = %v, metadata %v; want the resource and the admin scope", err, fe.Metadata)
			}
		})
	}

	// A created resource without an owner is the caller's; one naming a principal keeps it.
	create := &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{DisplayName: "FY"}}
	if err := g.Check(as("principals/alice", "budget.write"), "/quarterdeck.budget.v1.BudgetService/CreateBudget", create); err != nil || create.GetBudget().GetOwner() != "principals/alice" {
		t.Errorf("create = %v, owner %q; want principals/alice", err, create.GetBudget().GetOwner())
	}
	create = &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{DisplayName: "FY", Owner: "users/carol"}}
	if err := g.Check(as("principals/alice", "budget.write"), "/quarterdeck.budget.v1.BudgetService/CreateBudget", create); err != nil || create.GetBudget().GetOwner() != "users/carol" {
		t.Errorf("create for carol = %v, owner %q", err, create.GetBudget().GetOwner())
	}

	// The admin is not looked up; under the scopes policy nothing is.
	looked = nil
	_ = g.Check(as("principals/bob", "budget.admin"), update, upd("budgets/alices", "", "display_name"))
	scopes, _ := ownership.New(ownership.Scopes, rules(owners))
	if err := scopes.Check(as("principals/bob", "budget.write"), update, upd("budgets/alices", "", "display_name")); err != nil {
		t.Errorf("scopes policy: %v", err)
	}
	if len(looked) != 0 {
		t.Errorf("looked up %v; want nothing for the admin and under the scopes policy", looked)
	}
	create = &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{DisplayName: "FY", Owner: "alice@example.com"}}
	if err := scopes.Check(as("principals/alice", "budget.write"), "/quarterdeck.budget.v1.BudgetService/CreateBudget", create); err != nil {
		t.Errorf("scopes policy, an e-mail owner: %v", err)
	}
}

func TestParsePolicy(t *testing.T) {
	for in, want := range map[string]ownership.Policy{"": ownership.Scopes, "scopes": ownership.Scopes, "owner": ownership.Owner} {
		if got, err := ownership.ParsePolicy("X", in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ownership.ParsePolicy("QUARTERDECK_BUDGET_WRITE_POLICY", "owners"); err == nil || !strings.Contains(err.Error(), "QUARTERDECK_BUDGET_WRITE_POLICY") {
		t.Errorf("ParsePolicy(owners) = %v; want an error naming the setting", err)
	}
}

// TestCreateUnderParent: a resource created under an owned parent (a vendor's contract) is
// checked against the parent's owners, and is the caller's when it names no owner.
func TestCreateUnderParent(t *testing.T) {
	g, err := ownership.New(ownership.Owner, ownership.Rules{
		Service: vendorsv1.File_quarterdeck_vendors_v1_vendors_service_proto.Services().ByName("VendorsService"),
		Owned:   []string{"vendors", "evaluations", "assessmentTemplates"},
		Owners: func(_ context.Context, name string) ([]string, error) {
			return []string{"principals/alice"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	const create = "/quarterdeck.vendors.v1.VendorsService/CreateContract"
	req := &vendorsv1.CreateContractRequest{Parent: "vendors/acme", Contract: &vendorsv1.Contract{Title: "Cloud"}}
	if err := g.Check(as("principals/bob", "vendors.write"), create, req); fault.As(err) == nil || fault.As(err).Reason != ownership.ReasonNotOwner {
		t.Errorf("another principal's contract under alice's vendor = %v; want %s", err, ownership.ReasonNotOwner)
	}
	if err := g.Check(as("principals/alice", "vendors.write"), create, req); err != nil || req.GetContract().GetOwner() != "principals/alice" {
		t.Errorf("alice's contract = %v, owner %q; want hers", err, req.GetContract().GetOwner())
	}
}

// TestTeamOwners: with Rules.Teams, an owner may be a team, whose members write what it owns;
// the caller's teams are asked only for a team-owned resource, and a failed look-up refuses the
// write with UNAVAILABLE. Without Rules.Teams a team is no owner.
func TestTeamOwners(t *testing.T) {
	members := map[string][]string{"principals/alice": {"teams/platform"}, "principals/bob": {"teams/data"}}
	var asked []string
	down := false
	teams := func(_ context.Context, principal string) ([]string, error) {
		asked = append(asked, principal)
		if down {
			return nil, errors.New("talent is down")
		}
		return members[principal], nil
	}
	owners := func(_ context.Context, name string) ([]string, error) {
		switch b, _ := ownership.Ancestor(name, "budgets"); b {
		case "budgets/platform":
			return []string{"teams/platform"}, nil
		case "budgets/carols":
			return []string{"principals/carol"}, nil
		}
		return nil, fault.New(fault.NotFound, "BUDGET_NOT_FOUND", name)
	}
	r := rules(owners)
	r.Teams = teams
	g, err := ownership.New(ownership.Owner, r)
	if err != nil {
		t.Fatal(err)
	}
	const update = "/quarterdeck.budget.v1.BudgetService/UpdateBudget"
	upd := func(name, owner string, paths ...string) proto.Message {
		return &budgetv1.UpdateBudgetRequest{Budget: &budgetv1.Budget{Name: name, Owner: owner},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}}
	}
	check := func(ctx context.Context, req proto.Message, kind fault.Kind, reason string) {
		t.Helper()
		err := g.Check(ctx, update, req)
		if fe := fault.As(err); reason == "" && err != nil || reason != "" && (fe == nil || fe.Kind != kind || fe.Reason != reason) {
			t.Errorf("Check = %v; want %v %q", err, kind, reason)
		}
	}
	// A member writes; a member of another team does not; the principal owner is not asked about.
	check(as("principals/alice", "budget.write"), upd("budgets/platform", "", "display_name"), 0, "")
	check(as("principals/bob", "budget.write"), upd("budgets/platform", "", "display_name"), fault.PermissionDenied, ownership.ReasonNotOwner)
	check(as("principals/carol", "budget.write"), upd("budgets/carols", "", "display_name"), 0, "")
	check(as("principals/bob", "budget.write"), upd("budgets/carols", "", "display_name"), fault.PermissionDenied, ownership.ReasonNotOwner)
	if want := []string{"principals/alice", "principals/bob"}; !slices.Equal(asked, want) {
		t.Errorf("asked about %v; want %v (only for the team's budget)", asked, want)
	}
	// A team may be named owner, in a handover too.
	check(as("principals/carol", "budget.write"), upd("budgets/carols", "teams/platform", "owner"), 0, "")
	create := &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{DisplayName: "FY", Owner: "teams/data"}}
	if err := g.Check(as("principals/carol", "budget.write"), "/quarterdeck.budget.v1.BudgetService/CreateBudget", create); err != nil || create.GetBudget().GetOwner() != "teams/data" {
		t.Errorf("a budget created for a team = %v, owner %q", err, create.GetBudget().GetOwner())
	}
	check(as("principals/carol", "budget.write"), upd("budgets/carols", "Teams/Platform", "owner"), fault.InvalidArgument, fault.ReasonInvalid)
	// Talent down: the write is refused, never allowed, and the admin is not asked about.
	down = true
	check(as("principals/alice", "budget.write"), upd("budgets/platform", "", "display_name"), fault.Unavailable, ownership.ReasonTeamsUnavailable)
	asked = nil
	check(as("principals/bob", "budget.write", "budget.admin"), upd("budgets/platform", "", "display_name"), 0, "")
	if len(asked) != 0 {
		t.Errorf("asked about %v for the admin", asked)
	}

	// Without Teams a team is no owner: naming one is refused, and nobody but the admin writes
	// a budget a team owns.
	plain, err := ownership.New(ownership.Owner, rules(owners))
	if err != nil {
		t.Fatal(err)
	}
	err = plain.Check(as("principals/carol", "budget.write"), update, upd("budgets/carols", "teams/platform", "owner"))
	if fe := fault.As(err); fe == nil || fe.Kind != fault.InvalidArgument {
		t.Errorf("a team owner without Teams = %v; want INVALID_ARGUMENT", err)
	}
	err = plain.Check(as("principals/alice", "budget.write"), update, upd("budgets/platform", "", "display_name"))
	if fe := fault.As(err); fe == nil || fe.Reason != ownership.ReasonNotOwner {
		t.Errorf("a member without Teams = %v; want %s", err, ownership.ReasonNotOwner)
	}
}

// TestCachedTeams: a principal's teams are kept for the TTL by the clock given, and asked again
// once it has passed; a failed look-up is not kept.
func TestCachedTeams(t *testing.T) {
	now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
	calls := map[string]int{}
	answer, fail := []string{"teams/platform"}, false
	cached := ownership.CachedTeams(func(_ context.Context, p string) ([]string, error) {
		calls[p]++
		if fail {
			return nil, errors.New("down")
		}
		return answer, nil
	}, 5*time.Second, func() time.Time { return now })
	ctx := context.Background()
	get := func(p string) []string {
		t.Helper()
		teams, err := cached(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return teams
	}
	get("principals/alice")
	answer = []string{"teams/data"} // alice moves
	now = now.Add(4 * time.Second)
	if got := get("principals/alice"); !slices.Equal(got, []string{"teams/platform"}) || calls["principals/alice"] != 1 {
		t.Errorf("within the TTL: %v after %d calls; want the kept answer after 1", got, calls["principals/alice"])
	}
	if get("principals/bob"); calls["principals/bob"] != 1 {
		t.Errorf("bob asked %d times; want 1: entries are per principal", calls["principals/bob"])
	}
	now = now.Add(time.Second) // 5 s after the first answer: expired
	if got := get("principals/alice"); !slices.Equal(got, []string{"teams/data"}) || calls["principals/alice"] != 2 {
		t.Errorf("after the TTL: %v after %d calls; want the new answer after 2", got, calls["principals/alice"])
	}
	now = now.Add(10 * time.Second)
	fail = true
	if _, err := cached(ctx, "principals/alice"); err == nil {
		t.Error("an expired entry answered while the look-up fails")
	}
	fail = false
	if get("principals/alice"); calls["principals/alice"] != 4 {
		t.Errorf("alice asked %d times; want 4: a failure is not kept", calls["principals/alice"])
	}
}
