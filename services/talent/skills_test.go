package talent_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// taxonomy creates the category cloud with the skills kubernetes and terraform, and the
// category languages with go.
func (e *env) taxonomy(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []string{"cloud", "languages"} {
		if _, err := e.client.CreateSkillCategory(ctx, &talentv1.CreateSkillCategoryRequest{SkillCategoryId: c,
			SkillCategory: &talentv1.SkillCategory{DisplayName: c}}); err != nil {
			t.Fatal(err)
		}
	}
	for id, c := range map[string]string{"kubernetes": "cloud", "terraform": "cloud", "go": "languages"} {
		if _, err := e.client.CreateSkill(ctx, &talentv1.CreateSkillRequest{SkillId: id,
			Skill: &talentv1.Skill{DisplayName: id, Category: "skillCategories/" + c}}); err != nil {
			t.Fatal(err)
		}
	}
}

// rate records the person's rating of the skill, dated on (today when nil).
func (e *env) rate(t *testing.T, person, skill string, proficiency int32, on *date.Date) *talentv1.SkillRating {
	t.Helper()
	r, err := e.client.CreateSkillRating(context.Background(), &talentv1.CreateSkillRatingRequest{Parent: "people/" + person,
		SkillRating: &talentv1.SkillRating{Skill: "skills/" + skill, Proficiency: proficiency, Evidence: "review", RateDate: on}})
	if err != nil {
		t.Fatalf("rate %s on %s: %v", person, skill, err)
	}
	return r
}

// TestSkillTaxonomy: categories and skills are created, read, listed, renamed and deleted; a
// skill's name is unique in the taxonomy whatever its case; a category holding skills and a
// skill in use cannot be deleted; positions name skills of the taxonomy only.
func TestSkillTaxonomy(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		e.taxonomy(t)

		got, err := e.client.GetSkill(ctx, &talentv1.GetSkillRequest{Name: "skills/go"})
		if err != nil || got.GetCategory() != "skillCategories/languages" || got.GetEtag() == "" {
			t.Fatalf("GetSkill = %v, %v", got, err)
		}
		l, err := e.client.ListSkills(ctx, &talentv1.ListSkillsRequest{Filter: `category = "skillCategories/cloud"`, OrderBy: "display_name desc"})
		if err != nil || len(l.GetSkills()) != 2 || l.GetSkills()[0].GetName() != "skills/terraform" {
			t.Errorf("cloud skills = %v, %v", l, err)
		}
		cats, err := e.client.ListSkillCategories(ctx, &talentv1.ListSkillCategoriesRequest{})
		if err != nil || len(cats.GetSkillCategories()) != 2 {
			t.Errorf("categories = %v, %v", cats, err)
		}

		// Bad input: a blank name, a category that does not exist, a taken name in another case,
		// a taken ID.
		_, err = e.client.CreateSkill(ctx, &talentv1.CreateSkillRequest{Skill: &talentv1.Skill{DisplayName: " ", Category: "skillCategories/cloud"}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "skill.display_name")
		_, err = e.client.CreateSkill(ctx, &talentv1.CreateSkillRequest{Skill: &talentv1.Skill{DisplayName: "Rust", Category: "skillCategories/none"}})
		e.AssertStatus(t, err, codes.InvalidArgument, "SKILL_CATEGORY_NOT_FOUND", "skill.category")
		_, err = e.client.CreateSkill(ctx, &talentv1.CreateSkillRequest{Skill: &talentv1.Skill{DisplayName: "GO", Category: "skillCategories/cloud"}})
		e.AssertStatus(t, err, codes.AlreadyExists, "SKILL_NAME_TAKEN")
		_, err = e.client.CreateSkill(ctx, &talentv1.CreateSkillRequest{SkillId: "go", Skill: &talentv1.Skill{DisplayName: "Golang", Category: "skillCategories/cloud"}})
		e.AssertStatus(t, err, codes.AlreadyExists, "SKILL_ALREADY_EXISTS")
		_, err = e.client.GetSkill(ctx, &talentv1.GetSkillRequest{Name: "skills/cobol"})
		e.AssertStatus(t, err, codes.NotFound, "SKILL_NOT_FOUND")

		// A skill moves to another category; a stale etag is ABORTED.
		moved, err := e.client.UpdateSkill(ctx, &talentv1.UpdateSkillRequest{Skill: &talentv1.Skill{Name: "skills/terraform",
			Category: "skillCategories/languages"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"category"}}})
		if err != nil || moved.GetCategory() != "skillCategories/languages" {
			t.Fatalf("move skill = %v, %v", moved, err)
		}
		_, err = e.client.UpdateSkill(ctx, &talentv1.UpdateSkillRequest{Skill: &talentv1.Skill{Name: "skills/terraform",
			Description: "x", Etag: got.GetEtag()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		upd := events(t, e.db, ".skill.updated", "skills/terraform", func() *talentv1.SkillUpdated { return new(talentv1.SkillUpdated) })
		if len(upd) != 1 || upd[0].GetVersion() != 2 || upd[0].GetChangedFields().GetPaths()[0] != "category" {
			t.Errorf("skill.updated = %v", upd)
		}

		// Positions name skills of the taxonomy.
		if _, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "platform", Team: &talentv1.Team{DisplayName: "Platform"}}); err != nil {
			t.Fatal(err)
		}
		pos := &talentv1.Position{Team: "teams/platform", Title: "SRE", BudgetedAnnualCost: usd(10_000_000),
			TargetStartDate: day(2027, 1, 4), Reason: talentv1.Position_GROWTH, RequiredSkills: []string{"skills/kubernetes", "skills/go"}}
		p, err := e.client.CreatePosition(ctx, &talentv1.CreatePositionRequest{PositionId: "sre", Position: pos})
		if err != nil || len(p.GetRequiredSkills()) != 2 {
			t.Fatalf("a position requiring skills = %v, %v", p, err)
		}
		pos.RequiredSkills = []string{"skills/go", "skills/cobol"}
		_, err = e.client.CreatePosition(ctx, &talentv1.CreatePositionRequest{Position: pos})
		e.AssertStatus(t, err, codes.InvalidArgument, "SKILL_NOT_FOUND", "position.required_skills")

		// A category with skills cannot go, nor a skill a position requires or someone was rated
		// on; an unused skill can, then its empty category.
		_, err = e.client.DeleteSkillCategory(ctx, &talentv1.DeleteSkillCategoryRequest{Name: "skillCategories/cloud"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "SKILL_CATEGORY_NOT_EMPTY")
		_, err = e.client.DeleteSkill(ctx, &talentv1.DeleteSkillRequest{Name: "skills/kubernetes"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "SKILL_IN_USE")
		if _, err := e.client.CreatePerson(ctx, newPerson("ada", "teams/platform", 0)); err != nil {
			t.Fatal(err)
		}
		e.rate(t, "ada", "terraform", 3, nil)
		_, err = e.client.DeleteSkill(ctx, &talentv1.DeleteSkillRequest{Name: "skills/terraform"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "SKILL_IN_USE")
		if _, err := e.client.CreateSkill(ctx, &talentv1.CreateSkillRequest{SkillId: "helm",
			Skill: &talentv1.Skill{DisplayName: "Helm", Category: "skillCategories/cloud"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.DeleteSkill(ctx, &talentv1.DeleteSkillRequest{Name: "skills/helm"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.CreateSkillCategory(ctx, &talentv1.CreateSkillCategoryRequest{SkillCategoryId: "empty",
			SkillCategory: &talentv1.SkillCategory{DisplayName: "Empty"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.DeleteSkillCategory(ctx, &talentv1.DeleteSkillCategoryRequest{Name: "skillCategories/empty"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetSkillCategory(ctx, &talentv1.GetSkillCategoryRequest{Name: "skillCategories/empty"})
		e.AssertStatus(t, err, codes.NotFound, "SKILL_CATEGORY_NOT_FOUND")
	})
}

// TestProficiencyScale: the service ships five levels; an update replaces their titles and
// descriptions together, with its event; an update that is not five titled levels is refused.
func TestProficiencyScale(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		sc, err := e.client.GetProficiencyScale(ctx, &talentv1.GetProficiencyScaleRequest{Name: "proficiencyScale"})
		if err != nil || len(sc.GetLevels()) != 5 || sc.GetLevels()[2].GetTitle() != "Practitioner" || sc.GetLevels()[4].GetLevel() != 5 {
			t.Fatalf("default scale = %v, %v", sc, err)
		}
		levels := sc.GetLevels()
		levels[4] = &talentv1.ProficiencyLevel{Level: 5, Title: "Master", Description: "Teaches it."}
		upd, err := e.client.UpdateProficiencyScale(ctx, &talentv1.UpdateProficiencyScaleRequest{
			ProficiencyScale: &talentv1.ProficiencyScale{Name: "proficiencyScale", Levels: levels, Etag: sc.GetEtag()}})
		if err != nil || upd.GetLevels()[4].GetTitle() != "Master" || upd.GetEtag() == sc.GetEtag() || upd.GetUpdateTime() == nil {
			t.Fatalf("update = %v, %v", upd, err)
		}
		again, err := e.client.GetProficiencyScale(ctx, &talentv1.GetProficiencyScaleRequest{Name: "proficiencyScale"})
		if err != nil || again.GetLevels()[4].GetTitle() != "Master" || again.GetLevels()[0].GetTitle() != "Awareness" {
			t.Errorf("scale after update = %v, %v", again, err)
		}
		_, err = e.client.UpdateProficiencyScale(ctx, &talentv1.UpdateProficiencyScaleRequest{
			ProficiencyScale: &talentv1.ProficiencyScale{Name: "proficiencyScale", Levels: levels, Etag: sc.GetEtag()}})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		_, err = e.client.UpdateProficiencyScale(ctx, &talentv1.UpdateProficiencyScaleRequest{
			ProficiencyScale: &talentv1.ProficiencyScale{Name: "proficiencyScale", Levels: levels[:4]}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "proficiency_scale.levels")
		levels[1] = &talentv1.ProficiencyLevel{Level: 2, Title: ""}
		_, err = e.client.UpdateProficiencyScale(ctx, &talentv1.UpdateProficiencyScaleRequest{
			ProficiencyScale: &talentv1.ProficiencyScale{Name: "proficiencyScale", Levels: levels}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "proficiency_scale.levels[1].title")
		if n := len(events(t, e.db, ".proficiency_scale.updated", "proficiencyScale",
			func() *talentv1.ProficiencyScaleUpdated { return new(talentv1.ProficiencyScaleUpdated) })); n != 1 {
			t.Errorf("%d proficiency_scale.updated events, want 1", n)
		}
	})
}

// TestSkillRatings: ratings are kept as a history; the latest-dated counts (of two on one day,
// the last recorded), a late rating dated earlier does not; a rating in the future, before the
// person started or of a person who left is refused.
func TestSkillRatings(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		e.taxonomy(t)
		if _, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "platform", Team: &talentv1.Team{DisplayName: "Platform"}}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"ada", "bob"} {
			if _, err := e.client.CreatePerson(ctx, newPerson(id, "teams/platform", 0)); err != nil {
				t.Fatal(err)
			}
		}
		first := e.rate(t, "ada", "go", 2, day(2025, 1, 10))
		if !first.GetCurrent() || first.GetRater() == "" || first.GetRateDate().GetYear() != 2025 {
			t.Errorf("first rating = %v", first)
		}
		second := e.rate(t, "ada", "go", 4, day(2025, 6, 1))
		late := e.rate(t, "ada", "go", 1, day(2025, 3, 1)) // recorded last, dated between
		sameDay := e.rate(t, "ada", "go", 5, day(2025, 6, 1))
		if late.GetCurrent() || !second.GetCurrent() || !sameDay.GetCurrent() {
			t.Errorf("current: second %v, late %v, same day %v", second.GetCurrent(), late.GetCurrent(), sameDay.GetCurrent())
		}
		today := e.rate(t, "bob", "kubernetes", 3, nil)
		now := time.Now().UTC()
		if d := today.GetRateDate(); d.GetYear() != int32(now.Year()) || d.GetMonth() != int32(now.Month()) {
			t.Errorf("a rating without a date is dated %v", d)
		}

		cur, err := e.client.ListSkillRatings(ctx, &talentv1.ListSkillRatingsRequest{Parent: "people/-", Filter: "current = true", OrderBy: "proficiency desc"})
		if err != nil || len(cur.GetSkillRatings()) != 2 || cur.GetSkillRatings()[0].GetName() != sameDay.GetName() {
			t.Errorf("current ratings = %v, %v", cur, err)
		}
		hist, err := e.client.ListSkillRatings(ctx, &talentv1.ListSkillRatingsRequest{Parent: "people/ada", OrderBy: "rate_date"})
		if err != nil || len(hist.GetSkillRatings()) != 4 || hist.GetSkillRatings()[0].GetName() != first.GetName() {
			t.Errorf("ada's history = %v, %v", hist, err)
		}
		if g, err := e.client.GetSkillRating(ctx, &talentv1.GetSkillRatingRequest{Name: second.GetName()}); err != nil || g.GetCurrent() {
			t.Errorf("the superseded rating = %v, %v", g, err)
		}
		rec := events(t, e.db, ".skill_rating.recorded", sameDay.GetName(), func() *talentv1.SkillRatingRecorded { return new(talentv1.SkillRatingRecorded) })
		if len(rec) != 1 || !rec[0].GetSuperseded() {
			t.Errorf("skill_rating.recorded of the same-day rating = %v", rec)
		}

		bad := func(person string, r *talentv1.SkillRating) error {
			_, err := e.client.CreateSkillRating(ctx, &talentv1.CreateSkillRatingRequest{Parent: "people/" + person, SkillRating: r})
			return err
		}
		err = bad("ada", &talentv1.SkillRating{Skill: "skills/go", Proficiency: 6})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "skill_rating.proficiency")
		err = bad("ada", &talentv1.SkillRating{Skill: "skills/go", Proficiency: 3, RateDate: day(int32(now.Year()+1), 1, 1)})
		e.AssertStatus(t, err, codes.InvalidArgument, "RATE_DATE_IN_FUTURE", "skill_rating.rate_date")
		err = bad("ada", &talentv1.SkillRating{Skill: "skills/go", Proficiency: 3, RateDate: day(2020, 1, 1)})
		e.AssertStatus(t, err, codes.InvalidArgument, "RATE_DATE_BEFORE_START", "skill_rating.rate_date")
		err = bad("ada", &talentv1.SkillRating{Skill: "skills/cobol", Proficiency: 3})
		e.AssertStatus(t, err, codes.InvalidArgument, "SKILL_NOT_FOUND", "skill_rating.skill")
		err = bad("nobody", &talentv1.SkillRating{Skill: "skills/go", Proficiency: 3})
		e.AssertStatus(t, err, codes.NotFound, "PERSON_NOT_FOUND")
		if _, err := e.client.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: "people/bob"}); err != nil {
			t.Fatal(err)
		}
		err = bad("bob", &talentv1.SkillRating{Skill: "skills/go", Proficiency: 3})
		e.AssertStatus(t, err, codes.FailedPrecondition, "PERSON_LEFT")
	})
}

// coverageEvents counts the coverage events of the requirement, by action.
func coverageEvents(t *testing.T, e *env, requirement string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, a := range []string{"coverage_gap", "coverage_restored", "key_person_risk", "key_person_risk_cleared"} {
		out[a] = testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1 AND resource_name = $2`,
			"%.skill."+a, requirement)[0]
	}
	return out
}

// TestCoverage walks a team's requirement through every change that can move its coverage — the
// requirement created and changed, ratings, people moving and leaving — and checks after each
// that the requirement's coverage, the team's coverage read and the events agree: each change of
// state (a gap opening or closing, the key person appearing, changing or going) fires its event
// once, and nothing else fires one.
func TestCoverage(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		e.taxonomy(t)
		for _, id := range []string{"platform", "data"} {
			if _, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: id, Team: &talentv1.Team{DisplayName: id}}); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range []string{"ada", "bob", "cy"} {
			if _, err := e.client.CreatePerson(ctx, newPerson(id, "teams/platform", 0)); err != nil {
				t.Fatal(err)
			}
		}
		const name = "teams/platform/skillRequirements/go"
		want := map[string]int{}
		// check compares the requirement's coverage with covered, gap and key person, the team's
		// coverage read with it, and the events with want once the step's changes are added.
		check := func(step string, covered int32, gap bool, keyPerson string, fired ...string) {
			t.Helper()
			r, err := e.client.GetSkillRequirement(ctx, &talentv1.GetSkillRequirementRequest{Name: name})
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			c := r.GetCoverage()
			if c.GetCoveredPeople() != covered || c.GetGap() != gap || c.GetKeyPerson() != keyPerson || c.GetKeyPersonRisk() != (keyPerson != "") ||
				c.GetShortfall() != max(0, r.GetRequiredPeople()-covered) || c.GetTeam() != "teams/platform" || c.GetSkill() != "skills/go" {
				t.Errorf("%s: coverage %v; want %d covered, gap %v, key person %q", step, c, covered, gap, keyPerson)
			}
			// Counted again here from the rows, as the coverage is defined.
			if n := testkit.Column[int32](t, e.db, `SELECT COUNT(*) FROM people p JOIN skill_ratings sr ON sr.person_id = p.id
				WHERE sr.is_current AND p.team_id = 'platform' AND p.state = 1 AND sr.skill_id = 'go'
				AND sr.proficiency >= (SELECT min_proficiency FROM skill_requirements WHERE team_id = 'platform' AND skill_id = 'go')`)[0]; n != covered {
				t.Errorf("%s: %d people cover the skill; the test expects %d", step, n, covered)
			}
			tc, err := e.client.GetTeamCoverage(ctx, &talentv1.GetTeamCoverageRequest{Name: "teams/platform/coverage"})
			if err != nil || len(tc.GetSkills()) != 1 {
				t.Fatalf("%s: team coverage %v, %v", step, tc, err)
			}
			if read := tc.GetSkills()[0]; read.GetCoveredPeople() != covered || read.GetGap() != gap || read.GetKeyPerson() != keyPerson {
				t.Errorf("%s: the coverage read %v disagrees with the requirement's %v", step, read, c)
			}
			for _, f := range fired {
				want[f]++
			}
			if got := coverageEvents(t, e, name); got["coverage_gap"] != want["coverage_gap"] || got["coverage_restored"] != want["coverage_restored"] ||
				got["key_person_risk"] != want["key_person_risk"] || got["key_person_risk_cleared"] != want["key_person_risk_cleared"] {
				t.Errorf("%s: events %v; want %v", step, got, want)
			}
		}

		// Two people at 3 or more: nobody yet.
		req, err := e.client.CreateSkillRequirement(ctx, &talentv1.CreateSkillRequirementRequest{Parent: "teams/platform",
			SkillRequirement: &talentv1.SkillRequirement{Skill: "skills/go", MinProficiency: 3, RequiredPeople: 2}})
		if err != nil || req.GetName() != name || !req.GetCoverage().GetGap() || req.GetCoverage().GetShortfall() != 2 {
			t.Fatalf("create requirement = %v, %v", req, err)
		}
		check("created", 0, true, "", "coverage_gap")
		e.rate(t, "ada", "go", 2, nil)
		check("ada below the minimum", 0, true, "")
		e.rate(t, "ada", "go", 4, nil)
		check("ada at 4", 1, true, "people/ada", "key_person_risk")
		e.rate(t, "ada", "go", 5, nil)
		check("ada at 5", 1, true, "people/ada")
		e.rate(t, "bob", "go", 3, nil)
		check("bob at 3", 2, false, "", "coverage_restored", "key_person_risk_cleared")
		e.rate(t, "cy", "go", 4, nil)
		check("cy at 4", 3, false, "")
		e.rate(t, "bob", "go", 1, nil)
		check("bob down to 1", 2, false, "")
		// Ada moves to data: only cy covers it.
		if _, err := e.client.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: "people/ada", Team: "teams/data"}}); err != nil {
			t.Fatal(err)
		}
		check("ada moved out", 1, true, "people/cy", "coverage_gap", "key_person_risk")
		// Lowering the requirement to one person closes the gap; the key person stays.
		upd, err := e.client.UpdateSkillRequirement(ctx, &talentv1.UpdateSkillRequirementRequest{SkillRequirement: &talentv1.SkillRequirement{
			Name: name, RequiredPeople: 1}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"required_people"}}})
		if err != nil || upd.GetRequiredPeople() != 1 || upd.GetCoverage().GetGap() {
			t.Fatalf("lower requirement = %v, %v", upd, err)
		}
		check("one person required", 1, false, "people/cy", "coverage_restored")
		// Ada comes back: two cover it.
		if _, err := e.client.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: "people/ada", Team: "teams/platform"}}); err != nil {
			t.Fatal(err)
		}
		check("ada back", 2, false, "", "key_person_risk_cleared")
		// Cy leaves, then ada is the key person; raising the minimum to 5 keeps her (she is at 5).
		if _, err := e.client.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: "people/cy"}); err != nil {
			t.Fatal(err)
		}
		check("cy left", 1, false, "people/ada", "key_person_risk")
		if _, err := e.client.UpdateSkillRequirement(ctx, &talentv1.UpdateSkillRequirementRequest{SkillRequirement: &talentv1.SkillRequirement{
			Name: name, MinProficiency: 5}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"min_proficiency"}}}); err != nil {
			t.Fatal(err)
		}
		check("minimum 5", 1, false, "people/ada")

		// The events carry the coverage after the change, in version order.
		kp := events(t, e.db, ".skill.key_person_risk", name, func() *talentv1.SkillKeyPersonRisk { return new(talentv1.SkillKeyPersonRisk) })
		if len(kp) != 3 || kp[0].GetCoverage().GetKeyPerson() != "people/ada" || kp[1].GetCoverage().GetKeyPerson() != "people/cy" ||
			kp[2].GetSkillRequirement() != name || kp[0].GetVersion() >= kp[1].GetVersion() {
			t.Errorf("key_person_risk events = %v", kp)
		}
		for i, want := range []string{"Person ada", "Person cy", "Person ada"} {
			if i < len(kp) && (kp[i].GetKeyPersonDisplayName() != want || kp[i].GetTeamDisplayName() != "platform" || kp[i].GetSkillDisplayName() != "go") {
				t.Errorf("key_person_risk event %d names %q, %q and %q; want platform, go and %s", i,
					kp[i].GetTeamDisplayName(), kp[i].GetSkillDisplayName(), kp[i].GetKeyPersonDisplayName(), want)
			}
		}

		// Filters on coverage; every team's coverage.
		if _, err := e.client.CreateSkillRequirement(ctx, &talentv1.CreateSkillRequirementRequest{Parent: "teams/data",
			SkillRequirement: &talentv1.SkillRequirement{Skill: "skills/kubernetes", MinProficiency: 2, RequiredPeople: 1}}); err != nil {
			t.Fatal(err)
		}
		l, err := e.client.ListSkillRequirements(ctx, &talentv1.ListSkillRequirementsRequest{Parent: "teams/-", Filter: "coverage.gap = true"})
		if err != nil || len(l.GetSkillRequirements()) != 1 || l.GetSkillRequirements()[0].GetName() != "teams/data/skillRequirements/kubernetes" {
			t.Errorf("requirements with a gap = %v, %v", l, err)
		}
		l, err = e.client.ListSkillRequirements(ctx, &talentv1.ListSkillRequirementsRequest{Parent: "teams/platform", Filter: "coverage.key_person_risk = true"})
		if err != nil || len(l.GetSkillRequirements()) != 1 {
			t.Errorf("requirements with a key person = %v, %v", l, err)
		}
		all, err := e.client.GetTeamCoverage(ctx, &talentv1.GetTeamCoverageRequest{Name: "teams/-/coverage"})
		if err != nil || len(all.GetSkills()) != 2 || all.GetGapCount() != 1 || all.GetKeyPersonCount() != 1 || all.GetReadTime() == nil {
			t.Errorf("every team's coverage = %v, %v", all, err)
		}

		// Bad input and conflicts.
		_, err = e.client.CreateSkillRequirement(ctx, &talentv1.CreateSkillRequirementRequest{Parent: "teams/platform",
			SkillRequirement: &talentv1.SkillRequirement{Skill: "skills/go", MinProficiency: 3, RequiredPeople: 1}})
		e.AssertStatus(t, err, codes.AlreadyExists, "SKILL_REQUIREMENT_ALREADY_EXISTS")
		_, err = e.client.CreateSkillRequirement(ctx, &talentv1.CreateSkillRequirementRequest{Parent: "teams/platform",
			SkillRequirement: &talentv1.SkillRequirement{Skill: "skills/cobol", MinProficiency: 3, RequiredPeople: 1}})
		e.AssertStatus(t, err, codes.InvalidArgument, "SKILL_NOT_FOUND", "skill_requirement.skill")
		_, err = e.client.CreateSkillRequirement(ctx, &talentv1.CreateSkillRequirementRequest{Parent: "teams/platform",
			SkillRequirement: &talentv1.SkillRequirement{Skill: "skills/terraform", MinProficiency: 0, RequiredPeople: 1001}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "skill_requirement.required_people", "skill_requirement.min_proficiency")
		_, err = e.client.CreateSkillRequirement(ctx, &talentv1.CreateSkillRequirementRequest{Parent: "teams/none",
			SkillRequirement: &talentv1.SkillRequirement{Skill: "skills/go", MinProficiency: 3, RequiredPeople: 1}})
		e.AssertStatus(t, err, codes.NotFound, "TEAM_NOT_FOUND")
		_, err = e.client.GetTeamCoverage(ctx, &talentv1.GetTeamCoverageRequest{Name: "teams/none/coverage"})
		e.AssertStatus(t, err, codes.NotFound, "TEAM_NOT_FOUND")

		// Deleting the requirement clears its key-person risk; the team can then go with its
		// other requirements.
		if _, err := e.client.DeleteSkillRequirement(ctx, &talentv1.DeleteSkillRequirementRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
		if got := coverageEvents(t, e, name); got["key_person_risk_cleared"] != want["key_person_risk_cleared"]+1 {
			t.Errorf("after the delete: events %v", got)
		}
		_, err = e.client.GetSkillRequirement(ctx, &talentv1.GetSkillRequirementRequest{Name: name})
		e.AssertStatus(t, err, codes.NotFound, "SKILL_REQUIREMENT_NOT_FOUND")
	})
}
