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
// for the team, its source, titled with the team's display name and scored for a key person. A
// second skill held by bob alone refreshes the same risk (its likelihood one step up, the
// requirement as the cause); a copy of the first event, sent again, changes nothing. When cy
// comes to cover Kubernetes too (skill.key_person_risk_cleared) the step is taken back, and a
// requirement going in and out of the key-person state moves the risk up and down, never
// further; after its owner closed it, the next key person reopens it scored afresh. A new key
// person on a requirement already in that state changes no score. Another team gets a risk of
// its own.
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
			o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
		}))
		tc := talentv1.NewTalentServiceClient(talentSvc.Conn)
		register := riskv1.NewRiskServiceClient(riskSvc.Conn)
		rdb, tdb := riskSvc.DB(t), talentSvc.DB(t)
		ctx := context.Background()
		const raised, cleared = "talent-skill-key_person_risk", "talent-skill-key_person_risk_cleared"
		handled := func(consumer string, want int) {
			t.Helper()
			waitHandled(t, rdb, consumer, want)
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
			if _, err := tc.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: team, Team: &talentv1.Team{DisplayName: strings.ToUpper(team[:1]) + team[1:] + " team"}}); err != nil {
				t.Fatal(err)
			}
		}
		for person, team := range map[string]string{"ada": "platform", "bob": "platform", "cy": "platform", "eve": "data"} {
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
		rate := func(person, skill string, proficiency int32) {
			t.Helper()
			if _, err := tc.CreateSkillRating(ctx, &talentv1.CreateSkillRatingRequest{Parent: "people/" + person,
				SkillRating: &talentv1.SkillRating{Skill: "skills/" + skill, Proficiency: proficiency, Evidence: "review"}}); err != nil {
				t.Fatal(err)
			}
		}

		// Only ada covers Go: the team's people risk opens.
		require("platform", "go", 2)
		rate("ada", "go", 4)
		handled(raised, 1)
		opened := teamRisk("platform")
		if opened.GetCategory() != riskv1.Risk_PEOPLE || opened.GetResidual().GetLikelihood() == 0 ||
			opened.GetTitle() != "Key-person risk: Platform team" ||
			!strings.Contains(opened.GetDescription(), "ada (people/ada)") || !strings.Contains(opened.GetDescription(), "go (skills/go)") {
			t.Fatalf("the team's risk = %v", opened)
		}
		base := opened.GetResidual().GetLikelihood()
		likelihood := func(step string, want int32) *riskv1.Risk {
			t.Helper()
			r := teamRisk("platform")
			if got := r.GetResidual().GetLikelihood(); r.GetName() != opened.GetName() || got != want {
				t.Errorf("%s: %s likelihood %d; want %s at %d", step, r.GetName(), got, opened.GetName(), want)
			}
			return r
		}

		// Only bob covers Kubernetes: the same risk is refreshed, one step more likely.
		require("platform", "kubernetes", 1)
		rate("bob", "kubernetes", 4)
		handled(raised, 2)
		refreshed := likelihood("a second key person", base+1)
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
		feed := newFeed(t, ns, js, "talent")
		feed.publish(t, again.GetSkillRequirement(), again.GetVersion(), &again)
		handled(raised, 3)
		if got := teamRisk("platform"); got.GetResidual().GetLikelihood() != refreshed.GetResidual().GetLikelihood() || got.GetEtag() != refreshed.GetEtag() {
			t.Errorf("a copy changed the risk: %v; was %v", got, refreshed)
		}

		// Kubernetes goes in and out of the key-person state: cy covers it too, then not, then
		// again. Each clearing takes back the step its entry raised; the risk never climbs.
		rate("cy", "kubernetes", 4)
		handled(cleared, 1)
		likelihood("cy covers Kubernetes too", base)
		rate("cy", "kubernetes", 1)
		handled(raised, 4)
		likelihood("cy no longer covers it", base+1)
		rate("cy", "kubernetes", 5)
		handled(cleared, 2)
		likelihood("cy covers it again", base)
		// Go's clearing takes back nothing: its entry opened the risk rather than raising it.
		rate("bob", "go", 3)
		handled(cleared, 3)
		likelihood("bob covers Go too", base)
		hist, err = register.ListRiskScoreChanges(ctx, &riskv1.ListRiskScoreChangesRequest{Parent: opened.GetName()})
		if err != nil || len(hist.GetRiskScoreChanges()) != 5 {
			t.Fatalf("score history after the flaps = %v, %v; want 5 changes", hist, err)
		}
		if last := hist.GetRiskScoreChanges()[4]; last.GetCause() != "teams/platform/skillRequirements/kubernetes" ||
			!strings.Contains(last.GetReason(), "lowered one step") {
			t.Errorf("the last score change = %v; want Kubernetes's clearing", last)
		}

		// Bob alone covers Go again (a step up); the owner closes the risk; Kubernetes's next key
		// person reopens it, scored afresh, so that Go's clearing has no step left to take back.
		rate("ada", "go", 1)
		handled(raised, 5)
		likelihood("bob alone covers Go", base+1)
		if _, err := register.CloseRisk(ctx, &riskv1.CloseRiskRequest{Name: opened.GetName(), Reason: "reviewed"}); err != nil {
			t.Fatal(err)
		}
		rate("cy", "kubernetes", 1)
		handled(raised, 6)
		if r := likelihood("reopened by Kubernetes", base); r.GetState() != riskv1.Risk_ASSESSED {
			t.Errorf("after Kubernetes's key person: %v; want the risk reopened", r.GetState())
		}
		rate("ada", "go", 4)
		handled(cleared, 4)
		reopened := likelihood("Go cleared after the reopening", base)

		// A new key person on a requirement already in that state (talent's event, sent with a newer
		// version): no score moves, and the register keeps the new person.
		kub := testkit.Column[[]byte](t, tdb, `SELECT payload FROM outbox WHERE subject LIKE '%.skill.key_person_risk'
			AND resource_name = 'teams/platform/skillRequirements/kubernetes' ORDER BY seq DESC LIMIT 1`)
		var changed talentv1.SkillKeyPersonRisk
		if err := protojson.Unmarshal(kub[0], &changed); err != nil {
			t.Fatal(err)
		}
		changed.Version += 100
		changed.Coverage.KeyPerson, changed.KeyPersonDisplayName = "people/cy", "cy"
		feed.publish(t, changed.GetSkillRequirement(), changed.GetVersion(), &changed)
		handled(raised, 7)
		if got := likelihood("a new key person", base); got.GetEtag() != reopened.GetEtag() {
			t.Errorf("a new key person changed the risk: %v; was %v", got, reopened)
		}
		if kp := testkit.Column[string](t, rdb, `SELECT key_person FROM key_person_requirements WHERE requirement = $1`,
			changed.GetSkillRequirement()); len(kp) != 1 || kp[0] != "people/cy" {
			t.Errorf("the register's key person of Kubernetes = %v; want people/cy", kp)
		}

		// Another team, another risk.
		require("data", "go", 1)
		rate("eve", "go", 4)
		handled(raised, 8)
		if other := teamRisk("data"); other.GetName() == opened.GetName() {
			t.Errorf("data shares platform's risk %s", other.GetName())
		}
		if n := testkit.Column[int](t, rdb, `SELECT COUNT(*) FROM risks WHERE category = 7`)[0]; n != 2 {
			t.Errorf("%d people risks; want 2, one per team", n)
		}
	})
}
