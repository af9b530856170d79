package crossservice_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// TestKeyPersonRiskReachesTheRegister runs talent and risk side by side, each on a database of
// its own, on one NATS server. Through talent's API a team requires Go of two people and only
// ada holds it: talent publishes skill.key_person_risk, and the register opens one PEOPLE risk
// for the team, its source, scored for a key person. A second skill held by bob alone refreshes
// the same risk (its likelihood one step up, the requirement as the cause); a copy of the first
// event, sent again, changes nothing. Another team gets a risk of its own.
func TestKeyPersonRiskReachesTheRegister(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ns := testenv.NATSServer(t)
		_, js := testenv.Connect(t, ns.URL)
		fake := clock.NewFake(today)
		talentSvc := testkit.Start(t, testenv.Another(t, db), talent.Service(), testkit.WithNATS(ns),
			testkit.WithHostOptions(func(o *host.Options) {
				o.Clock = fake
				o.Peers = map[string]string{"budget": "127.0.0.1:1"} // no cost centre is named: budget is never called
			}))
		riskSvc := testkit.Start(t, db, risk.Service(), testkit.WithNATS(ns), testkit.WithHostOptions(func(o *host.Options) {
			o.Clock = fake
			o.Peers = map[string]string{"talent": talentSvc.Addr}
			o.Peers = map[string]string{"talent": talentSvc.Addr}
			o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
		}))
		tc := talentv1.NewTalentServiceClient(talentSvc.Conn)
		register := riskv1.NewRiskServiceClient(riskSvc.Conn)
		rdb, tdb := riskSvc.DB(t), talentSvc.DB(t)
		ctx := context.Background()
		const consumer = "talent-skill-key_person_risk"
		handled := func(want int) {
			t.Helper()
			testkit.Eventually(t, 60*time.Second, func() error {
				n := testkit.Column[int](t, rdb, `SELECT COUNT(*) FROM consumer_inbox WHERE consumer = $1`, consumer)[0]
				if n < want {
					return fmt.Errorf("%s handled %d of %d events", consumer, n, want)
				}
				return nil
			})
		}
		teamRisk := func(team string) *riskv1.Risk {
			t.Helper()
			rs, err := register.ListRisks(ctx, &riskv1.ListRisksRequest{Filter: fmt.Sprintf(`source = "teams/%s"`, team)})
			if err != nil || len(rs.GetRisks()) != 1 {
				t.Fatalf("risks of teams/%s = %v, %v; want one", team, rs, err)
			}
			return rs.GetRisks()[0]
		}

		if _, err := tc.CreateSkillCategory(ctx, &talentv1.CreateSkillCategoryRequest{SkillCategoryId: "eng",
			SkillCategory: &talentv1.SkillCategory{DisplayName: "Engineering"}}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"go", "kubernetes"} {
			if _, err := tc.CreateSkill(ctx, &talentv1.CreateSkillRequest{SkillId: id,
				Skill: &talentv1.Skill{DisplayName: id, Category: "skillCategories/eng"}}); err != nil {
				t.Fatal(err)
			}
		}
		for _, team := range []string{"platform", "data"} {
			if _, err := tc.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: team, Team: &talentv1.Team{DisplayName: team}}); err != nil {
				t.Fatal(err)
			}
		}
		for person, team := range map[string]string{"ada": "platform", "bob": "platform", "eve": "data"} {
			if _, err := tc.CreatePerson(ctx, &talentv1.CreatePersonRequest{PersonId: person, Person: &talentv1.Person{
				DisplayName: person, Team: "teams/" + team, EmploymentType: talentv1.Person_EMPLOYEE, StartDate: day(2024, 3, 1)}}); err != nil {
				t.Fatal(err)
			}
		}
		require := func(team, skill string, people int32) {
			t.Helper()
			if _, err := tc.CreateSkillRequirement(ctx, &talentv1.CreateSkillRequirementRequest{Parent: "teams/" + team,
				SkillRequirement: &talentv1.SkillRequirement{Skill: "skills/" + skill, MinProficiency: 3, RequiredPeople: people}}); err != nil {
				t.Fatal(err)
			}
		}
		rate := func(person, skill string) {
			t.Helper()
			if _, err := tc.CreateSkillRating(ctx, &talentv1.CreateSkillRatingRequest{Parent: "people/" + person,
				SkillRating: &talentv1.SkillRating{Skill: "skills/" + skill, Proficiency: 4, Evidence: "review"}}); err != nil {
				t.Fatal(err)
			}
		}

		// Only ada covers Go: the team's people risk opens.
		require("platform", "go", 2)
		rate("ada", "go")
		handled(1)
		opened := teamRisk("platform")
		if opened.GetCategory() != riskv1.Risk_PEOPLE || opened.GetResidual().GetLikelihood() == 0 ||
			!strings.Contains(opened.GetDescription(), "people/ada") || !strings.Contains(opened.GetDescription(), "skills/go") {
			t.Fatalf("the team's risk = %v", opened)
		}

		// Only bob covers Kubernetes: the same risk is refreshed, one step more likely.
		require("platform", "kubernetes", 1)
		rate("bob", "kubernetes")
		handled(2)
		refreshed := teamRisk("platform")
		if refreshed.GetName() != opened.GetName() || refreshed.GetResidual().GetLikelihood() != opened.GetResidual().GetLikelihood()+1 {
			t.Errorf("after a second key person: %v; want %s one step more likely than %v", refreshed.GetResidual(), opened.GetName(), opened.GetResidual())
		}
		hist, err := register.ListRiskScoreChanges(ctx, &riskv1.ListRiskScoreChangesRequest{Parent: opened.GetName()})
		if err != nil || len(hist.GetRiskScoreChanges()) != 2 ||
			hist.GetRiskScoreChanges()[1].GetCause() != "teams/platform/skillRequirements/kubernetes" {
			t.Errorf("score history = %v, %v", hist, err)
		}

		// A copy of ada's event (a new event ID, past the inbox) changes nothing.
		payload := testkit.Column[[]byte](t, tdb, `SELECT payload FROM outbox WHERE subject LIKE '%.skill.key_person_risk'
			AND resource_name = 'teams/platform/skillRequirements/go'`)
		if len(payload) != 1 {
			t.Fatalf("%d key_person_risk events of platform's Go", len(payload))
		}
		var again talentv1.SkillKeyPersonRisk
		if err := protojson.Unmarshal(payload[0], &again); err != nil {
			t.Fatal(err)
		}
		newFeed(t, ns, js, "talent").publish(t, again.GetSkillRequirement(), again.GetVersion(), &again)
		handled(3)
		if got := teamRisk("platform"); got.GetResidual().GetLikelihood() != refreshed.GetResidual().GetLikelihood() || got.GetEtag() != refreshed.GetEtag() {
			t.Errorf("a copy changed the risk: %v; was %v", got, refreshed)
		}

		// Another team, another risk.
		require("data", "go", 1)
		rate("eve", "go")
		handled(4)
		if other := teamRisk("data"); other.GetName() == opened.GetName() {
			t.Errorf("data shares platform's risk %s", other.GetName())
		}
		if n := testkit.Column[int](t, rdb, `SELECT COUNT(*) FROM risks WHERE category = 7`)[0]; n != 2 {
			t.Errorf("%d people risks; want 2, one per team", n)
		}
	})
}
