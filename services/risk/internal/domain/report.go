package domain

// A Trend is the direction of a risk's residual score over a period: what the register report
// shows beside each of its top risks. The values are the API's.
type Trend int

// The trends.
const (
	// TrendNew: the risk was not scored at the start of the period.
	TrendNew Trend = iota + 1
	// TrendUp: its residual score is higher than at the start.
	TrendUp
	// TrendSteady: its residual score is what it was at the start.
	TrendSteady
	// TrendDown: its residual score is lower than at the start.
	TrendDown
)

// TrendOf compares a residual score now with the residual score at the start of a period, 0
// when the risk was not scored then: the direction, and the score now minus the score then (the
// whole score now for a risk not scored then).
func TrendOf(now, then int) (Trend, int) {
	switch {
	case then == 0:
		return TrendNew, now
	case now > then:
		return TrendUp, now - then
	case now < then:
		return TrendDown, now - then
	default:
		return TrendSteady, 0
	}
}

// DefaultReportTop is how many risks a register report lists when the request says 0.
const DefaultReportTop = 10

// DefaultTrendDays is how far back a register report's trend period starts when the request
// gives no date: 90 days before today, a quarter.
const DefaultTrendDays = 90
