package domain

import (
	"strconv"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
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
	return civil.DateOf(t), civil.DateOf(t.AddDate(1, 0, -1))
}

// monthIndex counts months from year 0 so that months can be subtracted.
func monthIndex(m Month) int { return m.Year*12 + int(m.Month) - 1 }

// PeriodOf returns the fiscal period (1–12) of d in fiscal year fy; ok is false when d lies
// outside the year.
func (c Calendar) PeriodOf(fy int32, d Date) (period int, ok bool) {
	i := monthIndex(civil.MonthOf(d)) - monthIndex(c.firstMonth(fy))
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
		return 0, ErrDateInvalid.With("date", d.String()).OnField(field, "")
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
