package crossservice_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// TestPolicyCampaign runs talent and risk side by side. Risk learns talent's people and teams
// from talent's person events: a policy for the platform team asks its active people to
// acknowledge it; ada does (once, whatever the retries), bob moves away and carl leaves, so
// they are no longer asked; a person talent does not know is refused. A minor version keeps
// ada's acknowledgement, a major one asks again, and the day after its due date one
// policy.acknowledgement_overdue names dan, who never acknowledged.
func TestPolicyCampaign(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ns := testenv.NATSServer(t)
		fake := clock.NewFake(today)
		talentSvc := testkit.Start(t, testenv.Another(t, db), talent.Service(), testkit.WithNATS(ns),
			testkit.WithHostOptions(func(o *host.Options) {
				o.Clock = fake
				o.Peers = map[string]string{"budget": "127.0.0.1:1"}
			}))
		riskSvc := testkit.Start(t, db, risk.Service(), testkit.WithNATS(ns), testkit.WithHostOptions(func(o *host.Options) {
			o.Clock = fake
			o.Peers = map[string]string{"talent": talentSvc.Addr}
			o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
		}))
		tc := talentv1.NewTalentServiceClient(talentSvc.Conn)
		comp := riskv1.NewComplianceServiceClient(riskSvc.Conn)
		rdb := riskSvc.DB(t)
		ctx := context.Background()
		known := func(query string, want int) {
			t.Helper()
			testkit.Eventually(t, 60*time.Second, func() error {
				if n := testkit.Column[int](t, rdb, query)[0]; n != want {
					return fmt.Errorf("%s = %d, want %d", query, n, want)
				}
				return nil
			})
		}

		for _, team := range []string{"platform", "data"} {
			if _, err := tc.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: team, Team: &talentv1.Team{DisplayName: team}}); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range [][2]string{{"ada", "platform"}, {"bob", "platform"}, {"carl", "platform"}, {"dan", "platform"}, {"eve", "data"}} {
			if _, err := tc.CreatePerson(ctx, &talentv1.CreatePersonRequest{PersonId: p[0], Person: &talentv1.Person{
				DisplayName: p[0], Team: "teams/" + p[1], EmploymentType: talentv1.Person_EMPLOYEE, StartDate: day(2024, 3, 1)}}); err != nil {
				t.Fatal(err)
			}
		}
		known(`SELECT COUNT(*) FROM people WHERE active`, 5)

		p, err := comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "aup", Policy: &riskv1.Policy{
			Title: "Acceptable use", Owner: "people/ada", Teams: []string{"teams/platform"}, AcknowledgementDays: 7}})
		if err != nil {
			t.Fatal(err)
		}
		// Teams are asked about at talent: one it does not know is refused on its field, and
		// nothing changes.
		_, err = comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "ghosts", Policy: &riskv1.Policy{
			Title: "Ghosts", Owner: "people/ada", Teams: []string{"teams/data", "teams/ghosts"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy.teams[1]:TEAM_NOT_FOUND")
		_, err = comp.GetPolicy(ctx, &riskv1.GetPolicyRequest{Name: "policies/ghosts"})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_NOT_FOUND")
		_, err = comp.UpdatePolicy(ctx, &riskv1.UpdatePolicyRequest{Policy: &riskv1.Policy{Name: p.GetName(),
			Teams: []string{"teams/platform", "teams/ghosts"}}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"teams"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy.teams[1]:TEAM_NOT_FOUND")
		if got, err := comp.GetPolicy(ctx, &riskv1.GetPolicyRequest{Name: p.GetName()}); err != nil || got.GetEtag() != p.GetEtag() {
			t.Errorf("policy after a refused update = %v, %v; want it unchanged", got, err)
		}
		_, err = comp.AcknowledgePolicy(ctx, &riskv1.AcknowledgePolicyRequest{Name: p.GetName(), Person: "people/ada"})
		testkit.AssertStatus(t, err, codes.FailedPrecondition, "POLICY_NOT_PUBLISHED")
		publish := func(change riskv1.PolicyChange, d []int32) {
			t.Helper()
			if _, err := comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: p.GetName(), PolicyVersion: &riskv1.PolicyVersion{
				Change: change, DocumentUri: "https://docs.example.com/aup", EffectiveDate: day(d[0], d[1], d[2])}}); err != nil {
				t.Fatal(err)
			}
		}
		publish(riskv1.PolicyChange_POLICY_CHANGE_UNSPECIFIED, []int32{2026, 9, 1}) // due 2026-09-08: overdue today
		campaign := func() *riskv1.PolicyCampaign {
			t.Helper()
			c, err := comp.GetPolicyCampaign(ctx, &riskv1.GetPolicyCampaignRequest{Name: p.GetName() + "/campaign"})
			if err != nil {
				t.Fatal(err)
			}
			// The BASIC view counts the same people without them.
			basic, err := comp.GetPolicyCampaign(ctx, &riskv1.GetPolicyCampaignRequest{Name: p.GetName() + "/campaign",
				View: riskv1.GetPolicyCampaignRequest_BASIC})
			if err != nil {
				t.Fatal(err)
			}
			full := proto.Clone(c).(*riskv1.PolicyCampaign)
			full.People, full.ComputeTime = nil, basic.GetComputeTime()
			if !proto.Equal(full, basic) {
				t.Errorf("the campaign without its people %v and its BASIC view %v differ", full, basic)
			}
			// And so does the list of policies' FULL view.
			listed, err := comp.ListPolicies(ctx, &riskv1.ListPoliciesRequest{Filter: `name = "` + p.GetName() + `"`,
				View: riskv1.ListPoliciesRequest_FULL})
			if err != nil || len(listed.GetPolicies()) != 1 {
				t.Fatalf("list the policy's FULL view: %v, %v", listed, err)
			}
			inList := listed.GetPolicies()[0].GetCampaign()
			inList.ComputeTime = basic.GetComputeTime()
			if !proto.Equal(inList, basic) {
				t.Errorf("the campaign in the list of policies %v and its BASIC view %v differ", inList, basic)
			}
			return c
		}
		acknowledge := func(person string) *riskv1.PolicyAcknowledgement {
			t.Helper()
			a, err := comp.AcknowledgePolicy(ctx, &riskv1.AcknowledgePolicyRequest{Name: p.GetName(), Person: person})
			if err != nil {
				t.Fatalf("acknowledge by %s: %v", person, err)
			}
			return a
		}
		first := acknowledge("people/ada")
		if again := acknowledge("people/ada"); first.GetVersion() != "1.0" || !again.GetAcknowledgeTime().AsTime().Equal(first.GetAcknowledgeTime().AsTime()) {
			t.Errorf("acknowledged = %v, then %v; want the first kept", first, again)
		}
		if c := campaign(); c.GetRequiredCount() != 4 || c.GetAcknowledgedCount() != 1 || c.GetPendingCount() != 3 || c.GetOverdueCount() != 3 ||
			c.GetPeople()[0].GetPerson() != "people/ada" || c.GetPeople()[0].GetDisplayName() != "ada" ||
			c.GetPeople()[0].GetAcknowledgedVersion() != "1.0" || !c.GetPeople()[1].GetOverdue() {
			t.Errorf("campaign of 1.0 = %v", c)
		}
		_, err = comp.AcknowledgePolicy(ctx, &riskv1.AcknowledgePolicyRequest{Name: p.GetName(), Person: "people/nobody"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "PERSON_NOT_FOUND", "person:PERSON_NOT_FOUND")

		// bob moves to data, carl leaves: neither is asked any more.
		if _, err := tc.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: "people/bob", Team: "teams/data"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"team"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: "people/carl"}); err != nil {
			t.Fatal(err)
		}
		known(`SELECT COUNT(*) FROM people WHERE active AND team = 'teams/platform'`, 2)
		// dan's new name reaches the campaign with talent's person.updated.
		if _, err := tc.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: "people/dan", DisplayName: "Dan Okafor"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}); err != nil {
			t.Fatal(err)
		}
		known(`SELECT COUNT(*) FROM people WHERE display_name = 'Dan Okafor'`, 1)
		_, err = comp.AcknowledgePolicy(ctx, &riskv1.AcknowledgePolicyRequest{Name: p.GetName(), Person: "people/carl"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "PERSON_LEFT", "person:PERSON_LEFT")
		publish(riskv1.PolicyChange_MINOR, []int32{2026, 9, 10})
		if c := campaign(); c.GetRequiredCount() != 2 || c.GetAcknowledgedCount() != 1 || c.GetOverdueCount() != 1 ||
			c.GetPolicyVersion() != "policies/aup/versions/1-1" || c.GetPeople()[1].GetPerson() != "people/dan" ||
			c.GetPeople()[1].GetDisplayName() != "Dan Okafor" {
			t.Errorf("campaign of 1.1 = %v", c)
		}

		// 2.0 asks again, due 2026-09-22.
		publish(riskv1.PolicyChange_MAJOR, []int32{2026, 9, 15})
		if c := campaign(); c.GetAcknowledgedCount() != 0 || c.GetPendingCount() != 2 || c.GetOverdueCount() != 0 || c.GetDueDate().GetDay() != 22 {
			t.Errorf("campaign of 2.0 = %v", c)
		}
		if a := acknowledge("people/ada"); a.GetVersion() != "2.0" {
			t.Errorf("acknowledged 2.0 = %v", a)
		}
		fake.Set(time.Date(2026, 9, 23, 0, 30, 0, 0, time.UTC))
		// 1.0 was overdue when published (its event may have fired, or been replaced by 2.0's):
		// 2.0's is the one to look at.
		of2 := func() []*riskv1.PolicyAcknowledgementOverdue {
			var out []*riskv1.PolicyAcknowledgementOverdue
			for _, payload := range testkit.Column[[]byte](t, rdb, `SELECT payload FROM outbox
				WHERE subject LIKE '%.policy.acknowledgement_overdue' AND resource_name = $1 ORDER BY seq`, p.GetName()) {
				var ev riskv1.PolicyAcknowledgementOverdue
				if err := protojson.Unmarshal(payload, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.GetPolicyVersion() == "policies/aup/versions/2-0" {
					out = append(out, &ev)
				}
			}
			return out
		}
		testkit.Eventually(t, 30*time.Second, func() bool { return len(of2()) > 0 })
		if got := of2(); len(got) != 1 || got[0].GetOverdueCount() != 1 || got[0].GetRequiredCount() != 2 ||
			!slices.Equal(got[0].GetOverduePeople(), []string{"people/dan"}) || got[0].GetDueDate().GetDay() != 22 {
			t.Errorf("policy.acknowledgement_overdue of 2.0 = %v", got)
		}
		if c := campaign(); c.GetOverdueCount() != 1 || c.GetPeople()[1].GetPerson() != "people/dan" || !c.GetPeople()[1].GetOverdue() {
			t.Errorf("campaign after the due date = %v", c)
		}
		// The list of the campaign's people finds whom to chase, and who acknowledged.
		for filter, want := range map[string][]string{"overdue = true": {"people/dan"}, `acknowledged_version = "2.0"`: {"people/ada"}} {
			page, err := comp.ListPolicyCampaignPeople(ctx, &riskv1.ListPolicyCampaignPeopleRequest{Parent: p.GetName() + "/campaign", Filter: filter})
			var got []string
			for _, person := range page.GetPeople() {
				got = append(got, person.GetPerson())
			}
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("campaign people %s = %v, %v; want %v", filter, got, err, want)
			}
		}
	})
}
