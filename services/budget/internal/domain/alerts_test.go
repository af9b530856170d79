package domain

import (
	"slices"
	"testing"
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
