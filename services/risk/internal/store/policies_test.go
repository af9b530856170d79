package store_test

import (
	"context"
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

// TestPolicyVersions checks that a policy and its versions read back as written and that versions
// list newest first by number — 10.0 after 9.1, not as text would sort them — on SQLite always and
// PostgreSQL when a server is available.
func TestPolicyVersions(t *testing.T) {
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
			p, err := domain.NewPolicy("aup", domain.PolicyFields{Title: "AUP", Owner: "people/ana", Teams: []string{"teams/b", "teams/a"}}, now)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.Within(ctx, func(ctx context.Context, tx store.Tx) error {
				if err := tx.InsertPolicy(ctx, p); err != nil {
					return err
				}
				for i := range 11 {
					change := domain.MajorChange
					if i == 10 {
						change = domain.MinorChange
					}
					v := &domain.PolicyVersion{DocumentURI: "https://docs.example.com/aup", EffectiveDate: civil.DateOf(now).AddDays(i)}
					prev := p.Version
					if err := p.Publish(v, change, nil, "users/ciso", now); err != nil {
						return err
					}
					if err := tx.InsertPolicyVersion(ctx, v); err != nil {
						return err
					}
					if err := tx.UpdatePolicy(ctx, p, prev); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			got, err := st.GetPolicy(ctx, "aup")
			if err != nil || got.CurrentVersion() != "10.1" || got.Teams[0] != "teams/a" || got.AcknowledgementDays != domain.DefaultAcknowledgementDays ||
				got.EffectiveDate != civil.DateOf(now).AddDays(10) || got.Version != 12 {
				t.Errorf("policy = %+v, %v", got, err)
			}
			q, err := listing.Plan(&riskv1.ListPolicyVersionsRequest{Parent: "policies/aup", PageSize: 3}, store.PolicyVersionTable.Resource)
			if err != nil {
				t.Fatal(err)
			}
			vs, err := st.ListPolicyVersions(ctx, "aup", q)
			if err != nil || len(vs) < 3 || vs[0].Number() != "10.1" || vs[1].Number() != "10.0" || vs[2].Number() != "9.0" {
				t.Fatalf("versions = %+v, %v", vs, err)
			}
			// The people of the campaign: teams/a's active people, each event applied at its version
			// only (a late, older one changes nothing).
			within := func(fn func(tx store.Tx) error) {
				t.Helper()
				if err := st.Within(ctx, func(_ context.Context, tx store.Tx) error { return fn(tx) }); err != nil {
					t.Fatal(err)
				}
			}
			within(func(tx store.Tx) error {
				for _, m := range []domain.Member{{PersonID: "ada", Team: "teams/a", Active: true, Version: 1},
					{PersonID: "bob", Team: "teams/a", Active: true, Version: 1}, {PersonID: "bob", Team: "teams/c", Active: true, Version: 2},
					{PersonID: "cy", Team: "teams/b", Active: false, Version: 3}, {PersonID: "dee", Team: "teams/b", Active: true, Version: 2}} {
					if _, err := tx.ApplyMember(ctx, m); err != nil {
						return err
					}
				}
				if late, err := tx.ApplyMember(ctx, domain.Member{PersonID: "cy", Team: "teams/b", Active: true, Version: 2}); err != nil || late {
					t.Errorf("a late event applied = %v, %v", late, err)
				}
				_, _, err := tx.InsertAcknowledgement(ctx, &domain.PolicyAcknowledgement{PolicyID: "aup", PersonID: "dee", Major: 10, Minor: 0, AcknowledgeTime: now})
				return err
			})
			entries, err := st.CampaignPeople(ctx, got)
			if err != nil || len(entries) != 2 || entries[0].PersonID != "ada" || entries[0].Acknowledgement != nil ||
				entries[1].PersonID != "dee" || entries[1].Acknowledgement == nil || entries[1].Acknowledgement.Minor != 0 {
				t.Errorf("campaign people = %+v, %v", entries, err)
			}
			v, err := st.GetPolicyVersion(ctx, "aup", "2-0")
			if err != nil || v.EffectiveDate != civil.DateOf(now).AddDays(1) || v.AcknowledgementDueDate != civil.DateOf(now).AddDays(31) || v.Publisher != "users/ciso" {
				t.Errorf("version 2.0 = %+v, %v", v, err)
			}
		})
	}
}
