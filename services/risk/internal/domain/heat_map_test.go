package domain

import (
	"reflect"
	"testing"
)

func TestNewHeatMap(t *testing.T) {
	t.Parallel()
	cell := func(l, i int32) HeatCell { return HeatCell{Likelihood: l, Impact: i} }
	hm := NewHeatMap(5, 4, []HeatMapGroup{
		{Inherent: cell(4, 4), Residual: cell(2, 4), Count: 3},
		{Inherent: cell(4, 4), Residual: cell(4, 4), Count: 2},
		{Inherent: cell(2, 4), Residual: cell(2, 4), Count: 1},
		{Count: 7}, // not scored yet
		// Scored on a matrix of five impact steps: the inherent cell is outside this one, the
		// residual cell inside.
		{Inherent: cell(3, 5), Residual: cell(3, 3), Count: 4},
		{Inherent: cell(6, 5), Residual: cell(6, 5), Count: 1},
	})
	if hm.Total != 18 || hm.Unscored != 7 || hm.OutsideMatrix != 5 {
		t.Errorf("total %d, unscored %d, outside %d; want 18, 7, 5", hm.Total, hm.Unscored, hm.OutsideMatrix)
	}
	if want := map[HeatCell]int64{cell(4, 4): 5, cell(2, 4): 1}; !reflect.DeepEqual(hm.Inherent, want) {
		t.Errorf("inherent %v; want %v", hm.Inherent, want)
	}
	if want := map[HeatCell]int64{cell(2, 4): 4, cell(4, 4): 2, cell(3, 3): 4}; !reflect.DeepEqual(hm.Residual, want) {
		t.Errorf("residual %v; want %v", hm.Residual, want)
	}
	cells := hm.Cells()
	if len(cells) != 20 || cells[0] != cell(1, 1) || cells[1] != cell(1, 2) || cells[4] != cell(2, 1) || cells[19] != cell(5, 4) {
		t.Errorf("cells %v; want 20 from (1,1) by likelihood then impact to (5,4)", cells)
	}
}

func TestTrendOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		now, then int
		trend     Trend
		delta     int
	}{
		{12, 0, TrendNew, 12},
		{15, 10, TrendUp, 5},
		{10, 10, TrendSteady, 0},
		{4, 20, TrendDown, -16},
	} {
		if trend, delta := TrendOf(c.now, c.then); trend != c.trend || delta != c.delta {
			t.Errorf("TrendOf(%d, %d) = %d, %d; want %d, %d", c.now, c.then, trend, delta, c.trend, c.delta)
		}
	}
}
