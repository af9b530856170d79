package risk_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestPolicies creates a policy (for everyone: naming teams needs talent, down here) and publishes its versions: 1.0 first, a minor
// 1.1 that keeps 1.0's acknowledgement due date, a major 2.0 that asks again, each the policy's
// current version with an event; and the refusals of bad input.
func TestPolicies(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		// Talent is not running here: a policy naming teams cannot have them checked, and nothing
		// is written (the check with talent up is the cross-service test's).
		_, err := o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "acceptable-use", Policy: &riskv1.Policy{
			Title: "Acceptable use", Owner: "people/ana", Teams: []string{"teams/sales", "teams/eng"}, AcknowledgementDays: 14}})
		testkit.AssertStatus(t, err, codes.Unavailable, "PEER_UNAVAILABLE")
		_, err = o.comp.GetPolicy(ctx, &riskv1.GetPolicyRequest{Name: "policies/acceptable-use"})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_NOT_FOUND")
		p, err := o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "acceptable-use", Policy: &riskv1.Policy{
			Title: "Acceptable use", Summary: "How company devices and accounts may be used.", Owner: "people/ana",
			Everyone: true, AcknowledgementDays: 14}})
		if err != nil {
			t.Fatal(err)
		}
		if p.GetName() != "policies/acceptable-use" || p.GetCurrentVersion() != "" || p.GetEffectiveDate() != nil ||
			!p.GetEveryone() || p.GetAcknowledgementDays() != 14 || p.GetEtag() == "" {
			t.Errorf("created = %v", p)
		}
		_, err = o.comp.UpdatePolicy(ctx, &riskv1.UpdatePolicyRequest{Policy: &riskv1.Policy{Name: p.GetName(), Teams: []string{"teams/eng"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"everyone", "teams"}}})
		testkit.AssertStatus(t, err, codes.Unavailable, "PEER_UNAVAILABLE")
		if n := countEvents(t, o.db, ".policy.created", p.GetName()); n != 1 {
			t.Errorf("policy.created events = %d; want 1", n)
		}

		publish := func(change riskv1.PolicyChange, date []int32, uri string) *riskv1.PolicyVersion {
			t.Helper()
			v, err := o.comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: p.GetName(), PolicyVersion: &riskv1.PolicyVersion{
				Change: change, DocumentUri: uri, EffectiveDate: day(date[0], date[1], date[2]), ChangeSummary: "changes"}})
			if err != nil {
				t.Fatalf("publish %v: %v", change, err)
			}
			return v
		}
		v1 := publish(riskv1.PolicyChange_POLICY_CHANGE_UNSPECIFIED, []int32{2026, 12, 1}, "https://docs.example.com/aup/1")
		if v1.GetName() != "policies/acceptable-use/versions/1-0" || v1.GetVersion() != "1.0" || !v1.GetRequiresAcknowledgement() ||
			v1.GetAcknowledgementDueDate().GetDay() != 15 || v1.GetPublisher() == "" {
			t.Errorf("1.0 = %v", v1)
		}
		v11 := publish(riskv1.PolicyChange_MINOR, []int32{2026, 12, 4}, "https://docs.example.com/aup/1-1")
		if v11.GetVersion() != "1.1" || v11.GetRequiresAcknowledgement() || v11.GetAcknowledgementDueDate().GetDay() != 15 {
			t.Errorf("1.1 = %v; want no new acknowledgement, due with 1.0", v11)
		}
		v2 := publish(riskv1.PolicyChange_MAJOR, []int32{2027, 1, 4}, "https://docs.example.com/aup/2")
		if v2.GetVersion() != "2.0" || !v2.GetRequiresAcknowledgement() || v2.GetAcknowledgementDueDate().GetMonth() != 1 ||
			v2.GetAcknowledgementDueDate().GetDay() != 18 {
			t.Errorf("2.0 = %v", v2)
		}
		got, err := o.comp.GetPolicy(ctx, &riskv1.GetPolicyRequest{Name: p.GetName()})
		if err != nil || got.GetCurrentVersion() != "2.0" || got.GetDocumentUri() != "https://docs.example.com/aup/2" ||
			got.GetEffectiveDate().GetYear() != 2027 || got.GetEtag() == p.GetEtag() {
			t.Errorf("policy after 2.0 = %v, %v", got, err)
		}
		if n := countEvents(t, o.db, ".policy.version_published", p.GetName()); n != 3 {
			t.Errorf("policy.version_published events = %d; want 3", n)
		}
		versions, err := o.comp.ListPolicyVersions(ctx, &riskv1.ListPolicyVersionsRequest{Parent: p.GetName(), PageSize: 2})
		if err != nil || len(versions.GetPolicyVersions()) != 2 || versions.GetPolicyVersions()[0].GetVersion() != "2.0" ||
			versions.GetPolicyVersions()[1].GetVersion() != "1.1" || versions.GetNextPageToken() == "" {
			t.Fatalf("versions = %v, %v", versions, err)
		}
		rest, err := o.comp.ListPolicyVersions(ctx, &riskv1.ListPolicyVersionsRequest{Parent: p.GetName(), PageSize: 2, PageToken: versions.GetNextPageToken()})
		if err != nil || len(rest.GetPolicyVersions()) != 1 || rest.GetPolicyVersions()[0].GetVersion() != "1.0" || rest.GetNextPageToken() != "" {
			t.Errorf("second page of versions = %v, %v", rest, err)
		}
		if v, err := o.comp.GetPolicyVersion(ctx, &riskv1.GetPolicyVersionRequest{Name: v11.GetName()}); err != nil || v.GetDocumentUri() != "https://docs.example.com/aup/1-1" {
			t.Errorf("get 1.1 = %v, %v", v, err)
		}

		all, err := o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "code-of-conduct", Policy: &riskv1.Policy{
			Title: "Code of conduct", Owner: "hr@example.com", Everyone: true}})
		if err != nil || all.GetAcknowledgementDays() != 30 {
			t.Fatalf("a policy for everyone = %v, %v", all, err)
		}
		found, err := o.comp.ListPolicies(ctx, &riskv1.ListPoliciesRequest{Filter: `current_version = "2.0"`})
		if err != nil || len(found.GetPolicies()) != 1 || found.GetPolicies()[0].GetName() != p.GetName() {
			t.Errorf("policies at 2.0 = %v, %v", found, err)
		}
		everyone, err := o.comp.ListPolicies(ctx, &riskv1.ListPoliciesRequest{Filter: `everyone = true AND current_version = ""`})
		if err != nil || len(everyone.GetPolicies()) != 1 || everyone.GetPolicies()[0].GetName() != all.GetName() {
			t.Errorf("policies for everyone = %v, %v", everyone, err)
		}

		// An update: the audience becomes everyone, the days change from the next major version.
		up, err := o.comp.UpdatePolicy(ctx, &riskv1.UpdatePolicyRequest{Policy: &riskv1.Policy{Name: p.GetName(), Everyone: true, AcknowledgementDays: 60},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"everyone", "teams", "acknowledgement_days"}}})
		if err != nil || !up.GetEveryone() || len(up.GetTeams()) != 0 || up.GetAcknowledgementDays() != 60 || up.GetCurrentVersion() != "2.0" {
			t.Errorf("updated = %v, %v", up, err)
		}
		if n := countEvents(t, o.db, ".policy.updated", p.GetName()); n != 1 {
			t.Errorf("policy.updated events = %d; want 1", n)
		}
		same, err := o.comp.UpdatePolicy(ctx, &riskv1.UpdatePolicyRequest{Policy: &riskv1.Policy{Name: p.GetName(), Everyone: true},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"everyone"}}})
		if err != nil || same.GetEtag() != up.GetEtag() {
			t.Errorf("an update that changes nothing = %v, %v", same, err)
		}
		_, err = o.comp.UpdatePolicy(ctx, &riskv1.UpdatePolicyRequest{Policy: &riskv1.Policy{Name: p.GetName()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"everyone"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy.teams:AUDIENCE_REQUIRED")
		_, err = o.comp.UpdatePolicy(ctx, &riskv1.UpdatePolicyRequest{Policy: &riskv1.Policy{Name: p.GetName(), Title: "x", Etag: p.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		testkit.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		if n := countEvents(t, o.db, ".policy.updated", p.GetName()); n != 1 {
			t.Errorf("policy.updated events after refusals = %d; want 1", n)
		}

		// Refusals.
		_, err = o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{Policy: &riskv1.Policy{Title: "T", Owner: "o"}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy.teams:AUDIENCE_REQUIRED")
		_, err = o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{Policy: &riskv1.Policy{Title: "T", Owner: "o", Everyone: true, Teams: []string{"teams/eng"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy.teams:AUDIENCE_AMBIGUOUS")
		_, err = o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{Policy: &riskv1.Policy{Title: "T", Owner: "o", Teams: []string{"people/ana"}}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy.teams[0]")
		_, err = o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{Policy: &riskv1.Policy{Title: "T", Owner: "o", Everyone: true, AcknowledgementDays: 400}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy.acknowledgement_days")
		_, err = o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "acceptable-use", Policy: &riskv1.Policy{Title: "T", Owner: "o", Everyone: true}})
		testkit.AssertStatus(t, err, codes.AlreadyExists, "POLICY_ALREADY_EXISTS")
		_, err = o.comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: p.GetName(), PolicyVersion: &riskv1.PolicyVersion{
			DocumentUri: "https://docs.example.com/aup/3", EffectiveDate: day(2027, 2, 1)}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy_version.change:REQUIRED")
		_, err = o.comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: p.GetName(), PolicyVersion: &riskv1.PolicyVersion{
			Change: riskv1.PolicyChange_MINOR, DocumentUri: "https://docs.example.com/aup/2-1", EffectiveDate: day(2027, 1, 3)}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy_version.effective_date:EFFECTIVE_DATE_BEFORE_PREVIOUS")
		_, err = o.comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: p.GetName(), PolicyVersion: &riskv1.PolicyVersion{
			Change: riskv1.PolicyChange_MINOR, EffectiveDate: day(2027, 2, 1)}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "policy_version.document_uri:REQUIRED")
		_, err = o.comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: "policies/nope", PolicyVersion: &riskv1.PolicyVersion{
			DocumentUri: "https://docs.example.com/x", EffectiveDate: day(2027, 2, 1)}})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_NOT_FOUND")
		_, err = o.comp.GetPolicyVersion(ctx, &riskv1.GetPolicyVersionRequest{Name: "policies/acceptable-use/versions/3-0"})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_VERSION_NOT_FOUND")
		_, err = o.comp.ListPolicyVersions(ctx, &riskv1.ListPolicyVersionsRequest{Parent: "policies/nope"})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_NOT_FOUND")
		if n := countEvents(t, o.db, ".policy.version_published", p.GetName()); n != 3 {
			t.Errorf("policy.version_published events after refusals = %d; want 3", n)
		}
		reader := riskv1.NewComplianceServiceClient(o.ConnAs(t, "users/reader", "compliance.read"))
		if _, err := reader.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{Policy: &riskv1.Policy{Title: "T", Owner: "o", Everyone: true}}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("create with compliance.read = %v", err)
		}
		if _, err := reader.GetPolicy(ctx, &riskv1.GetPolicyRequest{Name: p.GetName()}); err != nil {
			t.Errorf("get with compliance.read: %v", err)
		}
	})
}

// TestPolicyAcknowledgementWithoutTalent: an acknowledgement asks talent about its person before
// anything, so with talent down it is UNAVAILABLE and nothing is recorded; a campaign is read
// from the service's own table of people, so it answers with talent down (here nobody is known:
// nobody is asked).
func TestPolicyAcknowledgementWithoutTalent(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		p, err := o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "aup", Policy: &riskv1.Policy{
			Title: "Acceptable use", Owner: "people/ana", Everyone: true}})
		if err != nil {
			t.Fatal(err)
		}
		if c, err := o.comp.GetPolicyCampaign(ctx, &riskv1.GetPolicyCampaignRequest{Name: "policies/aup/campaign"}); err != nil ||
			c.GetRequiredCount() != 0 || c.GetPolicyVersion() != "" || c.GetDueDate() != nil {
			t.Errorf("campaign before a version = %v, %v", c, err)
		}
		if _, err := o.comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: p.GetName(), PolicyVersion: &riskv1.PolicyVersion{
			DocumentUri: "https://docs.example.com/aup", EffectiveDate: day(2026, 12, 1)}}); err != nil {
			t.Fatal(err)
		}
		_, err = o.comp.AcknowledgePolicy(ctx, &riskv1.AcknowledgePolicyRequest{Name: p.GetName(), Person: "people/ada"})
		testkit.AssertStatus(t, err, codes.Unavailable, "PEER_UNAVAILABLE")
		_, err = o.comp.AcknowledgePolicy(ctx, &riskv1.AcknowledgePolicyRequest{Name: p.GetName(), Person: "ada"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "person")
		if n := countEvents(t, o.db, ".policy.acknowledged", p.GetName()); n != 0 {
			t.Errorf("policy.acknowledged events = %d; want 0", n)
		}
		c, err := o.comp.GetPolicyCampaign(ctx, &riskv1.GetPolicyCampaignRequest{Name: "policies/aup/campaign"})
		if err != nil || c.GetPolicyVersion() != "policies/aup/versions/1-0" || c.GetDueDate().GetDay() != 31 || c.GetRequiredCount() != 0 {
			t.Errorf("campaign = %v, %v", c, err)
		}
		_, err = o.comp.GetPolicyCampaign(ctx, &riskv1.GetPolicyCampaignRequest{Name: "policies/nope/campaign"})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_NOT_FOUND")
	})
}

// TestDeletePolicy deletes a published policy: a stale etag is ABORTED and changes nothing; the
// deletion publishes policy.deleted, is audited, cancels the acknowledgements' overdue item and
// takes the versions with it, so the name can be used again from 1.0.
func TestDeletePolicy(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		p, err := o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "aup", Policy: &riskv1.Policy{
			Title: "Acceptable use", Owner: "people/ana", Everyone: true}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: p.GetName(), PolicyVersion: &riskv1.PolicyVersion{
			DocumentUri: "https://docs.example.com/aup", EffectiveDate: day(2026, 12, 1)}}); err != nil {
			t.Fatal(err)
		}
		if items := clockItems(t, o.db, p.GetName()); len(items) != 1 {
			t.Fatalf("due items of the published policy = %v; want its acknowledgement_overdue", items)
		}
		_, err = o.comp.DeletePolicy(ctx, &riskv1.DeletePolicyRequest{Name: p.GetName(), Etag: p.GetEtag()})
		testkit.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		_, err = o.comp.DeletePolicy(ctx, &riskv1.DeletePolicyRequest{Name: "policies/nope"})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_NOT_FOUND")
		_, err = o.comp.DeletePolicy(ctx, &riskv1.DeletePolicyRequest{Name: "aup"})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
		reader := riskv1.NewComplianceServiceClient(o.ConnAs(t, "users/reader", "compliance.read"))
		if _, err := reader.DeletePolicy(ctx, &riskv1.DeletePolicyRequest{Name: p.GetName()}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("delete with compliance.read = %v", err)
		}
		if n := countEvents(t, o.db, ".policy.deleted", p.GetName()); n != 0 {
			t.Errorf("policy.deleted events after refusals = %d; want 0", n)
		}

		cur, err := o.comp.GetPolicy(ctx, &riskv1.GetPolicyRequest{Name: p.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.comp.DeletePolicy(ctx, &riskv1.DeletePolicyRequest{Name: p.GetName(), Etag: cur.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		_, err = o.comp.GetPolicy(ctx, &riskv1.GetPolicyRequest{Name: p.GetName()})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_NOT_FOUND")
		_, err = o.comp.GetPolicyCampaign(ctx, &riskv1.GetPolicyCampaignRequest{Name: "policies/aup/campaign"})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_NOT_FOUND")
		if items := clockItems(t, o.db, p.GetName()); len(items) != 0 {
			t.Errorf("due items of the deleted policy = %v; want none", items)
		}
		ev := outbox(t, o.db, ".policy.deleted", p.GetName(), func() *riskv1.PolicyDeleted { return &riskv1.PolicyDeleted{} })
		if len(ev) != 1 || ev[0].GetPolicy().GetCurrentVersion() != "1.0" || ev[0].GetPolicy().GetEtag() != cur.GetEtag() {
			t.Errorf("policy.deleted = %v", ev)
		}
		if got := testkit.Column[string](t, o.db, `SELECT action FROM audit_records WHERE resource = $1 ORDER BY pending_id`, p.GetName()); len(got) == 0 ||
			got[len(got)-1] != "DELETE" {
			t.Errorf("audit actions of the policy = %v; want the last a DELETE", got)
		}

		// The versions went with it: the name starts again from 1.0.
		if _, err := o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "aup", Policy: &riskv1.Policy{
			Title: "Acceptable use", Owner: "people/ana", Everyone: true}}); err != nil {
			t.Fatal(err)
		}
		v, err := o.comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: p.GetName(), PolicyVersion: &riskv1.PolicyVersion{
			DocumentUri: "https://docs.example.com/aup/new", EffectiveDate: day(2026, 12, 2)}})
		if err != nil || v.GetVersion() != "1.0" {
			t.Errorf("first version after re-creation = %v, %v", v, err)
		}
	})
}

// TestPolicyCampaignPeople pages through the people of a campaign and filters them. The people
// are the service's own table of talent's people, written here as talent's events would (the
// cross-service test, TestPolicyCampaign, has them come from talent): six active people in two
// teams and one who left; two acknowledged major version 1, at its minor versions 10 and 9 (the
// row keeps the minor version acknowledged), and it was due on 1 December, so on 4 December the
// others are overdue.
func TestPolicyCampaignPeople(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		o := startOffice(t, db)
		ctx := context.Background()
		list := func(req *riskv1.ListPolicyCampaignPeopleRequest) ([]string, error) {
			t.Helper()
			req.Parent = "policies/aup/campaign"
			var out []string
			for {
				page, err := o.comp.ListPolicyCampaignPeople(ctx, req)
				if err != nil {
					return out, err
				}
				for _, p := range page.GetPeople() {
					s := p.GetPerson() + " " + p.GetTeam() + " " + p.GetAcknowledgedVersion()
					if p.GetAcknowledgeTime() != nil {
						s += " at " + p.GetAcknowledgeTime().AsTime().Format(time.DateOnly)
					}
					if p.GetOverdue() {
						s += " overdue"
					}
					out = append(out, s)
				}
				if req.PageToken = page.GetNextPageToken(); req.PageToken == "" {
					return out, nil
				}
			}
		}
		_, err := list(&riskv1.ListPolicyCampaignPeopleRequest{})
		testkit.AssertStatus(t, err, codes.NotFound, "POLICY_NOT_FOUND")

		p, err := o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: "aup", Policy: &riskv1.Policy{
			Title: "Acceptable use", Owner: "people/ana", Everyone: true, AcknowledgementDays: 30}})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`INSERT INTO people (id, team, active, version) VALUES ('ana', 'teams/a', TRUE, 1), ('ben', 'teams/b', TRUE, 1),
				('cy', 'teams/a', TRUE, 1), ('dee', 'teams/b', TRUE, 1), ('eli', 'teams/a', TRUE, 1), ('fay', 'teams/b', TRUE, 1),
				('gus', 'teams/a', FALSE, 2)`,
		} {
			if _, err := o.db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := list(&riskv1.ListPolicyCampaignPeopleRequest{}); err != nil || len(got) != 0 {
			t.Errorf("people of a policy without a version = %v, %v; want none", got, err)
		}
		if _, err := o.comp.CreatePolicyVersion(ctx, &riskv1.CreatePolicyVersionRequest{Parent: p.GetName(), PolicyVersion: &riskv1.PolicyVersion{
			DocumentUri: "https://docs.example.com/aup", EffectiveDate: day(2026, 11, 1)}}); err != nil {
			t.Fatal(err)
		}
		const ack = `INSERT INTO policy_acknowledgements (policy_id, major, person_id, minor, recorder, acknowledge_time)
			VALUES ('aup', 1, $1, $2, 'users/x', $3)`
		for _, a := range []struct {
			person string
			minor  int
			at     time.Time
		}{{"ben", 10, midnight(2026, 11, 20)}, {"eli", 9, midnight(2026, 11, 25)}, {"gus", 0, midnight(2026, 11, 2)}} {
			if _, err := o.db.ExecContext(ctx, ack, a.person, a.minor, a.at); err != nil {
				t.Fatal(err)
			}
		}

		all := []string{
			"people/ana teams/a  overdue", "people/ben teams/b 1.10 at 2026-11-20", "people/cy teams/a  overdue",
			"people/dee teams/b  overdue", "people/eli teams/a 1.9 at 2026-11-25", "people/fay teams/b  overdue",
		}
		for _, c := range []struct {
			name string
			req  *riskv1.ListPolicyCampaignPeopleRequest
			want []string
		}{
			{"everyone, two a page", &riskv1.ListPolicyCampaignPeopleRequest{PageSize: 2}, all},
			{"the overdue", &riskv1.ListPolicyCampaignPeopleRequest{Filter: "overdue = true", PageSize: 3},
				[]string{all[0], all[2], all[3], all[5]}},
			{"team b's pending", &riskv1.ListPolicyCampaignPeopleRequest{Filter: `team = "teams/b" AND acknowledged_version = ""`},
				[]string{all[3], all[5]}},
			{"acknowledged since 21 November", &riskv1.ListPolicyCampaignPeopleRequest{Filter: `acknowledge_time > "2026-11-21T00:00:00Z"`},
				[]string{all[4]}},
			{"one person", &riskv1.ListPolicyCampaignPeopleRequest{Filter: `person = "people/cy"`}, []string{all[2]}},
			{"by team, descending", &riskv1.ListPolicyCampaignPeopleRequest{OrderBy: "team desc", PageSize: 4},
				[]string{all[1], all[3], all[5], all[0], all[2], all[4]}},
			// By the minor version's number: 1.10 after 1.9.
			{"by version", &riskv1.ListPolicyCampaignPeopleRequest{OrderBy: "acknowledged_version desc", PageSize: 1},
				[]string{all[1], all[4], all[0], all[2], all[3], all[5]}},
		} {
			got, err := list(c.req)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", c.name, diff)
			}
		}

		// The campaign's own list says the same of everyone.
		camp, err := o.comp.GetPolicyCampaign(ctx, &riskv1.GetPolicyCampaignRequest{Name: "policies/aup/campaign"})
		if err != nil {
			t.Fatal(err)
		}
		listed, err := o.comp.ListPolicyCampaignPeople(ctx, &riskv1.ListPolicyCampaignPeopleRequest{Parent: "policies/aup/campaign"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(camp.GetPeople(), listed.GetPeople(), protocmp.Transform()); diff != "" || camp.GetOverdueCount() != 4 {
			t.Errorf("GetPolicyCampaign's people (-) and the list's (+), %d overdue:\n%s", camp.GetOverdueCount(), diff)
		}
		// The BASIC view has the same counts (the FULL view's, computed over its people) without
		// the people. A policy of some teams: TestPolicyCampaign (cross-service).
		basic, err := o.comp.GetPolicyCampaign(ctx, &riskv1.GetPolicyCampaignRequest{Name: "policies/aup/campaign", View: riskv1.GetPolicyCampaignRequest_BASIC})
		if err != nil {
			t.Fatal(err)
		}
		if basic.GetRequiredCount() != 6 || basic.GetAcknowledgedCount() != 2 || basic.GetPendingCount() != 4 || basic.GetOverdueCount() != 4 || len(basic.GetPeople()) != 0 {
			t.Errorf("BASIC view = %v; want 6 required, 2 acknowledged, 4 pending and overdue, no people", basic)
		}
		camp.People = nil
		if diff := cmp.Diff(camp, basic, protocmp.Transform(), protocmp.IgnoreFields(&riskv1.PolicyCampaign{}, "compute_time")); diff != "" {
			t.Errorf("the FULL view without its people (-) and the BASIC view (+):\n%s", diff)
		}
		_, err = o.comp.GetPolicyCampaign(ctx, &riskv1.GetPolicyCampaignRequest{Name: "policies/aup/campaign", View: 7})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "view")

		// People are shown by the display names talent's events gave them (ana's and fay's
		// here), and can be found and ordered by them; a person known without one has none.
		if _, err := o.db.ExecContext(ctx, `UPDATE people SET display_name = CASE id WHEN 'ana' THEN 'Ana Ortiz' ELSE 'Fay Lind' END
			WHERE id IN ('ana', 'fay')`); err != nil {
			t.Fatal(err)
		}
		named := func(req *riskv1.ListPolicyCampaignPeopleRequest) []string {
			t.Helper()
			req.Parent = "policies/aup/campaign"
			page, err := o.comp.ListPolicyCampaignPeople(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, p := range page.GetPeople() {
				out = append(out, p.GetPerson()+" "+p.GetDisplayName())
			}
			return out
		}
		if got, want := named(&riskv1.ListPolicyCampaignPeopleRequest{Filter: `display_name = "Fay Lind"`}), []string{"people/fay Fay Lind"}; !slices.Equal(got, want) {
			t.Errorf("people named Fay Lind = %v; want %v", got, want)
		}
		if got, want := named(&riskv1.ListPolicyCampaignPeopleRequest{OrderBy: "display_name desc", PageSize: 3}),
			[]string{"people/fay Fay Lind", "people/ana Ana Ortiz", "people/ben "}; !slices.Equal(got, want) {
			t.Errorf("people by display name, descending = %v; want %v", got, want)
		}

		// ListPolicies' FULL view gives every policy the campaign GetPolicyCampaign's BASIC view
		// gives it: aup's counts, and none for a policy without a version. Its pages hold at
		// most 100 policies.
		for i := range 100 {
			if _, err := o.comp.CreatePolicy(ctx, &riskv1.CreatePolicyRequest{PolicyId: fmt.Sprintf("p%03d", i), Policy: &riskv1.Policy{
				Title: "Draft", Owner: "people/ana", Everyone: true}}); err != nil {
				t.Fatal(err)
			}
		}
		full, err := o.comp.ListPolicies(ctx, &riskv1.ListPoliciesRequest{View: riskv1.ListPoliciesRequest_FULL, PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(full.GetPolicies()); n != 100 || full.GetNextPageToken() == "" {
			t.Errorf("FULL view asked for 1000 of 101 policies: %d and a next page %q; want 100 and one", n, full.GetNextPageToken())
		}
		if c := full.GetPolicies()[0]; c.GetName() != "policies/aup" ||
			!cmp.Equal(basic, c.GetCampaign(), protocmp.Transform(), protocmp.IgnoreFields(&riskv1.PolicyCampaign{}, "compute_time")) {
			t.Errorf("aup's campaign in the FULL view = %v; want the BASIC view's %v", c.GetCampaign(), basic)
		}
		if c := full.GetPolicies()[1].GetCampaign(); c.GetName() != "policies/p000/campaign" || c.GetPolicyVersion() != "" || c.GetRequiredCount() != 0 {
			t.Errorf("campaign of a policy without a version in the FULL view = %v; want its name and no counts", c)
		}
		last, err := o.comp.ListPolicies(ctx, &riskv1.ListPoliciesRequest{View: riskv1.ListPoliciesRequest_FULL, PageSize: 1000,
			PageToken: full.GetNextPageToken()})
		if err != nil || len(last.GetPolicies()) != 1 || last.GetPolicies()[0].GetCampaign() == nil || last.GetNextPageToken() != "" {
			t.Errorf("FULL view's second page: %d policies, the first's campaign %v, a next page %q, %v; want the last policy with its campaign",
				len(last.GetPolicies()), last.GetPolicies()[0].GetCampaign(), last.GetNextPageToken(), err)
		}
		basicList, err := o.comp.ListPolicies(ctx, &riskv1.ListPoliciesRequest{PageSize: 1})
		if err != nil || basicList.GetPolicies()[0].GetCampaign() != nil {
			t.Errorf("BASIC view = %v, %v; want no campaign", basicList, err)
		}
		_, err = o.comp.ListPolicies(ctx, &riskv1.ListPoliciesRequest{View: 3})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "view")

		// Refusals.
		for _, c := range []struct {
			req           *riskv1.ListPolicyCampaignPeopleRequest
			reason, field string
		}{
			{&riskv1.ListPolicyCampaignPeopleRequest{Parent: "policies/aup"}, "INVALID_ARGUMENT", "parent"},
			{&riskv1.ListPolicyCampaignPeopleRequest{Parent: "policies/aup/campaign", Filter: `name = "x"`}, "INVALID_ARGUMENT", "filter"},
			{&riskv1.ListPolicyCampaignPeopleRequest{Parent: "policies/aup/campaign", Filter: `person = "teams/a"`}, "INVALID_ARGUMENT", "filter"},
			{&riskv1.ListPolicyCampaignPeopleRequest{Parent: "policies/aup/campaign", OrderBy: "acknowledge_time"}, "INVALID_ARGUMENT", "order_by"},
			{&riskv1.ListPolicyCampaignPeopleRequest{Parent: "policies/aup/campaign", PageToken: "garbage"}, "PAGE_TOKEN_INVALID", "page_token"},
			{&riskv1.ListPolicyCampaignPeopleRequest{Parent: "policies/aup/campaign", PageSize: -1}, "INVALID_ARGUMENT", "page_size"},
		} {
			_, err := o.comp.ListPolicyCampaignPeople(ctx, c.req)
			testkit.AssertStatus(t, err, codes.InvalidArgument, c.reason, c.field)
		}
		nobody := riskv1.NewComplianceServiceClient(o.ConnAs(t, "users/nobody", "risk.read"))
		if _, err := nobody.ListPolicyCampaignPeople(ctx, &riskv1.ListPolicyCampaignPeopleRequest{Parent: "policies/aup/campaign"}); status.Code(err) != codes.PermissionDenied {
			t.Errorf("list without compliance.read = %v; want PERMISSION_DENIED", err)
		}
	})
}
