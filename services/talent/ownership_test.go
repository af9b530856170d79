package talent_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// owned are the resources of one BOLA case, all requested by the owner: a draft position, an
// approved (open) one, an offered one, and a person who may fill it.
type owned struct {
	draft, open, offered, person string
}

// TestOwnership: under QUARTERDECK_TALENT_WRITE_POLICY=owner every write of a position by
// another principal holding talent.write is refused with NOT_OWNER and changes nothing; its
// requester and a holder of talent.admin succeed. Every method the policy checks has a case here
// (testkit.CheckOwnership fails otherwise); teams, people and the skill taxonomy are declared
// not owned.
func TestOwnership(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		cfg := talent.DefaultSettings()
		cfg.WritePolicy = string(ownership.Owner)
		svc := talent.Configured(cfg)
		e := startPositionsWith(t, db, cfg)
		ctx := context.Background()
		must := func(t *testing.T, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		testkit.CheckOwnership(t, e.talent, testkit.Ownership[owned]{
			Service: svc,
			Scopes:  []string{"talent.read", "talent.write"},
			Setup: func(t *testing.T, conn *grpc.ClientConn, n string) owned {
				c := talentv1.NewTalentServiceClient(conn)
				var f owned
				for i, name := range []*string{&f.draft, &f.open, &f.offered} {
					p, err := c.CreatePosition(ctx, &talentv1.CreatePositionRequest{Position: sre("teams/platform", 100_000, day(2026, 11, 1))})
					must(t, err)
					if p.GetRequester() != testkit.Owner {
						t.Fatalf("the requester is %q; want the creator, %s", p.GetRequester(), testkit.Owner)
					}
					*name = p.GetName()
					if i == 0 {
						continue
					}
					_, err = c.SubmitPosition(ctx, &talentv1.SubmitPositionRequest{Name: p.GetName()})
					must(t, err)
					_, err = e.approver.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: p.GetName()})
					must(t, err)
				}
				_, err := c.OfferPosition(ctx, &talentv1.OfferPositionRequest{Name: f.offered})
				must(t, err)
				p, err := c.CreatePerson(ctx, &talentv1.CreatePersonRequest{Person: &talentv1.Person{DisplayName: "Hire " + n,
					Team: "teams/platform", EmploymentType: talentv1.Person_EMPLOYEE, StartDate: day(2026, 11, 2)}})
				must(t, err)
				f.person = p.GetName()
				return f
			},
			State: func(t *testing.T, conn *grpc.ClientConn, f owned) []proto.Message {
				c := talentv1.NewTalentServiceClient(conn)
				var out []proto.Message
				for _, name := range []string{f.draft, f.open, f.offered} {
					p, err := c.GetPosition(ctx, &talentv1.GetPositionRequest{Name: name})
					must(t, err)
					out = append(out, p)
				}
				p, err := c.GetPerson(ctx, &talentv1.GetPersonRequest{Name: f.person})
				must(t, err)
				return append(out, p)
			},
			Writes: []testkit.OwnedWrite[owned]{
				{Method: "UpdatePosition", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := talentv1.NewTalentServiceClient(conn).UpdatePosition(ctx, &talentv1.UpdatePositionRequest{
						Position: &talentv1.Position{Name: f.draft, Team: "teams/platform", Title: "Changed"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
					return err
				}},
				{Method: "DeletePosition", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := talentv1.NewTalentServiceClient(conn).DeletePosition(ctx, &talentv1.DeletePositionRequest{Name: f.draft})
					return err
				}},
				{Method: "SubmitPosition", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := talentv1.NewTalentServiceClient(conn).SubmitPosition(ctx, &talentv1.SubmitPositionRequest{Name: f.draft})
					return err
				}},
				{Method: "OfferPosition", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := talentv1.NewTalentServiceClient(conn).OfferPosition(ctx, &talentv1.OfferPositionRequest{Name: f.open})
					return err
				}},
				{Method: "FillPosition", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := talentv1.NewTalentServiceClient(conn).FillPosition(ctx, &talentv1.FillPositionRequest{Name: f.offered, Person: f.person})
					return err
				}},
				{Method: "CancelPosition", Call: func(ctx context.Context, conn *grpc.ClientConn, f owned) error {
					_, err := talentv1.NewTalentServiceClient(conn).CancelPosition(ctx, &talentv1.CancelPositionRequest{Name: f.open, Reason: "re-planned"})
					return err
				}},
			},
		})
	})
}
