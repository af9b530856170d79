package talent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// pay is the loaded annual cost the tests record: its digits must appear nowhere a caller
// without talent.compensation can read.
const payUnits = 187654

func newPerson(id, team string, pay int64) *talentv1.CreatePersonRequest {
	p := &talentv1.Person{DisplayName: "Person " + id, Email: id + "@example.com", Title: "Engineer", Level: "L4",
		Team: team, EmploymentType: talentv1.Person_EMPLOYEE, StartDate: &date.Date{Year: 2024, Month: 3, Day: 1}, Location: "Lisbon"}
	if pay > 0 {
		p.LoadedAnnualCost = &money.Money{CurrencyCode: "EUR", Units: pay}
	}
	return &talentv1.CreatePersonRequest{PersonId: id, Person: p}
}

// TestPeopleLifecycle: a person joins, moves and leaves, each with its event; a person who left
// cannot change or manage a team.
func TestPeopleLifecycle(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		for _, id := range []string{"platform", "data"} {
			if _, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: id, Team: &talentv1.Team{DisplayName: id}}); err != nil {
				t.Fatal(err)
			}
		}
		ada, err := e.client.CreatePerson(ctx, newPerson("ada", "teams/platform", 0))
		if err != nil || ada.GetState() != talentv1.Person_ACTIVE {
			t.Fatalf("create = %v, %v", ada, err)
		}
		_, err = e.client.CreatePerson(ctx, newPerson("ghost", "teams/none", 0))
		e.AssertStatus(t, err, codes.InvalidArgument, "TEAM_NOT_FOUND", "person.team")
		_, err = e.client.CreatePerson(ctx, &talentv1.CreatePersonRequest{Person: &talentv1.Person{DisplayName: "x", Team: "teams/platform"}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "person.employment_type", "person.start_date")
		dup := newPerson("ada2", "teams/platform", 0)
		dup.Person.Email = "ada@example.com"
		_, err = e.client.CreatePerson(ctx, dup)
		e.AssertStatus(t, err, codes.AlreadyExists, "PERSON_EMAIL_TAKEN")

		moved, err := e.client.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: ada.GetName(), Team: "teams/data"}})
		if err != nil || moved.GetTeam() != "teams/data" {
			t.Fatalf("move = %v, %v", moved, err)
		}
		mv := events(t, e.db, ".person.moved", "people/ada", func() *talentv1.PersonMoved { return new(talentv1.PersonMoved) })
		if len(mv) != 1 || mv[0].GetFromTeam() != "teams/platform" || mv[0].GetToTeam() != "teams/data" || mv[0].GetVersion() != 2 {
			t.Errorf("person.moved = %v", mv)
		}
		if _, err := e.client.UpdateTeam(ctx, &talentv1.UpdateTeamRequest{Team: &talentv1.Team{Name: "teams/data", Manager: "people/ada"}}); err != nil {
			t.Fatal(err)
		}
		left, err := e.client.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: ada.GetName(), EndDate: &date.Date{Year: 2026, Month: 6, Day: 30}})
		if err != nil || left.GetState() != talentv1.Person_LEFT || left.GetEndDate().GetMonth() != 6 {
			t.Fatalf("leave = %v, %v", left, err)
		}
		_, err = e.client.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: ada.GetName()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "PERSON_LEFT")
		_, err = e.client.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: ada.GetName(), Title: "Lead"}})
		e.AssertStatus(t, err, codes.FailedPrecondition, "PERSON_LEFT")
		_, err = e.client.UpdateTeam(ctx, &talentv1.UpdateTeamRequest{Team: &talentv1.Team{Name: "teams/platform", Manager: "people/ada"}})
		e.AssertStatus(t, err, codes.InvalidArgument, "MANAGER_LEFT", "team.manager")
		for _, ev := range []string{".person.joined", ".person.left"} {
			if n := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1 AND resource_name = 'people/ada'`, "%"+ev)[0]; n != 1 {
				t.Errorf("%d %s events, want 1", n, ev)
			}
		}
		// A team with people (even LEFT ones) cannot be deleted.
		_, err = e.client.DeleteTeam(ctx, &talentv1.DeleteTeamRequest{Name: "teams/data"})
		e.AssertStatus(t, err, codes.FailedPrecondition, "TEAM_NOT_EMPTY")
	})
}

// TestPayIsOnlyForCompensation is the security test of pay: a caller without
// talent.compensation never sees a person's loaded annual cost — not in Get, List, events,
// audit records or error messages — and may neither filter nor order on it, nor set it.
func TestPayIsOnlyForCompensation(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		hr := e.as(t, "apiKeys/hr", "talent.read", "talent.write", "talent.compensation", "operations.read")
		manager := e.as(t, "apiKeys/manager", "talent.read", "talent.write", "operations.read")
		if _, err := hr.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "platform", Team: &talentv1.Team{DisplayName: "Platform"}}); err != nil {
			t.Fatal(err)
		}
		created, err := hr.CreatePerson(ctx, newPerson("ada", "teams/platform", payUnits))
		if err != nil || created.GetLoadedAnnualCost().GetUnits() != payUnits {
			t.Fatalf("HR create = %v, %v", created, err)
		}
		if _, err := hr.CreatePerson(ctx, newPerson("bob", "teams/platform", 90000)); err != nil {
			t.Fatal(err)
		}
		// HR sees pay, filters and orders on it.
		if p, err := hr.GetPerson(ctx, &talentv1.GetPersonRequest{Name: "people/ada"}); err != nil || p.GetLoadedAnnualCost().GetUnits() != payUnits {
			t.Errorf("HR get = %v, %v", p, err)
		}
		l, err := hr.ListPeople(ctx, &talentv1.ListPeopleRequest{Filter: "loaded_annual_cost.units > 100000", OrderBy: "loaded_annual_cost.units desc"})
		if err != nil || len(l.GetPeople()) != 1 || l.GetPeople()[0].GetName() != "people/ada" {
			t.Errorf("HR filter on pay = %v, %v", l, err)
		}

		// The manager sees people without pay: absent, not zero.
		p, err := manager.GetPerson(ctx, &talentv1.GetPersonRequest{Name: "people/ada"})
		if err != nil || p.LoadedAnnualCost != nil || p.GetDisplayName() == "" {
			t.Errorf("manager get = %v, %v", p, err)
		}
		l, err = manager.ListPeople(ctx, &talentv1.ListPeopleRequest{})
		if err != nil || len(l.GetPeople()) != 2 {
			t.Fatalf("manager list = %v, %v", l, err)
		}
		for _, p := range l.GetPeople() {
			if p.LoadedAnnualCost != nil {
				t.Errorf("manager list shows pay of %s", p.GetName())
			}
		}
		// … may not filter or order on it, in any spelling the filter language allows …
		for _, c := range []struct{ filter, order, field string }{
			{"loaded_annual_cost.units > 100000", "", "filter"},
			{`loaded_annual_cost.currency_code = "EUR"`, "", "filter"},
			{"NOT (loaded_annual_cost.units < 1)", "", "filter"},
			{"", "loaded_annual_cost.units desc", "order_by"},
		} {
			_, err := manager.ListPeople(ctx, &talentv1.ListPeopleRequest{Filter: c.filter, OrderBy: c.order})
			e.AssertStatus(t, err, codes.InvalidArgument, "COMPENSATION_FIELD", c.field)
		}
		// … though a name that merely contains the words is fine.
		if _, err := manager.ListPeople(ctx, &talentv1.ListPeopleRequest{Filter: `display_name = "loaded_annual_cost"`}); err != nil {
			t.Errorf("a quoted literal is no field: %v", err)
		}
		// … nor set or clear it.
		withPay := newPerson("eve", "teams/platform", 1)
		_, err = manager.CreatePerson(ctx, withPay)
		e.AssertStatus(t, err, codes.PermissionDenied, "FIELD_WRITE_DENIED")
		_, err = manager.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: "people/ada"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"loaded_annual_cost"}}})
		e.AssertStatus(t, err, codes.PermissionDenied, "FIELD_WRITE_DENIED")

		// A raise by HR, a title change by the manager: the manager's answer has no pay either.
		if _, err := hr.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: "people/ada",
			LoadedAnnualCost: &money.Money{CurrencyCode: "EUR", Units: payUnits + 1}}}); err != nil {
			t.Fatal(err)
		}
		u, err := manager.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: "people/ada", Title: "Staff engineer"}})
		if err != nil || u.LoadedAnnualCost != nil {
			t.Errorf("manager update = %v, %v", u, err)
		}
		if _, err := manager.UpdatePerson(ctx, &talentv1.UpdatePersonRequest{Person: &talentv1.Person{Name: "people/ada", Team: "teams/platform"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := hr.LeavePerson(ctx, &talentv1.LeavePersonRequest{Name: "people/bob"}); err != nil {
			t.Fatal(err)
		}

		// Error messages never carry it: an invalid amount names the field only.
		bad := newPerson("neg", "teams/platform", 0)
		bad.Person.LoadedAnnualCost = &money.Money{CurrencyCode: "EUR", Units: payUnits, Nanos: 1}
		_, err = hr.CreatePerson(ctx, bad)
		if status.Code(err) != codes.InvalidArgument || strings.Contains(err.Error(), "187654") {
			t.Errorf("an invalid pay = %v; want INVALID_ARGUMENT without the amount", err)
		}

		// Events: no payload carries pay.
		payloads := testkit.Column[string](t, e.db, `SELECT payload FROM outbox`)
		if len(payloads) < 5 {
			t.Fatalf("%d events", len(payloads))
		}
		for _, pl := range payloads {
			if strings.Contains(pl, "loadedAnnualCost") || strings.Contains(pl, "187654") || strings.Contains(pl, "187655") || strings.Contains(pl, "90000") {
				t.Errorf("an event carries pay: %s", pl)
			}
		}
		// Audit records, read by an operator (even one holding talent.compensation): no pay.
		for _, c := range []*operationsv1.ListAuditRecordsRequest{{Parent: "services/talent", PageSize: 1000}} {
			for _, caller := range []string{"manager", "hr"} {
				conn := e.ConnAs(t, "apiKeys/"+caller, "operations.read")
				if caller == "hr" {
					conn = e.ConnAs(t, "apiKeys/"+caller, "operations.read", "talent.compensation")
				}
				// Records are listed once sealed, just after their commit: wait for the six
				// changes (a team, two people, a raise, a title, a leave).
				var res *operationsv1.ListAuditRecordsResponse
				testkit.Eventually(t, 10*time.Second, func() error {
					var err error
					res, err = operationsv1.NewOperationsServiceClient(conn).ListAuditRecords(ctx, c)
					if err == nil && len(res.GetAuditRecords()) < 6 {
						err = fmt.Errorf("%d audit records", len(res.GetAuditRecords()))
					}
					return err
				})
				for _, r := range res.GetAuditRecords() {
					for _, ch := range r.GetChanges() {
						if strings.HasPrefix(ch.GetPath(), "loaded_annual_cost") || strings.Contains(ch.String(), "187654") {
							t.Errorf("audit record %s shows pay: %v", r.GetName(), ch)
						}
					}
				}
			}
		}
		raw := testkit.Column[string](t, e.db, `SELECT changes FROM audit_records`)
		for _, r := range raw {
			if strings.Contains(r, "187654") || strings.Contains(r, "187655") || strings.Contains(r, "loaded_annual_cost") {
				t.Errorf("a stored audit record holds pay: %s", r)
			}
		}
	})
}

// TestPayFilterCountsUnitsOfEachCurrency: a filter and an order on pay's units compare whole units
// of each person's own currency — yen are units, a dinar has a thousand fils — not a hundredth of
// the minor units.
func TestPayFilterCountsUnitsOfEachCurrency(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		ctx := context.Background()
		if _, err := e.client.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "platform", Team: &talentv1.Team{DisplayName: "Platform"}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []struct {
			id  string
			pay *money.Money
		}{
			{"eur", &money.Money{CurrencyCode: "EUR", Units: 150_000}},
			{"jpy", &money.Money{CurrencyCode: "JPY", Units: 12_000_000}},
			{"bhd", &money.Money{CurrencyCode: "BHD", Units: 60_000, Nanos: 500_000_000}},
		} {
			req := newPerson(p.id, "teams/platform", 0)
			req.Person.LoadedAnnualCost = p.pay
			if _, err := e.client.CreatePerson(ctx, req); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			filter string
			want   []string
		}{
			{"loaded_annual_cost.units > 1000000", []string{"people/jpy"}},
			{"loaded_annual_cost.units = 60000", []string{"people/bhd"}},
			{"loaded_annual_cost.units >= 150000", []string{"people/eur", "people/jpy"}},
			{"loaded_annual_cost.units < 100000", []string{"people/bhd"}},
		} {
			l, err := e.client.ListPeople(ctx, &talentv1.ListPeopleRequest{Filter: c.filter})
			if err != nil {
				t.Errorf("%s: %v", c.filter, err)
				continue
			}
			var got []string
			for _, p := range l.GetPeople() {
				got = append(got, p.GetName())
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("%s = %v; want %v", c.filter, got, c.want)
			}
		}
		// The order follows the same units, page after page.
		var got []string
		token := ""
		for {
			l, err := e.client.ListPeople(ctx, &talentv1.ListPeopleRequest{OrderBy: "loaded_annual_cost.units desc", PageSize: 1, PageToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range l.GetPeople() {
				got = append(got, p.GetName())
			}
			if token = l.GetNextPageToken(); token == "" {
				break
			}
		}
		if strings.Join(got, " ") != "people/jpy people/eur people/bhd" {
			t.Errorf("ordered by units, descending = %v", got)
		}
	})
}
