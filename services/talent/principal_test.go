package talent_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestPersonPrincipal: a person's principal names a principal, is set and cleared only with
// talent.admin, is unique among ACTIVE people (one who left frees it), and makes GetCallerTeams
// answer the person's team to that principal, whoever it is and whatever its scopes.
func TestPersonPrincipal(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		for _, id := range []string{"platform", "data"} {
			if _, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: id, Team: &talentv1.Team{DisplayName: id}}); err != nil {
				t.Fatal(err)
			}
		}
		req := newPerson("ada", "teams/platform", 0)
		req.Person.Principal = "principals/ada"
		ada, err := e.client.CreatePerson(ctx, req)
		if err != nil || ada.GetPrincipal() != "principals/ada" {
			t.Fatalf("create with a principal = %v, %v", ada, err)
		}
		got, err := e.client.GetPerson(ctx, &talentv1.GetPersonRequest{Name: ada.GetName()})
		if err != nil || got.GetPrincipal() != "principals/ada" {
			t.Errorf("get = %v, %v; want the principal stored", got, err)
		}
		listed, err := e.client.ListPeople(ctx, &talentv1.ListPeopleRequest{Filter: `principal = "principals/ada"`})
		if err != nil || len(listed.GetPeople()) != 1 || listed.GetPeople()[0].GetName() != ada.GetName() {
			t.Errorf("list by principal = %v, %v", listed, err)
		}

		// Only principals: no key, no e-mail, no person.
		for _, bad := range []string{"apiKeys/k1", "ada@example.com", "people/ada", "principals/Ada"} {
			r := newPerson("bad", "teams/platform", 0)
			r.Person.Principal = bad
			_, err := e.client.CreatePerson(ctx, r)
			e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "person.principal")
		}

		// Unique among ACTIVE people.
		dup := newPerson("ada2", "teams/data", 0)
		dup.Person.Principal = "principals/ada"
		_, err = e.client.CreatePerson(ctx, dup)
		e.AssertStatus(t, err, codes.AlreadyExists, "PERSON_PRINCIPAL_TAKEN", "person.principal")
		bob, err := e.client.CreatePerson(ctx, newPerson("bob", "teams/data", 0))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.client.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: bob.GetName(), Principal: "principals/ada"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"principal"}}})
		e.AssertStatus(t, err, codes.AlreadyExists, "PERSON_PRINCIPAL_TAKEN", "person.principal")

		// Setting or clearing it takes talent.admin; talent.write alone may not.
		writer := e.as(t, "apiKeys/hr", "talent.read", "talent.write")
		_, err = writer.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: bob.GetName(), Principal: "principals/bob"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"principal"}}})
		e.AssertStatus(t, err, codes.PermissionDenied, "FIELD_WRITE_DENIED")
		_, err = writer.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: ada.GetName()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"principal"}}})
		e.AssertStatus(t, err, codes.PermissionDenied, "FIELD_WRITE_DENIED")
		r := newPerson("carol", "teams/data", 0)
		r.Person.Principal = "users/carol"
		_, err = writer.CreatePerson(ctx, r)
		e.AssertStatus(t, err, codes.PermissionDenied, "FIELD_WRITE_DENIED")
		if got, _ := e.client.GetPerson(ctx, &talentv1.GetPersonRequest{Name: ada.GetName()}); got.GetPrincipal() != "principals/ada" {
			t.Errorf("a refused clearing changed the principal to %q", got.GetPrincipal())
		}
		// The rest of a person is still talent.write's.
		if _, err := writer.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: ada.GetName(), Title: "Lead"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
			t.Errorf("a title change by talent.write = %v", err)
		}

		// The caller's teams, asked by the principal itself with no scope at all.
		teams := func(owner string) *talentv1.CallerTeams {
			t.Helper()
			c := talentv1.NewTalentServiceClient(e.ConnOf(t, "apiKeys/"+owner[len("principals/"):]+"-2", owner))
			out, err := c.GetCallerTeams(ctx, &talentv1.GetCallerTeamsRequest{})
			if err != nil {
				t.Fatalf("GetCallerTeams as %s: %v", owner, err)
			}
			return out
		}
		if got := teams("principals/ada"); got.GetPrincipal() != "principals/ada" || got.GetPerson() != "people/ada" || !slices.Equal(got.GetTeams(), []string{"teams/platform"}) {
			t.Errorf("ada's teams = %v; want people/ada in teams/platform", got)
		}
		if got := teams("principals/nobody"); got.GetPerson() != "" || len(got.GetTeams()) != 0 {
			t.Errorf("an unlinked principal's teams = %v; want none", got)
		}
		// A move changes them; leaving ends them and frees the principal for another person.
		if _, err := e.client.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: ada.GetName(), Team: "teams/data"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"team"}}}); err != nil {
			t.Fatal(err)
		}
		if got := teams("principals/ada"); !slices.Equal(got.GetTeams(), []string{"teams/data"}) {
			t.Errorf("ada's teams after her move = %v; want teams/data", got)
		}
		if _, err := e.client.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: ada.GetName()}); err != nil {
			t.Fatal(err)
		}
		if got := teams("principals/ada"); len(got.GetTeams()) != 0 {
			t.Errorf("the teams of one who left = %v; want none", got)
		}
		again, err := e.client.CreatePerson(ctx, dup)
		if err != nil || again.GetPrincipal() != "principals/ada" {
			t.Errorf("the principal of one who left, for a new person = %v, %v", again, err)
		}
		if got := teams("principals/ada"); got.GetPerson() != "people/ada2" || !slices.Equal(got.GetTeams(), []string{"teams/data"}) {
			t.Errorf("ada's teams as ada2 = %v", got)
		}
	})
}
