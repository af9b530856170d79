package crossservice_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// TestIncidentRolesNamePeople runs risk calling talent, each on a database of its own: an
// incident's roles may name people, whom talent must know and who must not have left, asked for
// the caller; free names stay free. A refusal names the role's field and changes nothing.
func TestIncidentRolesNamePeople(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		// Talent's own peer, budget, is not needed: no team here names a cost centre.
		tal := testkit.Start(t, testenv.Another(t, db), talent.Service(), testkit.WithHostOptions(func(o *host.Options) {
			o.Peers = map[string]string{"budget": "127.0.0.1:1"}
		}))
		rsk := testkit.Start(t, db, risk.Service(), testkit.WithHostOptions(func(o *host.Options) {
			o.Peers = map[string]string{"talent": tal.Addr}
		}))
		people := talentv1.NewTalentServiceClient(tal.Conn)
		incidents := riskv1.NewIncidentServiceClient(rsk.Conn)
		if _, err := people.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "sre", Team: &talentv1.Team{DisplayName: "SRE"}}); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"ada", "bob", "dan", "eve"} {
			if _, err := people.CreatePerson(ctx, &talentv1.CreatePersonRequest{PersonId: id, Person: &talentv1.Person{
				DisplayName: id, Team: "teams/sre", EmploymentType: talentv1.Person_EMPLOYEE, StartDate: day(2024, 1, 8)}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := people.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: "people/eve", EndDate: day(2026, 6, 30)}); err != nil {
			t.Fatal(err)
		}

		// People and free names side by side.
		inc, err := incidents.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "db-down", Incident: &riskv1.Incident{
			Title: "Database down", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV2,
			Roles: &riskv1.IncidentRoles{Commander: "people/ada", Scribe: "@carol", Responders: []string{"people/bob", "dba on call"}}}})
		if err != nil || inc.GetRoles().GetCommander() != "people/ada" || inc.GetRoles().GetResponders()[0] != "people/bob" {
			t.Fatalf("declared with people = %v, %v", inc, err)
		}
		// Someone talent does not know, someone who left: refused on the field, nothing declared.
		_, err = incidents.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: "ghost", Incident: &riskv1.Incident{
			Title: "Ghost", Type: riskv1.Incident_OUTAGE, Severity: riskv1.Incident_SEV3,
			Roles: &riskv1.IncidentRoles{Commander: "people/ada", CommunicationsLead: "people/nobody"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "PERSON_NOT_FOUND", "incident.roles.communications_lead")
		_, err = incidents.GetIncident(ctx, &riskv1.GetIncidentRequest{Name: "incidents/ghost"})
		testkit.AssertStatus(t, err, codes.NotFound, "INCIDENT_NOT_FOUND")
		_, err = incidents.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{
			Incident:   &riskv1.Incident{Name: inc.GetName(), Roles: &riskv1.IncidentRoles{Responders: []string{"people/bob", "people/eve"}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"roles.responders"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "PERSON_LEFT", "incident.roles.responders[1]")
		if got, err := incidents.GetIncident(ctx, &riskv1.GetIncidentRequest{Name: inc.GetName()}); err != nil || got.GetEtag() != inc.GetEtag() {
			t.Errorf("after the refused update = %v, %v; want it unchanged", got, err)
		}

		// Talent answers for the caller: one who may not read talent cannot name a person.
		noTalent := riskv1.NewIncidentServiceClient(rsk.ConnAs(t, "apiKeys/incidents-only", "incidents.read", "incidents.write"))
		_, err = noTalent.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{
			Incident:   &riskv1.Incident{Name: inc.GetName(), Roles: &riskv1.IncidentRoles{Scribe: "people/dan"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"roles.scribe"}}})
		testkit.AssertStatus(t, err, codes.FailedPrecondition, "PEER_REFUSED")
		// … but may change what names nobody new: bob is a responder already.
		if _, err := noTalent.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{
			Incident:   &riskv1.Incident{Name: inc.GetName(), Roles: &riskv1.IncidentRoles{Scribe: "people/bob"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"roles.scribe"}}}); err != nil {
			t.Errorf("naming a responder scribe without talent.read: %v", err)
		}
		if _, err := noTalent.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{
			Incident:   &riskv1.Incident{Name: inc.GetName(), Roles: &riskv1.IncidentRoles{Responders: []string{"people/bob"}}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"roles.responders"}}}); err != nil {
			t.Errorf("dropping a responder without talent.read: %v", err)
		}

		// Once someone leaves, an incident that names them keeps them, and changes elsewhere go on.
		if _, err := people.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: "people/ada"}); err != nil {
			t.Fatal(err)
		}
		upd, err := incidents.UpdateIncident(ctx, &riskv1.UpdateIncidentRequest{
			Incident: &riskv1.Incident{Name: inc.GetName(), Title: "Primary database down",
				Roles: &riskv1.IncidentRoles{Commander: "people/ada", Scribe: "people/bob"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "roles"}}})
		if err != nil || upd.GetRoles().GetCommander() != "people/ada" || upd.GetRoles().GetScribe() != "people/bob" {
			t.Errorf("update keeping a commander who left = %v, %v", upd, err)
		}
	})
}
