package domain

import (
	"errors"
	"testing"
	"time"
)

func date(y int, m time.Month, d int) Date { return Date{Year: y, Month: m, Day: d} }

func TestCalendarBounds(t *testing.T) {
	tests := []struct {
		start       time.Month
		fy          int32
		first, last Date
	}{
		{time.January, 2027, date(2027, 1, 1), date(2027, 12, 31)},
		{0, 2027, date(2027, 1, 1), date(2027, 12, 31)},
		{time.April, 2027, date(2026, 4, 1), date(2027, 3, 31)},
		{time.March, 2028, date(2027, 3, 1), date(2028, 2, 29)},
		{time.December, 2027, date(2026, 12, 1), date(2027, 11, 30)},
	}
	for _, tt := range tests {
		c := Calendar{tt.start}
		f, l := c.Bounds(tt.fy)
		if f != tt.first || l != tt.last {
			t.Errorf("Bounds(start %d, FY%d) = %s…%s, want %s…%s", tt.start, tt.fy, f, l, tt.first, tt.last)
		}
		if c.FiscalYearOf(f) != tt.fy || c.FiscalYearOf(l) != tt.fy {
			t.Errorf("FiscalYearOf(%s/%s) != %d", f, l, tt.fy)
		}
	}
}

func TestPeriods(t *testing.T) {
	apr := Calendar{time.April}
	tests := []struct {
		d      Date
		period int
		ok     bool
	}{
		{date(2026, 4, 1), 1, true}, {date(2026, 4, 30), 1, true}, {date(2026, 12, 31), 9, true},
		{date(2027, 1, 1), 10, true}, {date(2027, 3, 31), 12, true},
		{date(2027, 4, 1), 0, false}, {date(2026, 3, 31), 0, false},
	}
	for _, tt := range tests {
		p, ok := apr.PeriodOf(2027, tt.d)
		if p != tt.period || ok != tt.ok {
			t.Errorf("PeriodOf(%s) = %d %v, want %d %v", tt.d, p, ok, tt.period, tt.ok)
		}
	}
	if m := apr.PeriodMonth(2027, 1); m != (Month{Year: 2026, Month: time.April}) {
		t.Errorf("P01 = %s", m)
	}
	if m := apr.PeriodMonth(2027, 10); m != (Month{Year: 2027, Month: time.January}) {
		t.Errorf("P10 = %s", m)
	}
	if m := apr.PeriodMonth(2027, 12); m != (Month{Year: 2027, Month: time.March}) {
		t.Errorf("P12 = %s", m)
	}
	for p, q := range map[int]int{1: 1, 3: 1, 4: 2, 6: 2, 7: 3, 9: 3, 10: 4, 12: 4} {
		if Quarter(p) != q {
			t.Errorf("Quarter(%d) = %d", p, Quarter(p))
		}
	}
}

func TestElapsedAndAsOf(t *testing.T) {
	apr := Calendar{time.April}
	tests := []struct {
		today   Date
		elapsed int
		asOf    Date
	}{
		{date(2026, 3, 31), 0, date(2026, 4, 1)},
		{date(2026, 4, 1), 1, date(2026, 4, 1)},
		{date(2026, 5, 15), 2, date(2026, 5, 15)},
		{date(2027, 3, 31), 12, date(2027, 3, 31)},
		{date(2027, 4, 1), 12, date(2027, 3, 31)},
		{date(2030, 1, 1), 12, date(2027, 3, 31)},
	}
	for _, tt := range tests {
		if e := apr.Elapsed(2027, tt.today); e != tt.elapsed {
			t.Errorf("Elapsed(%s) = %d, want %d", tt.today, e, tt.elapsed)
		}
		if a := apr.AsOf(2027, tt.today); a != tt.asOf {
			t.Errorf("AsOf(%s) = %s, want %s", tt.today, a, tt.asOf)
		}
	}
}

func TestCheckDate(t *testing.T) {
	c := Calendar{time.April}
	if p, err := c.CheckDate(2027, date(2027, 1, 5), "actual.booking_date"); err != nil || p != 10 {
		t.Errorf("CheckDate = %d %v", p, err)
	}
	_, err := c.CheckDate(2027, date(2027, 4, 1), "actual.booking_date")
	fe := asFault(err)
	if !errors.Is(err, ErrDateOutsideFiscalYear) || fe.Metadata["first_day"] != "2026-04-01" || fe.Metadata["last_day"] != "2027-03-31" {
		t.Errorf("CheckDate outside = %+v", fe)
	}
	_, err = c.CheckDate(2027, date(2027, 2, 30), "actual.booking_date")
	if got := violations(t, err); len(got) != 1 || got[0] != "actual.booking_date:DATE_INVALID" {
		t.Errorf("CheckDate invalid = %v", got)
	}
}
