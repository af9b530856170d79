package domain

import (
	"slices"
	"testing"
	"time"
)

func TestThresholdCrossings(t *testing.T) {
	ts := []int32{80, 100}
	tests := []struct {
		name           string
		pb, cb, pa, ca int64
		want           []int32
	}{
		{"below to above 80", 1000, 700, 1000, 850, []int32{80}},
		{"exactly 80 counts", 1000, 799, 1000, 800, []int32{80}},
		{"staying above", 1000, 850, 1000, 900, nil},
		{"80 and 100 in one step", 1000, 100, 1000, 1000, []int32{80, 100}},
		{"drop below is silent", 1000, 900, 1000, 500, nil},
		{"planned 0: any consumption is above all", 0, 0, 0, 1, []int32{80, 100}},
		{"planned 0, nothing consumed", 0, 0, 0, 0, nil},
		{"planned raised by a transfer drops below", 1000, 900, 2000, 900, nil},
		{"planned cut by a transfer crosses", 1000, 700, 800, 700, []int32{80}},
		{"huge values do not overflow", 1 << 62, 1 << 61, 1 << 62, 1 << 62, []int32{80, 100}},
	}
	for _, tt := range tests {
		if got := ThresholdCrossings(ts, tt.pb, tt.cb, tt.pa, tt.ca); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestThresholdRearm follows one line: a correction takes it below 80, a new actual above again,
// which is a second crossing.
func TestThresholdRearm(t *testing.T) {
	ts := []int32{80, 100}
	planned, cons := int64(10000), int64(0)
	var all []int32
	for _, delta := range []int64{8500, -1000, 1000, 500} {
		all = append(all, ThresholdCrossings(ts, planned, cons, planned, cons+delta)...)
		cons += delta
	}
	if !slices.Equal(all, []int32{80, 80}) {
		t.Errorf("crossings = %v, want [80 80]", all)
	}
}

func TestOverspentAndForecast(t *testing.T) {
	tests := []struct {
		pb, cb, pa, ca int64
		want           bool
	}{
		{100, 100, 100, 101, true}, {100, 99, 100, 100, false}, {100, 101, 100, 150, false},
		{0, 0, 0, 1, true}, {100, 150, 200, 150, false}, {200, 150, 100, 150, true},
	}
	for _, tt := range tests {
		if got := Overspent(tt.pb, tt.cb, tt.pa, tt.ca); got != tt.want {
			t.Errorf("Overspent(%d,%d→%d,%d) = %v", tt.pb, tt.cb, tt.pa, tt.ca, got)
		}
	}
	if ForecastOverPlan(100, 100) || !ForecastOverPlan(101, 100) {
		t.Error("ForecastOverPlan")
	}
	if over, fire := ForecastAlert(false, 120, 100); !over || !fire {
		t.Error("first crossing must fire")
	}
	if over, fire := ForecastAlert(true, 130, 100); !over || fire {
		t.Error("staying over must not fire")
	}
	if over, fire := ForecastAlert(true, 90, 100); over || fire {
		t.Error("dropping back resets silently")
	}
}

func TestNextForecastEvaluation(t *testing.T) {
	at := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }
	april := Calendar{StartMonth: time.April} // FY2027 = 2026-04-01 … 2027-03-31
	tests := []struct {
		name string
		cal  Calendar
		now  time.Time
		want time.Time // zero: none
	}{
		{"the next day's start", april, at(2026, 9, 15, 12), at(2026, 9, 16, 0)},
		{"at midnight, the day after", april, at(2026, 9, 15, 0), at(2026, 9, 16, 0)},
		{"across a month", april, at(2026, 9, 30, 23), at(2026, 10, 1, 0)},
		{"before the year: its first day", april, at(2026, 1, 20, 8), at(2026, 4, 1, 0)},
		{"the eve of the year", april, at(2026, 3, 31, 23), at(2026, 4, 1, 0)},
		{"the year's last day is evaluated", april, at(2027, 3, 30, 9), at(2027, 3, 31, 0)},
		{"none after the last day", april, at(2027, 3, 31, 9), time.Time{}},
		{"none after the year", april, at(2027, 6, 1, 9), time.Time{}},
		{"January year", Calendar{}, at(2027, 12, 30, 9), at(2027, 12, 31, 0)},
		{"another time zone is read in UTC", april, time.Date(2026, 9, 16, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)), at(2026, 9, 16, 0)},
	}
	for _, tt := range tests {
		got, ok := NextForecastEvaluation(tt.cal, 2027, tt.now)
		if ok != !tt.want.IsZero() || !got.Equal(tt.want) {
			t.Errorf("%s: NextForecastEvaluation(%v) = %v, %v; want %v", tt.name, tt.now, got, ok, tt.want)
		}
	}
}
