package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// The heat map and the register report read the register whole. Each is a few statements that
// group or limit in the database — never a scan of every risk into Go — over indexes that hold
// the columns they read (migration 00003).

// A Selection is the risks a heat map or a report is about: an SQL condition on the table risks
// and its arguments, numbered from $1.
type Selection struct {
	where string
	args  []any
}

// SelectRisks returns the selection of an AIP-160 filter over risks, with the fields and
// operators of ListRisks (RiskTable); an empty filter (or one of blanks alone, which compiles to
// no condition) selects every risk that is not CLOSED. An invalid filter is INVALID_ARGUMENT
// with a violation on field.
func SelectRisks(field, expr string) (Selection, error) {
	where, args, err := filter.CompileField(field, expr, RiskTable.Schema, 1)
	if err != nil {
		return Selection{}, err
	}
	if where == "" {
		return Selection{where: "state <> $1", args: []any{int(domain.RiskClosed)}}, nil
	}
	return Selection{where: "(" + where + ")", args: args}, nil
}

// arg returns the placeholder of the k-th argument (from 1) a statement adds after the
// selection's, and with returns the arguments with the statement's own after them.
func (sel Selection) arg(k int) string { return "$" + strconv.Itoa(len(sel.args)+k) }

func (sel Selection) with(args ...any) []any { return append(slices.Clip(sel.args), args...) }

// HeatMapGroups returns the risks of sel grouped by inherent and residual cell.
func (s Store) HeatMapGroups(ctx context.Context, sel Selection) ([]domain.HeatMapGroup, error) {
	// Grouped by one number per cell (likelihood × 100 + impact) rather than by the four columns:
	// SQLite otherwise walks an index whose columns start like the GROUP BY, in its order, and
	// reads every row of the table from it, instead of a covering index of the filter's columns.
	// By position: a column of the same name as an alias would win over it on PostgreSQL.
	q := `SELECT inherent_likelihood * 100 + inherent_impact, residual_likelihood * 100 + residual_impact, COUNT(*)
		FROM risks WHERE ` + sel.where + `
		GROUP BY 1, 2`
	return sqlstore.All(ctx, s.Q, "heat map", func(r sqlstore.Scanner) (domain.HeatMapGroup, error) {
		var inherent, residual int32
		var g domain.HeatMapGroup
		err := r.Scan(&inherent, &residual, &g.Count)
		g.Inherent = domain.HeatCell{Likelihood: inherent / 100, Impact: inherent % 100}
		g.Residual = domain.HeatCell{Likelihood: residual / 100, Impact: residual % 100}
		return g, err
	}, q, sel.args...)
}

// CellRisks returns the IDs of the risks of sel in each of cells — by their inherent score, or
// their residual score when residual is true — at most perCell per cell, in ID order.
func (s Store) CellRisks(ctx context.Context, sel Selection, residual bool, cells []domain.HeatCell, perCell int) (map[domain.HeatCell][]string, error) {
	l, i := "inherent_likelihood", "inherent_impact"
	if residual {
		l, i = "residual_likelihood", "residual_impact"
	}
	// One short read per cell, through the index (likelihood, impact, id) from the cell's first
	// ID on: the work is the names returned, whatever the number of risks. One statement for
	// every cell (a window numbering the rows of each cell) would sort every risk selected.
	q := `SELECT id FROM risks WHERE ` + sel.where + ` AND ` + l + ` = ` + sel.arg(1) + ` AND ` + i + ` = ` + sel.arg(2) + `
		ORDER BY id LIMIT ` + sel.arg(3)
	out := map[domain.HeatCell][]string{}
	for _, c := range cells {
		ids, err := sqlstore.Strings(ctx, s.Q, "risks of a heat map's cell", q, sel.with(c.Likelihood, c.Impact, perCell)...)
		if err != nil {
			return nil, err
		}
		out[c] = ids
	}
	return out, nil
}

// TopRisks returns the top n scored risks of sel: highest residual score first, ties by higher
// inherent score, then by ID.
func (s Store) TopRisks(ctx context.Context, sel Selection, n int) ([]*domain.Risk, error) {
	q := `SELECT ` + riskColumns + ` FROM risks WHERE ` + sel.where + ` AND residual_score > 0
		ORDER BY residual_score DESC, inherent_score DESC, id LIMIT ` + sel.arg(1)
	return sqlstore.All(ctx, s.Q, "top risks", scanRisk, q, sel.with(n)...)
}

// RegisterTotals are the register report's counts of the open risks of a selection.
type RegisterTotals struct {
	Open, AboveAppetite, ReviewOverdue int64
	// ByLevel counts the open risks by residual level; unscored ones under 0.
	ByLevel map[int]int64
}

// RegisterTotals counts the risks of sel that are not CLOSED: in all, above appetite, past
// their next review date on today, and by residual level.
func (s Store) RegisterTotals(ctx context.Context, sel Selection, today civil.Date) (RegisterTotals, error) {
	q := `SELECT residual_level, COUNT(*), SUM(CASE WHEN above_appetite THEN 1 ELSE 0 END),
			SUM(CASE WHEN next_review_date < ` + sel.arg(2) + ` THEN 1 ELSE 0 END)
		FROM risks WHERE ` + sel.where + ` AND state <> ` + sel.arg(1) + `
		GROUP BY residual_level`
	type row struct {
		level                   int
		open, above, overdueNum int64
	}
	rows, err := sqlstore.All(ctx, s.Q, "register totals", func(r sqlstore.Scanner) (row, error) {
		var x row
		err := r.Scan(&x.level, &x.open, &x.above, &x.overdueNum)
		return x, err
	}, q, sel.with(int(domain.RiskClosed), today.String())...)
	if err != nil {
		return RegisterTotals{}, err
	}
	t := RegisterTotals{ByLevel: map[int]int64{}}
	for _, x := range rows {
		t.Open += x.open
		t.AboveAppetite += x.above
		t.ReviewOverdue += x.overdueNum
		t.ByLevel[x.level] += x.open
	}
	return t, nil
}

// A ScoreSince is a risk's residual score at the start of a period, from its score history, and
// how many times its scores changed since.
type ScoreSince struct {
	// Likelihood, Impact and Level are those of the residual score after the last change before
	// the period; all 0 when the risk was not scored then.
	Likelihood, Impact, Level int
	Changes                   int
}

// ScoresSince returns the residual score of each of the risks ids at since, and the number of
// their score changes from since on; a risk without a change before since and none after is
// missing.
func (s Store) ScoresSince(ctx context.Context, ids []string, since time.Time) (map[string]ScoreSince, error) {
	out := map[string]ScoreSince{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, since.UTC())
	for _, id := range ids {
		args = append(args, id)
	}
	in := sqlstore.Placeholders(2, len(ids))
	// The last change before since, found through the primary key (risk_id, id): IDs sort in
	// the order of the changes.
	const scoreThen = `SELECT h.risk_id, h.to_residual_likelihood, h.to_residual_impact, h.to_residual_level
		FROM risk_score_changes h
		WHERE h.risk_id IN (%s) AND h.id = (SELECT MAX(p.id) FROM risk_score_changes p
			WHERE p.risk_id = h.risk_id AND p.change_time < $1)`
	type then struct {
		id string
		s  ScoreSince
	}
	thens, err := sqlstore.All(ctx, s.Q, "scores at the start of the trend", func(r sqlstore.Scanner) (then, error) {
		var x then
		err := r.Scan(&x.id, &x.s.Likelihood, &x.s.Impact, &x.s.Level)
		return x, err
	}, fmt.Sprintf(scoreThen, in), args...)
	if err != nil {
		return nil, err
	}
	for _, x := range thens {
		out[x.id] = x.s
	}
	const changes = `SELECT risk_id, COUNT(*) FROM risk_score_changes
		WHERE risk_id IN (%s) AND change_time >= $1 GROUP BY risk_id`
	type count struct {
		id string
		n  int
	}
	counts, err := sqlstore.All(ctx, s.Q, "score changes of the trend", func(r sqlstore.Scanner) (count, error) {
		var x count
		err := r.Scan(&x.id, &x.n)
		return x, err
	}, fmt.Sprintf(changes, in), args...)
	if err != nil {
		return nil, err
	}
	for _, x := range counts {
		v := out[x.id]
		v.Changes = x.n
		out[x.id] = v
	}
	return out, nil
}
