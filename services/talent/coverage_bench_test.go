package talent_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// The organisation the coverage benchmark reads: the target is coverage for 5,000 people
// × 200 skills in under 200 ms p99 on PostgreSQL.
const (
	benchPeople        = 5_000
	benchSkills        = 200
	benchTeams         = 50 // 100 people each
	benchRatedSkills   = 40 // current ratings per person: 200,000 in all
	benchHistory       = 10 // superseded ratings per person: 50,000 more rows
	benchRequiredSkill = 40 // requirements per team: 2,000 in all
)

// BenchmarkTeamCoverage measures the coverage reads through the gRPC client and the full
// interceptor chain — every team's (teams/-/coverage) and one team's — and a rating, which
// evaluates its team's requirement of the skill again in its transaction, over an organisation of
// benchPeople people and benchSkills skills; it reports each call's p50 and p99 in milliseconds
// besides the mean (ns/op). Run it with a fixed number of calls, e.g. -benchtime 200x.
func BenchmarkTeamCoverage(b *testing.B) {
	for _, db := range testenv.Databases(b) {
		b.Run(db.Engine, func(b *testing.B) {
			s := testkit.Start(b, db, talent.Service(), testkit.WithHostOptions(func(o *host.Options) {
				o.Peers = map[string]string{"budget": "127.0.0.1:1"} // no cost centre: budget is never called
			}))
			client := talentv1.NewTalentServiceClient(s.Conn)
			start := time.Now()
			bulkOrganisation(b, s.DB(b), time.Now().UTC())
			b.Logf("%s: %d people, %d skills, %d ratings and %d requirements inserted in %s", db.Engine, benchPeople, benchSkills,
				benchPeople*(benchRatedSkills+benchHistory), benchTeams*benchRequiredSkill, time.Since(start).Round(time.Millisecond))
			all, err := client.GetTeamCoverage(context.Background(), &talentv1.GetTeamCoverageRequest{Name: "teams/-/coverage"})
			if err != nil || len(all.GetSkills()) != benchTeams*benchRequiredSkill || all.GetGapCount() == 0 || all.GetKeyPersonCount() == 0 {
				b.Fatalf("every team's coverage: %d requirements, %d gaps, %d key people, %v", len(all.GetSkills()),
					all.GetGapCount(), all.GetKeyPersonCount(), err)
			}
			b.Logf("%s: %d gaps, %d skills with one key person", db.Engine, all.GetGapCount(), all.GetKeyPersonCount())
			n := 0
			for _, c := range []struct {
				name string
				call func(ctx context.Context) error
			}{
				{"every team", func(ctx context.Context) error {
					_, err := client.GetTeamCoverage(ctx, &talentv1.GetTeamCoverageRequest{Name: "teams/-/coverage"})
					return err
				}},
				{"one team", func(ctx context.Context) error {
					_, err := client.GetTeamCoverage(ctx, &talentv1.GetTeamCoverageRequest{Name: "teams/t-7/coverage"})
					return err
				}},
				{"a rating, its requirement evaluated", func(ctx context.Context) error {
					// An ACTIVE person (not one in twenty) rated on a skill their team requires.
					n++
					p := 1 + (n*97)%benchPeople
					if p%20 == 0 {
						p++
					}
					t := p % benchTeams
					_, err := client.CreateSkillRating(ctx, &talentv1.CreateSkillRatingRequest{Parent: fmt.Sprintf("people/p-%d", p),
						SkillRating: &talentv1.SkillRating{Skill: fmt.Sprintf("skills/s-%d", (t*3+(n%benchRequiredSkill)*5)%benchSkills),
							Proficiency: int32(1 + n%5), Evidence: "benchmark"}})
					return err
				}},
				{"a person moving, both teams evaluated", func(ctx context.Context) error {
					// p-1 moves between t-1 and t-2: 80 requirements evaluated.
					n++
					_, err := client.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: "people/p-1",
						Team: fmt.Sprintf("teams/t-%d", 1+n%2)}})
					return err
				}},
			} {
				b.Run(c.name, func(b *testing.B) { latencies(b, c.call) })
			}
		})
	}
}

// latencies calls call b.N times, one after the other, and reports the p50 and p99 of the calls.
func latencies(b *testing.B, call func(ctx context.Context) error) {
	ctx := context.Background()
	if err := call(ctx); err != nil { // warm the statement caches and the connection
		b.Fatal(err)
	}
	took := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := call(ctx); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(took)
	at := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// bulkOrganisation inserts the benchmark's organisation in a few statements that generate the
// rows in the database (recursive CTEs both engines run), then refreshes the planner's
// statistics: benchTeams teams t-0…, benchPeople people p-1… (person i in team t-(i mod 50), one
// in twenty LEFT), benchSkills skills s-0… in one category; each person rated on benchRatedSkills
// skills (proficiency 1 to 4 spread, 5 for one rating in forty) with benchHistory earlier ratings
// superseded; each team requiring benchRequiredSkill skills at a minimum of 1 to 5, of 1 to 5
// people; and the requirements' coverage as the service keeps it, measured once in SQL.
func bulkOrganisation(b *testing.B, db *sqldb.DB, now time.Time) {
	b.Helper()
	ctx := context.Background()
	seq := func(n int) string {
		return fmt.Sprintf(`WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < %d) `, n-1)
	}
	statements := []string{
		`INSERT INTO skill_categories (id, display_name, create_time, update_time, version) VALUES ('bench', 'Bench', $1, $1, 1)`,
		seq(benchSkills) + `INSERT INTO skills (id, display_name, category_id, create_time, update_time, version)
			SELECT 's-' || i, 'Skill ' || i, 'bench', $1, $1, 1 FROM seq`,
		seq(benchTeams) + `INSERT INTO teams (id, display_name, create_time, update_time, version)
			SELECT 't-' || i, 'Team ' || i, $1, $1, 1 FROM seq`,
		seq(benchPeople) + `INSERT INTO people (id, display_name, team_id, employment_type, start_date, state, create_time, update_time, version)
			SELECT 'p-' || (i + 1), 'Person ' || (i + 1), 't-' || ((i + 1) % ` + itoa(benchTeams) + `), 1, '2024-01-01',
				CASE WHEN (i + 1) % 20 = 0 THEN 2 ELSE 1 END, $1, $1, 1 FROM seq`,
		// Person i's j-th skill is s-((i + 7j) mod 200): 40 different skills per person.
		seq(benchPeople*benchRatedSkills) + `INSERT INTO skill_ratings (id, person_id, skill_id, proficiency, evidence, rate_date,
				rater, is_current, create_time)
			SELECT 'r-' || i, 'p-' || (i / ` + itoa(benchRatedSkills) + ` + 1),
				's-' || ((i / ` + itoa(benchRatedSkills) + ` + 1 + 7 * (i % ` + itoa(benchRatedSkills) + `)) % ` + itoa(benchSkills) + `),
				CASE WHEN i * 7919 % 10007 % 40 = 0 THEN 5 ELSE 1 + i * 7919 % 10007 % 4 END, 'review', '2026-06-01', 'bench', TRUE, $1
			FROM seq`,
		seq(benchPeople*benchHistory) + `INSERT INTO skill_ratings (id, person_id, skill_id, proficiency, evidence, rate_date,
				rater, is_current, create_time)
			SELECT 'h-' || i, 'p-' || (i / ` + itoa(benchHistory) + ` + 1),
				's-' || ((i / ` + itoa(benchHistory) + ` + 1 + 7 * (i % ` + itoa(benchHistory) + `)) % ` + itoa(benchSkills) + `),
				1 + i % 5, 'review', '2025-06-01', 'bench', FALSE, $1
			FROM seq`,
		// Team t's k-th requirement is s-((3t + 5k) mod 200): 40 different skills per team.
		seq(benchTeams*benchRequiredSkill) + `INSERT INTO skill_requirements (team_id, skill_id, min_proficiency, required_people,
				create_time, update_time, version)
			SELECT 't-' || (i / ` + itoa(benchRequiredSkill) + `),
				's-' || ((3 * (i / ` + itoa(benchRequiredSkill) + `) + 5 * (i % ` + itoa(benchRequiredSkill) + `)) % ` + itoa(benchSkills) + `),
				1 + (i * 7) % 5, 1 + (i * 3) % 5, $1, $1, 1
			FROM seq`,
	}
	for _, q := range statements {
		if _, err := db.ExecContext(ctx, q, now); err != nil {
			b.Fatalf("seed: %v\n%s", err, q)
		}
	}
	// The requirements' coverage as the service keeps it, measured once here.
	const covered = `FROM people p JOIN skill_ratings sr ON sr.person_id = p.id AND sr.is_current
		WHERE p.team_id = skill_requirements.team_id AND p.state = 1 AND sr.skill_id = skill_requirements.skill_id
		AND sr.proficiency >= skill_requirements.min_proficiency`
	if _, err := db.ExecContext(ctx, `UPDATE skill_requirements SET covered_people = (SELECT COUNT(*) `+covered+`)`); err != nil {
		b.Fatalf("coverage: %v", err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE skill_requirements SET gap = covered_people < required_people, evaluate_time = $1,
			key_person_id = CASE WHEN covered_people = 1 THEN (SELECT MIN(p.id) `+covered+`) END`, now); err != nil {
		b.Fatalf("coverage: %v", err)
	}
	analyze := "ANALYZE"
	if db.Engine() == sqldb.Postgres {
		analyze = "VACUUM (ANALYZE) skills, teams, people, skill_ratings, skill_requirements"
	}
	if _, err := db.ExecContext(ctx, analyze); err != nil {
		b.Fatalf("%s: %v", analyze, err)
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
