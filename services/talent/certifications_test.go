package talent_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// certsNow is the tests' today: 4 December 2026, mid-morning.
var certsNow = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func utcDay(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func ymd(y, m, d int32) *date.Date { return &date.Date{Year: y, Month: m, Day: d} }

// certEnv is the talent service with its clock, and its scheduler's, at certsNow, the teams
// platform and data, ada in platform and bob in data.
type certEnv struct {
	*env
	clock *clock.Fake
}

func startCerts(t *testing.T, db testenv.Database) *certEnv {
	t.Helper()
	fake := clock.NewFake(certsNow)
	e := &certEnv{env: start(t, db, func(o *host.Options) {
		o.Clock = fake
		o.Scheduler = scheduler.Settings{PollInterval: 50 * time.Millisecond}
	}), clock: fake}
	ctx := context.Background()
	for _, id := range []string{"platform", "data"} {
		if _, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: id, Team: &talentv1.Team{DisplayName: id}}); err != nil {
			t.Fatal(err)
		}
	}
	for id, team := range map[string]string{"ada": "teams/platform", "bob": "teams/data"} {
		if _, err := e.client.CreatePerson(ctx, newPerson(id, team, 0)); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *certEnv) certify(t *testing.T, person, id string, c *talentv1.Certification) *talentv1.Certification {
	t.Helper()
	out, err := e.client.CreateCertification(context.Background(), &talentv1.CreateCertificationRequest{
		Parent: person, CertificationId: id, Certification: c})
	if err != nil {
		t.Fatalf("create certification %s of %s: %v", id, person, err)
	}
	return out
}

func aws(expire *date.Date) *talentv1.Certification {
	return &talentv1.Certification{DisplayName: "AWS Solutions Architect", Issuer: "Amazon Web Services",
		ObtainDate: ymd(2025, 1, 10), ExpireDate: expire}
}

// certNames lists the names of the certifications a list call answers.
func certNames(t *testing.T, l *talentv1.ListCertificationsResponse, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range l.GetCertifications() {
		out = append(out, c.GetName())
	}
	return strings.Join(out, " ")
}

// TestCertifications: a person's certifications are created, read, listed with the filters a
// manager uses (expiring before a day, of a team), updated with an etag and deleted, each with
// its event; bad input names the field; a person who left gains none.
func TestCertifications(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startCerts(t, db)
		ctx := context.Background()
		a := e.certify(t, "people/ada", "aws", aws(ymd(2027, 3, 31)))
		if a.GetName() != "people/ada/certifications/aws" || a.GetExpired() || a.GetEtag() == "" || a.GetCreateTime() == nil ||
			a.GetIssuer() != "Amazon Web Services" || a.GetExpireDate().GetMonth() != 3 {
			t.Errorf("created %v", a)
		}
		e.certify(t, "people/ada", "ckad", &talentv1.Certification{DisplayName: "CKAD", Issuer: "CNCF", ObtainDate: ymd(2024, 5, 2)})
		e.certify(t, "people/bob", "gcp", &talentv1.Certification{DisplayName: "GCP Data Engineer", Issuer: "Google",
			ObtainDate: ymd(2023, 1, 15), ExpireDate: ymd(2027, 1, 15)})
		// One that expired already is recorded as such.
		old := e.certify(t, "people/bob", "itil", &talentv1.Certification{DisplayName: "ITIL 4", Issuer: "Axelos",
			ObtainDate: ymd(2021, 6, 1), ExpireDate: ymd(2024, 6, 1)})
		if !old.GetExpired() {
			t.Errorf("a certification that expired in 2024 = %v; want expired", old)
		}

		// Bad input, each naming its field.
		_, err := e.client.CreateCertification(ctx, &talentv1.CreateCertificationRequest{Parent: "people/ada",
			Certification: &talentv1.Certification{DisplayName: " "}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "certification.display_name", "certification.issuer", "certification.obtain_date")
		_, err = e.client.CreateCertification(ctx, &talentv1.CreateCertificationRequest{Parent: "people/ada",
			Certification: &talentv1.Certification{DisplayName: "Future", Issuer: "X", ObtainDate: ymd(2026, 12, 5)}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "certification.obtain_date")
		_, err = e.client.CreateCertification(ctx, &talentv1.CreateCertificationRequest{Parent: "people/ada",
			Certification: &talentv1.Certification{DisplayName: "Backwards", Issuer: "X", ObtainDate: ymd(2025, 1, 1), ExpireDate: ymd(2025, 1, 1)}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "certification.expire_date")
		_, err = e.client.CreateCertification(ctx, &talentv1.CreateCertificationRequest{Parent: "people/ada",
			Certification: &talentv1.Certification{DisplayName: "Odd", Issuer: "X", ObtainDate: ymd(2025, 2, 30)}})
		e.AssertStatus(t, err, codes.InvalidArgument, "DATE_INVALID", "certification.obtain_date")
		_, err = e.client.CreateCertification(ctx, &talentv1.CreateCertificationRequest{Parent: "people/nobody", Certification: aws(nil)})
		e.AssertStatus(t, err, codes.NotFound, "PERSON_NOT_FOUND")
		_, err = e.client.CreateCertification(ctx, &talentv1.CreateCertificationRequest{Parent: "people/ada", CertificationId: "aws", Certification: aws(nil)})
		e.AssertStatus(t, err, codes.AlreadyExists, "CERTIFICATION_ALREADY_EXISTS")

		// The skill a certification evidences must be in the taxonomy.
		e.taxonomy(t)
		cka := &talentv1.Certification{DisplayName: "CKA", Issuer: "CNCF", ObtainDate: ymd(2025, 6, 1), Skill: "skills/kubernetes"}
		if k := e.certify(t, "people/ada", "cka", cka); k.GetSkill() != "skills/kubernetes" {
			t.Errorf("created with a skill = %v", k)
		}
		cka.Skill = "skills/cobol"
		_, err = e.client.CreateCertification(ctx, &talentv1.CreateCertificationRequest{Parent: "people/ada", Certification: cka})
		e.AssertStatus(t, err, codes.InvalidArgument, "SKILL_NOT_FOUND", "certification.skill")
		_, err = e.client.UpdateCertification(ctx, &talentv1.UpdateCertificationRequest{
			Certification: &talentv1.Certification{Name: "people/ada/certifications/cka", Skill: "skills/cobol"},
			UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"skill"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "SKILL_NOT_FOUND", "certification.skill")
		l, err := e.client.ListCertifications(ctx, &talentv1.ListCertificationsRequest{Parent: "people/-", Filter: `skill = "skills/kubernetes"`})
		if got := certNames(t, l, err); got != "people/ada/certifications/cka" {
			t.Errorf("certifications evidencing kubernetes = %s", got)
		}
		// A skill a certification evidences stays in the taxonomy until the certification goes.
		_, err = e.client.DeleteSkill(ctx, &talentv1.DeleteSkillRequest{Name: "skills/kubernetes"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "SKILL_IN_USE")
		if _, err := e.client.DeleteCertification(ctx, &talentv1.DeleteCertificationRequest{Name: "people/ada/certifications/cka"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.DeleteSkill(ctx, &talentv1.DeleteSkillRequest{Name: "skills/kubernetes"}); err != nil {
			t.Errorf("delete the skill no certification evidences any more: %v", err)
		}

		got, err := e.client.GetCertification(ctx, &talentv1.GetCertificationRequest{Name: a.GetName()})
		if err != nil || got.GetEtag() != a.GetEtag() || got.GetDisplayName() != a.GetDisplayName() {
			t.Errorf("get = %v, %v; want %v", got, err, a)
		}
		_, err = e.client.GetCertification(ctx, &talentv1.GetCertificationRequest{Name: "people/ada/certifications/none"})
		e.AssertStatus(t, err, codes.NotFound, "CERTIFICATION_NOT_FOUND")

		// Lists: one person's, everyone's expiring before a day, those of a team, those that do
		// not expire, ordered by expiry.
		for _, c := range []struct {
			parent, filter, order, want string
		}{
			{"people/ada", "", "", "people/ada/certifications/aws people/ada/certifications/ckad"},
			{"people/-", `expire_date < "2027-06-01"`, "expire_date", "people/bob/certifications/itil people/bob/certifications/gcp people/ada/certifications/aws"},
			{"people/-", `expire_date >= "2026-12-04" AND expire_date < "2027-06-01" AND team = "teams/platform"`, "", "people/ada/certifications/aws"},
			{"people/-", `expire_date = null`, "", "people/ada/certifications/ckad"},
			{"people/-", `issuer = "Google" OR display_name = "ITIL 4"`, "display_name desc", "people/bob/certifications/itil people/bob/certifications/gcp"},
			{"people/bob", `obtain_date > "2022-01-01"`, "", "people/bob/certifications/gcp"},
		} {
			l, err := e.client.ListCertifications(ctx, &talentv1.ListCertificationsRequest{Parent: c.parent, Filter: c.filter, OrderBy: c.order})
			if got := certNames(t, l, err); got != c.want {
				t.Errorf("list %s %q %q = %s; want %s", c.parent, c.filter, c.order, got, c.want)
			}
		}
		_, err = e.client.ListCertifications(ctx, &talentv1.ListCertificationsRequest{Parent: "people/-", Filter: `salary > 1`})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter")

		// Updates: a stale etag is ABORTED; a change of expiry date applies and is told.
		upd, err := e.client.UpdateCertification(ctx, &talentv1.UpdateCertificationRequest{
			Certification: &talentv1.Certification{Name: a.GetName(), ExpireDate: ymd(2027, 4, 30), CredentialId: "AWS-123", Etag: a.GetEtag()},
			UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"expire_date", "credential_id"}}})
		if err != nil || upd.GetExpireDate().GetMonth() != 4 || upd.GetCredentialId() != "AWS-123" || upd.GetEtag() == a.GetEtag() {
			t.Fatalf("update = %v, %v", upd, err)
		}
		_, err = e.client.UpdateCertification(ctx, &talentv1.UpdateCertificationRequest{
			Certification: &talentv1.Certification{Name: a.GetName(), DisplayName: "Stale", Etag: a.GetEtag()},
			UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		e.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		_, err = e.client.UpdateCertification(ctx, &talentv1.UpdateCertificationRequest{
			Certification: &talentv1.Certification{Name: a.GetName(), ExpireDate: ymd(2024, 1, 1)},
			UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"expire_date"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "certification.expire_date")
		updated := events(t, e.db, ".certification.updated", a.GetName(), func() *talentv1.CertificationUpdated { return new(talentv1.CertificationUpdated) })
		if len(updated) != 1 || updated[0].GetVersion() != 2 || !slices.Equal(updated[0].GetChangedFields().GetPaths(), []string{"credential_id", "expire_date"}) {
			t.Errorf("certification.updated events = %v", updated)
		}

		// Deleted: gone, told once.
		if _, err := e.client.DeleteCertification(ctx, &talentv1.DeleteCertificationRequest{Name: "people/ada/certifications/ckad", Etag: "W/\"stale\""}); err == nil {
			t.Error("delete with a wrong etag succeeded")
		}
		if _, err := e.client.DeleteCertification(ctx, &talentv1.DeleteCertificationRequest{Name: "people/ada/certifications/ckad"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetCertification(ctx, &talentv1.GetCertificationRequest{Name: "people/ada/certifications/ckad"})
		e.AssertStatus(t, err, codes.NotFound, "CERTIFICATION_NOT_FOUND")
		if n := len(events(t, e.db, ".certification.created", "people/ada/certifications/ckad", func() *talentv1.CertificationCreated { return new(talentv1.CertificationCreated) })); n != 1 {
			t.Errorf("%d certification.created events; want 1", n)
		}
		if n := len(events(t, e.db, ".certification.deleted", "people/ada/certifications/ckad", func() *talentv1.CertificationDeleted { return new(talentv1.CertificationDeleted) })); n != 1 {
			t.Errorf("%d certification.deleted events; want 1", n)
		}

		// A person who left gains and changes none; what they held stays, and can be deleted.
		if _, err := e.client.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: "people/bob"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.CreateCertification(ctx, &talentv1.CreateCertificationRequest{Parent: "people/bob", Certification: aws(nil)})
		e.AssertStatus(t, err, codes.FailedPrecondition, "PERSON_LEFT")
		_, err = e.client.UpdateCertification(ctx, &talentv1.UpdateCertificationRequest{
			Certification: &talentv1.Certification{Name: "people/bob/certifications/gcp", Issuer: "Alphabet"},
			UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"issuer"}}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "PERSON_LEFT")
		if _, err := e.client.DeleteCertification(ctx, &talentv1.DeleteCertificationRequest{Name: "people/bob/certifications/itil"}); err != nil {
			t.Error(err)
		}
	})
}

// pendingReminders returns the due times of the unfired reminders of the certification named
// name, by key suffix ("expiring:90").
func pendingReminders(t *testing.T, e *certEnv, name string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	keys := testkit.Column[string](t, e.db, `SELECT item_key FROM scheduled_items WHERE resource_name = $1 AND fired_at IS NULL ORDER BY item_key`, name)
	dues := testkit.Column[time.Time](t, e.db, `SELECT due_at FROM scheduled_items WHERE resource_name = $1 AND fired_at IS NULL ORDER BY item_key`, name)
	for i, k := range keys {
		out[strings.TrimPrefix(k, name+":")] = dues[i].UTC()
	}
	return out
}

// waitAsleep waits until the service's scheduler has done what was due and sleeps until due.
func waitAsleep(t *testing.T, c *clock.Fake, due time.Time) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if !slices.ContainsFunc(c.Waits(), due.Equal) {
			return fmt.Errorf("the scheduler is not asleep until %v (waits: %v)", due, c.Waits())
		}
		return nil
	})
}

// waitEvents waits until the outbox holds n events about resource whose subject ends with suffix.
func waitEvents(t *testing.T, e *certEnv, suffix, resource string, n int) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		got := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1 AND resource_name = $2`, "%"+suffix, resource)[0]
		if got != n {
			return fmt.Errorf("%d %s events about %s; want %d", got, suffix, resource, n)
		}
		return nil
	})
}

// TestCertificationReminders moves the clock over a certification's expiry: expiring at 90 and
// 30 days and expired on the day, each once at the start of its day; an update moves the
// reminders, clearing the expiry date or deleting the certification cancels them, and so does
// the holder leaving.
func TestCertificationReminders(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startCerts(t, db)
		ctx := context.Background()
		const name = "people/ada/certifications/aws"
		a := e.certify(t, "people/ada", "aws", aws(ymd(2027, 3, 31)))
		want := map[string]time.Time{"expiring:90": utcDay(2026, 12, 31), "expiring:30": utcDay(2027, 3, 1), "expiring:0": utcDay(2027, 3, 31)}
		if got := pendingReminders(t, e, name); !mapsEqual(got, want) {
			t.Fatalf("reminders = %v; want %v", got, want)
		}
		// Moving the expiry date to 2027-04-30 moves them.
		if _, err := e.client.UpdateCertification(ctx, &talentv1.UpdateCertificationRequest{
			Certification: &talentv1.Certification{Name: name, ExpireDate: ymd(2027, 4, 30), Etag: a.GetEtag()},
			UpdateMask:    &fieldmaskpb.FieldMask{Paths: []string{"expire_date"}}}); err != nil {
			t.Fatal(err)
		}
		jan30, mar31, apr30 := utcDay(2027, 1, 30), utcDay(2027, 3, 31), utcDay(2027, 4, 30)
		want = map[string]time.Time{"expiring:90": jan30, "expiring:30": mar31, "expiring:0": apr30}
		if got := pendingReminders(t, e, name); !mapsEqual(got, want) {
			t.Fatalf("reminders after the update = %v; want %v", got, want)
		}
		// One expiring in 47 days is too late for its 90-day reminder.
		e.certify(t, "people/ada", "soon", &talentv1.Certification{DisplayName: "Soon", Issuer: "X", ObtainDate: ymd(2024, 1, 1), ExpireDate: ymd(2027, 1, 20)})
		if got := pendingReminders(t, e, "people/ada/certifications/soon"); len(got) != 2 || !got["expiring:30"].Equal(utcDay(2026, 12, 21)) {
			t.Errorf("reminders of a certification expiring in 47 days = %v; want the 30-day one and the day", got)
		}
		// Cleared expiry date, deletion, and the holder leaving cancel the reminders.
		k8s := e.certify(t, "people/ada", "k8s", &talentv1.Certification{DisplayName: "CKA", Issuer: "CNCF", ObtainDate: ymd(2025, 1, 1), ExpireDate: ymd(2028, 1, 1)})
		if _, err := e.client.UpdateCertification(ctx, &talentv1.UpdateCertificationRequest{
			Certification: &talentv1.Certification{Name: k8s.GetName()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"expire_date"}}}); err != nil {
			t.Fatal(err)
		}
		e.certify(t, "people/ada", "gone", &talentv1.Certification{DisplayName: "Gone", Issuer: "X", ObtainDate: ymd(2025, 1, 1), ExpireDate: ymd(2028, 1, 1)})
		if _, err := e.client.DeleteCertification(ctx, &talentv1.DeleteCertificationRequest{Name: "people/ada/certifications/gone"}); err != nil {
			t.Fatal(err)
		}
		e.certify(t, "people/bob", "gcp", &talentv1.Certification{DisplayName: "GCP", Issuer: "Google", ObtainDate: ymd(2025, 1, 1), ExpireDate: ymd(2027, 6, 1)})
		if got := pendingReminders(t, e, "people/bob/certifications/gcp"); len(got) != 3 {
			t.Fatalf("bob's reminders = %v; want 3", got)
		}
		if _, err := e.client.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: "people/bob"}); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{k8s.GetName(), "people/ada/certifications/gone", "people/bob/certifications/gcp"} {
			if got := pendingReminders(t, e, n); len(got) != 0 {
				t.Errorf("reminders of %s = %v; want none", n, got)
			}
		}
		if _, err := e.client.DeleteCertification(ctx, &talentv1.DeleteCertificationRequest{Name: "people/ada/certifications/soon"}); err != nil {
			t.Fatal(err)
		}

		// Nothing fires before its day: the old 31 December date no longer applies.
		waitAsleep(t, e.clock, jan30)
		e.clock.Set(utcDay(2027, 1, 10))
		waitAsleep(t, e.clock, jan30)
		waitEvents(t, e, ".certification.expiring", name, 0)
		// 30 January: 90 days left, once.
		e.clock.Set(jan30)
		waitEvents(t, e, ".certification.expiring", name, 1)
		waitAsleep(t, e.clock, mar31)
		// 31 March, fired 5 hours late (the service was down): 30 days left.
		e.clock.Set(mar31.Add(5 * time.Hour))
		waitEvents(t, e, ".certification.expiring", name, 2)
		waitAsleep(t, e.clock, apr30)
		e.clock.Set(apr30)
		waitEvents(t, e, ".certification.expired", name, 1)
		expiring := events(t, e.db, ".certification.expiring", name, func() *talentv1.CertificationExpiring { return new(talentv1.CertificationExpiring) })
		expired := events(t, e.db, ".certification.expired", name, func() *talentv1.CertificationExpired { return new(talentv1.CertificationExpired) })
		if expiring[0].GetDaysLeft() != 90 || expiring[1].GetDaysLeft() != 30 || expiring[0].GetCertification().GetExpired() ||
			expiring[0].GetCertification().GetExpireDate().GetMonth() != 4 {
			t.Errorf("expiring events = %v", expiring)
		}
		if c := expired[0].GetCertification(); !c.GetExpired() || c.GetName() != name ||
			!(expiring[0].GetVersion() < expiring[1].GetVersion() && expiring[1].GetVersion() < expired[0].GetVersion()) {
			t.Errorf("expired event = %v after %v", expired[0], expiring)
		}
		// Later days bring nothing more; the certification reads as expired.
		e.clock.Set(utcDay(2027, 6, 1))
		if n := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE '%.certification.expir%'`)[0]; n != 3 {
			t.Errorf("%d expiry events in all; want exactly 3", n)
		}
		if got, err := e.client.GetCertification(ctx, &talentv1.GetCertificationRequest{Name: name}); err != nil || !got.GetExpired() {
			t.Errorf("get after expiry = %v, %v; want expired", got, err)
		}
	})
}

func mapsEqual(a, b map[string]time.Time) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !b[k].Equal(v) {
			return false
		}
	}
	return true
}
