package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// TestPosture checks the posture the database computes from the controls' latest results — the
// best control of a requirement counts, an untested or INEFFECTIVE one covers nothing — the gaps
// with their controls, and the trend, which keeps a day only when its counts differ from the day
// before's, on SQLite always and PostgreSQL when a server is available.
func TestPosture(t *testing.T) {
	t.Parallel()
	for engine, database := range map[string]func(testing.TB) testenv.Database{"sqlite": testenv.SQLite, "postgres": testenv.Postgres} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			db := testkit.Open(t, database(t), append(host.PlatformMigrations(), store.Migrations)...)
			events, err := outbox.NewFactory("quarterdeck", nil)
			if err != nil {
				t.Fatal(err)
			}
			st, ctx := store.New(db, events), context.Background()
			now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
			within := func(fn func(tx store.Tx) error) {
				t.Helper()
				if err := st.Within(ctx, func(_ context.Context, tx store.Tx) error { return fn(tx) }); err != nil {
					t.Fatal(err)
				}
			}
			control := func(id string, reqs ...string) *domain.Control {
				var names []string
				for _, r := range reqs {
					names = append(names, domain.RequirementName("fw", r))
				}
				c, err := domain.NewControl(id, domain.ControlFields{Title: id, Owner: "o", Type: domain.ControlDetective,
					Frequency: domain.Monthly, Requirements: names}, now)
				if err != nil {
					t.Fatal(err)
				}
				return c
			}
			c1, c2 := control("c1", "r1", "r2"), control("c2", "r2", "r3")
			within(func(tx store.Tx) error {
				if err := tx.InsertFramework(ctx, &domain.Framework{ID: "fw", Title: "FW", CreateTime: now, UpdateTime: now, Version: 1}); err != nil {
					return err
				}
				for i, id := range []string{"r1", "r2", "r3", "r4"} {
					if err := tx.InsertRequirement(ctx, &domain.Requirement{FrameworkID: "fw", ID: id, Identifier: id, Title: id, Position: int32(i + 1)}); err != nil {
						return err
					}
				}
				if err := tx.InsertControl(ctx, c1); err != nil {
					return err
				}
				return tx.InsertControl(ctx, c2)
			})
			posture := func() domain.Posture {
				t.Helper()
				p, err := st.Posture(ctx, "fw")
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			if p := posture(); p != (domain.Posture{FrameworkID: "fw", RequirementCount: 4, NotCovered: 4}) {
				t.Errorf("untested posture = %+v", p)
			}
			test := func(c *domain.Control, result domain.TestResult) {
				t.Helper()
				prev := c.Version
				c.Record(&domain.ControlTest{Date: civil.DateOf(now), Result: result}, now)
				within(func(tx store.Tx) error { return tx.UpdateControl(ctx, c, prev) })
			}
			test(c1, domain.Effective)
			test(c2, domain.PartiallyEffective)
			if p := posture(); p.Covered != 2 || p.Partial != 1 || p.NotCovered != 1 || p.CoveredPercent() != 50 {
				t.Errorf("posture = %+v", p)
			}
			gaps, err := st.Gaps(ctx, "fw")
			if err != nil || len(gaps) != 2 || gaps[0].ID != "r3" || gaps[0].Coverage != domain.Partial ||
				!slices.Equal(gaps[0].Controls, []string{"controls/c2"}) || gaps[1].ID != "r4" || gaps[1].Coverage != domain.NotCovered || gaps[1].Controls != nil {
				t.Errorf("gaps = %+v, %v", gaps, err)
			}

			// The trend: day 1, then day 2 with new counts, then day 2 back at day 1's counts.
			day1, day2 := civil.DateOf(now), civil.DateOf(now).AddDays(1)
			record := func(day civil.Date) bool {
				t.Helper()
				var wrote bool
				within(func(tx store.Tx) error {
					p, err := tx.Posture(ctx, "fw")
					if err != nil {
						return err
					}
					wrote, err = tx.RecordPosture(ctx, p, day)
					return err
				})
				return wrote
			}
			if !record(day1) {
				t.Error("the first snapshot was not written")
			}
			if record(day2) {
				t.Error("a day with the day before's counts was written")
			}
			test(c1, domain.Ineffective)
			if !record(day2) {
				t.Error("a day with new counts was not written")
			}
			test(c1, domain.Effective)
			if record(day2) {
				t.Error("a day back at the day before's counts was kept")
			}
			q, err := listing.Plan(&riskv1.ListPostureSnapshotsRequest{Parent: "frameworks/fw"}, store.SnapshotTable.Resource)
			if err != nil {
				t.Fatal(err)
			}
			snaps, err := st.ListPostureSnapshots(ctx, "fw", q)
			if err != nil || len(snaps) != 1 || snaps[0].Date != day1 || snaps[0].Covered != 2 {
				t.Errorf("snapshots = %+v, %v", snaps, err)
			}
		})
	}
}
