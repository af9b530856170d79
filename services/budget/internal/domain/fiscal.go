package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Periods and quarters of a fiscal year.
const (
	Periods  = 12
	Quarters = 4
)

// Calendar is a fiscal calendar: the year starts on the first day of StartMonth and is named
// after the calendar year in which it ends (start month 4: FY2027 = 2026-04-01 … 2027-03-31).
// A zero StartMonth means January.
type Calendar struct {
	StartMonth time.Month
}

// Calendar is the budget's fiscal calendar, frozen at creation.
func (b *Budget) Calendar() Calendar { return Calendar{StartMonth: b.StartMonth} }

func (c Calendar) start() time.Month {
	if c.StartMonth < time.January || c.StartMonth > time.December {
		return time.January
	}
	return c.StartMonth
}

// firstMonth is the calendar month of period 1 of fiscal year fy.
func (c Calendar) firstMonth(fy int32) Month {
	if c.start() == time.January {
		return Month{Year: int(fy), Month: time.January}
	}
	return Month{Year: int(fy) - 1, Month: c.start()}
}

// Bounds returns the first and last day of fiscal year fy.
func (c Calendar) Bounds(fy int32) (first, last Date) {
	fm := c.firstMonth(fy)
	t := time.Date(fm.Year, fm.Month, 1, 0, 0, 0, 0, time.UTC)
	return DateOf(t), DateOf(t.AddDate(1, 0, -1))
}

// monthIndex counts months from year 0 so that months can be subtracted.
func monthIndex(m Month) int { return m.Year*12 + int(m.Month) - 1 }

// PeriodOf returns the fiscal period (1–12) of d in fiscal year fy; ok is false when d lies
// outside the year.
func (c Calendar) PeriodOf(fy int32, d Date) (period int, ok bool) {
	i := monthIndex(MonthOf(d)) - monthIndex(c.firstMonth(fy))
	if i < 0 || i >= Periods {
		return 0, false
	}
	return i + 1, true
}

// FiscalYearOf returns the fiscal year containing d.
func (c Calendar) FiscalYearOf(d Date) int32 {
	if c.start() == time.January || d.Month < c.start() {
		return int32(d.Year)
	}
	return int32(d.Year + 1)
}

// PeriodMonth is the calendar month of a period (1–12) of fiscal year fy.
func (c Calendar) PeriodMonth(fy int32, period int) Month {
	i := monthIndex(c.firstMonth(fy)) + period - 1
	return Month{Year: i / 12, Month: time.Month(i%12 + 1)}
}

// Quarter is the fiscal quarter (1–4) of a period (1–12).
func Quarter(period int) int { return (period-1)/3 + 1 }

// Elapsed is the number of periods of fiscal year fy started by today: 0 before the year, 12
// after it; the current period counts.
func (c Calendar) Elapsed(fy int32, today Date) int {
	first, last := c.Bounds(fy)
	switch {
	case today.Before(first):
		return 0
	case last.Before(today):
		return Periods
	}
	p, _ := c.PeriodOf(fy, today)
	return p
}

// AsOf clamps today into fiscal year fy: the date figures are computed as of.
func (c Calendar) AsOf(fy int32, today Date) Date {
	first, last := c.Bounds(fy)
	switch {
	case today.Before(first):
		return first
	case last.Before(today):
		return last
	}
	return today
}

// CheckDate returns the period of d in fiscal year fy, or DATE_INVALID / DATE_OUTSIDE_FISCAL_YEAR
// about field (e.g. "actual.booking_date").
func (c Calendar) CheckDate(fy int32, d Date, field string) (int, error) {
	if !d.Valid() {
		return 0, fieldError(ErrDateInvalid.With("date", d.String()), field, "")
	}
	p, ok := c.PeriodOf(fy, d)
	if !ok {
		first, last := c.Bounds(fy)
		return 0, ErrDateOutsideFiscalYear.With("field", field).With("date", d.String()).
			With("fiscal_year", strconv.Itoa(int(fy))).With("first_day", first.String()).With("last_day", last.String()).
			Withf("%s %s is outside fiscal year %d (%s to %s)", field, d, fy, first, last)
	}
	return p, nil
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
