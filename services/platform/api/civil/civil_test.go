package civil

import (
	"errors"
	"testing"
	"time"

	datepb "google.golang.org/genproto/googleapis/type/date"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

func date(y int, m time.Month, d int) Date { return Date{Year: y, Month: m, Day: d} }

func TestDates(t *testing.T) {
	if d := DateOf(time.Date(2027, 3, 15, 23, 59, 0, 0, time.UTC)); d != date(2027, 3, 15) || d.String() != "2027-03-15" {
		t.Errorf("DateOf = %v", d)
	}
	for d, valid := range map[Date]bool{
		date(2028, 2, 29): true, date(2027, 2, 29): false, date(2027, 4, 31): false, date(2027, 13, 1): false,
		date(2027, 1, 0): false, {}: false, date(2027, 12, 31): true,
	} {
		if d.Valid() != valid {
			t.Errorf("%v.Valid() = %v", d, !valid)
		}
	}
	if d, err := ParseDate("2027-03-15"); err != nil || d != date(2027, 3, 15) {
		t.Errorf("ParseDate = %v %v", d, err)
	}
	if _, err := ParseDate("2027-02-30"); !errors.Is(err, ErrDateInvalid) {
		t.Errorf("ParseDate(2027-02-30) err = %v", err)
	}
	if !date(2026, 12, 31).Before(date(2027, 1, 1)) || date(2027, 1, 2).Before(date(2027, 1, 1)) {
		t.Error("Before")
	}
}

func TestMonths(t *testing.T) {
	m, err := ParseMonth("2027-03")
	if err != nil || m != (Month{Year: 2027, Month: time.March}) || m.String() != "2027-03" || MonthOf(date(2027, 3, 31)) != m {
		t.Errorf("ParseMonth = %v, %v", m, err)
	}
	for _, bad := range []string{"2027-3", "2027-13", "2027-00", "27-03", "2027/03", ""} {
		if _, err := ParseMonth(bad); !errors.Is(err, ErrMonthInvalid) {
			t.Errorf("ParseMonth(%q) err = %v", bad, err)
		}
	}
}

func TestProto(t *testing.T) {
	d := date(2027, 3, 15)
	if got := FromProto(ToProto(d)); got != d {
		t.Errorf("round trip of %v = %v", d, got)
	}
	if ToProto(Date{}) != nil || !FromProto(nil).IsZero() {
		t.Error("the zero date is an unset google.type.Date")
	}
}

func TestFromProtoField(t *testing.T) {
	if d, err := FromProtoField(nil, "attestation.issue_date"); err != nil || !d.IsZero() {
		t.Errorf("FromProtoField(nil) = %v, %v; want the zero date", d, err)
	}
	if d, err := FromProtoField(&datepb.Date{Year: 2028, Month: 2, Day: 29}, "attestation.issue_date"); err != nil || d != date(2028, 2, 29) {
		t.Errorf("FromProtoField(2028-02-29) = %v, %v", d, err)
	}
	_, err := FromProtoField(&datepb.Date{Year: 2027, Month: 2, Day: 29}, "attestation.issue_date")
	fe := fault.As(err)
	if !errors.Is(err, ErrDateInvalid) || fe == nil || len(fe.Violations) != 1 || fe.Violations[0].Field != "attestation.issue_date" {
		t.Errorf("FromProtoField(2027-02-29) = %v; want DATE_INVALID on attestation.issue_date", err)
	}
}

func TestAddDays(t *testing.T) {
	for _, c := range []struct {
		d    Date
		n    int
		want Date
	}{
		{date(2027, 3, 1), -60, date(2026, 12, 31)},
		{date(2028, 2, 28), 1, date(2028, 2, 29)},
		{date(2027, 12, 31), 1, date(2028, 1, 1)},
		{date(2027, 5, 10), 0, date(2027, 5, 10)},
	} {
		if got := c.d.AddDays(c.n); got != c.want {
			t.Errorf("%v.AddDays(%d) = %v; want %v", c.d, c.n, got, c.want)
		}
	}
}

func TestAddMonths(t *testing.T) {
	for _, c := range []struct {
		d    Date
		n    int
		want Date
	}{
		{date(2027, 1, 31), 1, date(2027, 2, 28)},
		{date(2028, 1, 31), 1, date(2028, 2, 29)},
		{date(2028, 2, 29), 12, date(2029, 2, 28)},
		{date(2027, 1, 1), 12, date(2028, 1, 1)},
		{date(2027, 3, 31), -1, date(2027, 2, 28)},
		{date(2027, 11, 15), 3, date(2028, 2, 15)},
		{date(2027, 5, 10), 0, date(2027, 5, 10)},
	} {
		if got := c.d.AddMonths(c.n); got != c.want {
			t.Errorf("%v.AddMonths(%d) = %v; want %v", c.d, c.n, got, c.want)
		}
	}
}
