package store

import (
	"context"
	"fmt"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// MetricsGroup is what the incident metrics group by; each is a column of incidents, read as
// text.
type MetricsGroup int

// The groupings of the metrics.
const (
	GroupNone MetricsGroup = iota
	GroupSeverity
	GroupType
	GroupVendor
)

// column is the SQL of the group's key: a column of the service's own, never a client's text.
func (g MetricsGroup) column() string {
	switch g {
	case GroupSeverity:
		return "CAST(severity AS TEXT)"
	case GroupType:
		return "CAST(type AS TEXT)"
	case GroupVendor:
		return "vendor"
	}
	return "CAST('' AS TEXT)"
}

// IncidentTallies totals the incidents detected in [from, to) that where (a filter compiled with
// its arguments from $3, or empty) selects, per group key and calendar month of detection (UTC):
// their number, how many reached each step, the sums of the whole seconds from detection to each
// step, and their costs per currency. The sums are the database's: the incidents themselves are
// never read.
func (s Store) IncidentTallies(ctx context.Context, group MetricsGroup, from, to time.Time, where string, args []any) ([]domain.MonthTally, error) {
	d := s.Dialect
	since := func(col string) string {
		return "CAST(COALESCE(SUM(" + d.EpochSeconds(col) + " - " + d.EpochSeconds("detect_time") + "), 0) AS BIGINT)"
	}
	cond := "detect_time >= $1 AND detect_time < $2"
	if where != "" {
		cond += " AND (" + where + ")"
	}
	params := append([]any{from.UTC(), to.UTC()}, args...)
	q := `SELECT ` + group.column() + ` AS grp, ` + d.YearMonth("detect_time") + ` AS ym,
		COUNT(*), COUNT(acknowledge_time), COUNT(mitigate_time), COUNT(resolve_time),
		` + since("acknowledge_time") + `, ` + since("mitigate_time") + `, ` + since("resolve_time") + `
		FROM incidents WHERE ` + cond + ` GROUP BY grp, ym ORDER BY grp, ym`
	tallies, err := sqlstore.All(ctx, s.Q, "incident metrics", func(sc sqlstore.Scanner) (domain.MonthTally, error) {
		var (
			t  domain.MonthTally
			ym int64
		)
		err := sc.Scan(&t.Group, &ym, &t.Count, &t.Acknowledged, &t.Mitigated, &t.Resolved,
			&t.AckSeconds, &t.MitigateSeconds, &t.ResolveSeconds)
		t.Month = domain.Date{Year: int(ym / 100), Month: time.Month(ym % 100), Day: 1}
		return t, err
	}, q, params...)
	if err != nil {
		return nil, err
	}
	type key struct {
		group string
		month domain.Date
	}
	at := map[key]int{}
	for i, t := range tallies {
		at[key{t.Group, t.Month}] = i
	}
	q = `SELECT ` + group.column() + ` AS grp, ` + d.YearMonth("detect_time") + ` AS ym, cost_currency,
		CAST(SUM(cost_minor) AS BIGINT)
		FROM incidents WHERE ` + cond + ` AND cost_currency <> '' GROUP BY grp, ym, cost_currency`
	type cost struct {
		key
		money.Amount
	}
	costs, err := sqlstore.All(ctx, s.Q, "incident costs", func(sc sqlstore.Scanner) (cost, error) {
		var (
			c   cost
			ym  int64
			cur string
		)
		err := sc.Scan(&c.group, &ym, &cur, &c.Minor)
		c.month, c.Currency = domain.Date{Year: int(ym / 100), Month: time.Month(ym % 100), Day: 1}, money.Currency(cur)
		return c, err
	}, q, params...)
	if err != nil {
		return nil, err
	}
	for _, c := range costs {
		i, ok := at[c.key]
		if !ok {
			return nil, fmt.Errorf("incident costs of %q in %s without a tally", c.group, c.month)
		}
		if tallies[i].Cost == nil {
			tallies[i].Cost = map[money.Currency]int64{}
		}
		tallies[i].Cost[c.Currency] += c.Minor
	}
	return tallies, nil
}
