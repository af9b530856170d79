// Package civil is calendar dates and months without a time zone, as google.type.Date carries
// them: booking dates, due dates, expiry dates, rate months. Every service uses the same type and
// the same conversions to and from the API.
package civil

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	datepb "google.golang.org/genproto/googleapis/type/date"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors about dates a client can act on. Compare with errors.Is.
var (
	ErrDateInvalid  = fault.New(fault.InvalidArgument, "DATE_INVALID", "the date is not a valid calendar date")
	ErrMonthInvalid = fault.New(fault.InvalidArgument, "MONTH_INVALID", "the month must be a valid calendar month")
)

// Date is a calendar date without a time zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// Month is a calendar month, e.g. 2027-03.
type Month struct {
	Year  int
	Month time.Month
}

// FromProto is a request's google.type.Date; the zero Date when unset. Validity is checked
// where the date is used (Valid).
func FromProto(d *datepb.Date) Date {
	if d == nil {
		return Date{}
	}
	return Date{Year: int(d.GetYear()), Month: time.Month(d.GetMonth()), Day: int(d.GetDay())}
}

// FromProtoField is a date in field of a request: the zero Date when unset (a required date is
// checked where it is used), ErrDateInvalid on field when it is no calendar date.
func FromProtoField(d *datepb.Date, field string) (Date, error) {
	v := FromProto(d)
	if d != nil && !v.Valid() {
		return Date{}, ErrDateInvalid.OnField(field, fmt.Sprintf("%s is not a valid calendar date", field[strings.LastIndex(field, ".")+1:]))
	}
	return v, nil
}

// ToProto is d as google.type.Date; nil for the zero Date.
func ToProto(d Date) *datepb.Date {
	if d.IsZero() {
		return nil
	}
	return &datepb.Date{Year: int32(d.Year), Month: int32(d.Month), Day: int32(d.Day)}
}

// DateOf is the calendar date of t in t's location; pass UTC times for server dates.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// Valid reports whether d is a real calendar date in the years 1–9999.
func (d Date) Valid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < time.January || d.Month > time.December || d.Day < 1 {
		return false
	}
	return d.Day <= time.Date(d.Year, d.Month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// Time is midnight UTC of d.
func (d Date) Time() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC) }

// AddDays is the date n days after d (before it for a negative n).
func (d Date) AddDays(n int) Date { return DateOf(d.Time().AddDate(0, 0, n)) }

// AddMonths is the date n calendar months after d (before it for a negative n), on the same day
// of the month or, when the month reached is shorter, on its last day: 31 January + 1 month is
// the last day of February, 29 February 2028 + 12 months is 28 February 2029. A term or a
// validity so computed never runs past its length.
func (d Date) AddMonths(n int) Date {
	first := time.Date(d.Year, d.Month, 1, 0, 0, 0, 0, time.UTC).AddDate(0, n, 0)
	last := first.AddDate(0, 1, -1).Day()
	return Date{Year: first.Year(), Month: first.Month(), Day: min(d.Day, last)}
}

// Before reports whether d is earlier than o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return sign(d.Year - o.Year)
	case d.Month != o.Month:
		return sign(int(d.Month - o.Month))
	}
	return sign(d.Day - o.Day)
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}

// IsZero reports whether d is unset.
func (d Date) IsZero() bool { return d == Date{} }

// String formats d as "2027-03-15".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// ParseDate parses "2027-03-15".
func ParseDate(s string) (Date, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) != 4 || len(parts[1]) != 2 || len(parts[2]) != 2 ||
		!allDigits(parts[0]) || !allDigits(parts[1]) || !allDigits(parts[2]) {
		return Date{}, ErrDateInvalid.With("date", s)
	}
	y, _ := strconv.Atoi(parts[0])
	m, _ := strconv.Atoi(parts[1])
	dd, _ := strconv.Atoi(parts[2])
	d := Date{Year: y, Month: time.Month(m), Day: dd}
	if !d.Valid() {
		return Date{}, ErrDateInvalid.With("date", s)
	}
	return d, nil
}

// allDigits reports whether s is made of ASCII digits only.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseMonth parses "2027-03".
func ParseMonth(s string) (Month, error) {
	y, m, ok := strings.Cut(s, "-")
	if !ok || len(y) != 4 || len(m) != 2 || !allDigits(y) || !allDigits(m) {
		return Month{}, ErrMonthInvalid.With("month", s)
	}
	yi, _ := strconv.Atoi(y)
	mi, _ := strconv.Atoi(m)
	mo := Month{Year: yi, Month: time.Month(mi)}
	if !mo.Valid() {
		return Month{}, ErrMonthInvalid.With("month", s)
	}
	return mo, nil
}

// Valid reports whether the month is a real month of the years 1–9999.
func (m Month) Valid() bool {
	return m.Year >= 1 && m.Year <= 9999 && m.Month >= time.January && m.Month <= time.December
}

// String formats the month as "2027-03".
func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// MonthOf is the calendar month of a date.
func MonthOf(d Date) Month { return Month{Year: d.Year, Month: d.Month} }
