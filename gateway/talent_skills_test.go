package gateway_test

import (
	"slices"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestTalentSkillsREST walks the skills over REST: a category and a skill, the proficiency
// scale, a team's requirement with its gap, a rating that makes its one key person, the team's
// coverage, a 400 naming the field of a rating off the scale, a PATCH of the requirement and a
// filter on coverage.
func TestTalentSkillsREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			url := startTalent(t, db)
			for _, c := range []struct{ path, body string }{
				{"/v1/skillCategories?skillCategoryId=cloud", `{"displayName":"Cloud platforms"}`},
				{"/v1/skills?skillId=kubernetes", `{"displayName":"Kubernetes","category":"skillCategories/cloud"}`},
				{"/v1/teams?teamId=platform", `{"displayName":"Platform"}`},
				{"/v1/people?personId=ada", `{"displayName":"Ada","team":"teams/platform","employmentType":"EMPLOYEE","startDate":{"year":2024,"month":3,"day":1}}`},
			} {
				if r := call(t, "POST", url+c.path, c.body); r.code != 200 {
					t.Fatalf("POST %s = %d %v", c.path, r.code, r.body)
				}
			}
			sc := call(t, "GET", url+"/v1/proficiencyScale", "")
			if levels, _ := sc.body["levels"].([]any); sc.code != 200 || len(levels) != 5 {
				t.Errorf("GET /v1/proficiencyScale = %d %v", sc.code, sc.body)
			}
			req := call(t, "POST", url+"/v1/teams/platform/skillRequirements", `{"skill":"skills/kubernetes","minProficiency":3,"requiredPeople":2}`)
			if cov, _ := req.body["coverage"].(map[string]any); req.code != 200 || req.body["name"] != "teams/platform/skillRequirements/kubernetes" ||
				cov["gap"] != true || cov["shortfall"] != float64(2) {
				t.Fatalf("POST requirement = %d %v", req.code, req.body)
			}
			bad := call(t, "POST", url+"/v1/people/ada/skillRatings", `{"skill":"skills/kubernetes","proficiency":9}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" ||
				!slices.Contains(fields, "skill_rating.proficiency:INT32_GTE_LTE") {
				t.Errorf("a rating off the scale = %d %v %v", bad.code, reason, fields)
			}
			rating := call(t, "POST", url+"/v1/people/ada/skillRatings", `{"skill":"skills/kubernetes","proficiency":4,"evidence":"ran the cluster upgrade"}`)
			if rating.code != 200 || rating.body["current"] != true {
				t.Fatalf("POST rating = %d %v", rating.code, rating.body)
			}
			cov := call(t, "GET", url+"/v1/teams/platform/coverage", "")
			skills, _ := cov.body["skills"].([]any)
			if cov.code != 200 || len(skills) != 1 || cov.body["gapCount"] != float64(1) || cov.body["keyPersonCount"] != float64(1) {
				t.Fatalf("GET coverage = %d %v", cov.code, cov.body)
			}
			if s := skills[0].(map[string]any); s["keyPerson"] != "people/ada" || s["coveredPeople"] != float64(1) {
				t.Errorf("coverage of kubernetes = %v", s)
			}
			patched := call(t, "PATCH", url+"/v1/teams/platform/skillRequirements/kubernetes?updateMask=requiredPeople", `{"requiredPeople":1}`)
			if c, _ := patched.body["coverage"].(map[string]any); patched.code != 200 || c["gap"] == true {
				t.Errorf("PATCH requirement = %d %v", patched.code, patched.body)
			}
			l := call(t, "GET", url+"/v1/teams/-/skillRequirements?filter=coverage.key_person_risk%20%3D%20true", "")
			if rs, _ := l.body["skillRequirements"].([]any); l.code != 200 || len(rs) != 1 {
				t.Errorf("requirements with a key person = %d %v", l.code, l.body)
			}
			if r := call(t, "GET", url+"/v1/skills/cobol", ""); r.code != 404 {
				t.Errorf("GET a missing skill = %d %v", r.code, r.body)
			}
		})
	}
}
