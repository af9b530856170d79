package domain

import (
	"math/big"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
)

// atOrAbove reports whether consumption reached pct percent of planned: consumption × 100 ≥
// planned × pct, exact in big integers. With nothing planned any consumption is above every
// threshold; a consumption of 0 never is.
func atOrAbove(planned, consumption int64, pct int64) bool {
	if consumption <= 0 {
		return false
	}
	if planned <= 0 {
		return true
	}
	l := new(big.Int).Mul(big.NewInt(consumption), big.NewInt(100))
	r := new(big.Int).Mul(big.NewInt(planned), big.NewInt(pct))
	return l.Cmp(r) >= 0
}

// ThresholdCrossings returns the thresholds (percent of planned) that the change crossed upwards:
// below before, at or above after. A threshold stays armed while consumption is below it, so
// falling below and rising again is a second crossing.
func ThresholdCrossings(thresholds []int32, plannedBefore, consBefore, plannedAfter, consAfter int64) []int32 {
	var out []int32
	for _, t := range thresholds {
		if !atOrAbove(plannedBefore, consBefore, int64(t)) && atOrAbove(plannedAfter, consAfter, int64(t)) {
			out = append(out, t)
		}
	}
	return out
}

// Overspent reports whether the change took consumption from at most planned to beyond it
// (available below 0): line.overspent fires once per such crossing.
func Overspent(plannedBefore, consBefore, plannedAfter, consAfter int64) bool {
	return consBefore <= plannedBefore && consAfter > plannedAfter
}

// ForecastOverPlan reports whether the run-rate forecast exceeds the plan.
func ForecastOverPlan(forecast, planned int64) bool { return forecast > planned }

// ForecastAlert compares the budget's forecast with its plan against the chain's stored state
// (was): fire is true only when the forecast newly exceeds the plan; over is the state to store.
// Dropping back resets the state silently.
func ForecastAlert(was bool, forecast, planned int64) (over, fire bool) {
	over = ForecastOverPlan(forecast, planned)
	return over, over && !was
}

// NextForecastEvaluation returns when the daily evaluation of the forecast alert of a budget of
// fiscal year fy on calendar cal runs next after now: at the start (00:00 UTC) of the next day,
// but not before the year's first day, since before it the forecast moves only with changes of
// the figures, which evaluate the alert themselves. ok is false once that day lies past the
// year's last day: the year is over and its forecast no longer moves with the calendar.
func NextForecastEvaluation(cal Calendar, fy int32, now time.Time) (next time.Time, ok bool) {
	first, last := cal.Bounds(fy)
	next = civil.DateOf(now.UTC()).Time().AddDate(0, 0, 1)
	if start := first.Time(); next.Before(start) {
		next = start
	}
	if last.Time().Before(next) {
		return time.Time{}, false
	}
	return next, true
}
