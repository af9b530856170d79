package server

import (
	"cmp"
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// errCurrencyRequired: a roll-up over budgets in several currencies (or none) needs the caller
// to choose the currency to report in.
var errCurrencyRequired = fault.New(fault.FailedPrecondition, "CURRENCY_REQUIRED",
	"the budgets of the roll-up do not share one currency; name the currency to report in")

// allRows selects every row of a list, for reads that need a whole budget.
var allRows = &listing.Query{OrderBy: "id", Limit: math.MaxInt32}

// GetBudgetSummary implements budgetv1.BudgetServiceServer. Any revision has a summary, computed
// on its own lines with all the spend of its chain.
func (s *Server) GetBudgetSummary(ctx context.Context, req *budgetv1.GetBudgetSummaryRequest) (*budgetv1.BudgetSummary, error) {
	var id string
	if !domain.SummaryPattern.ScanResource(req.GetName(), &id) {
		return nil, domain.SummaryPattern.Invalid("name")
	}
	today, err := s.asOf(req.GetAsOf())
	if err != nil {
		return nil, err
	}
	b, err := s.store.GetBudget(ctx, id)
	if err != nil {
		return nil, fault.Named(err, domain.BudgetName(id))
	}
	sum, err := s.summarize(ctx, b, today)
	if err != nil {
		return nil, err
	}
	cal, cur := b.Calendar(), b.Currency
	out := &budgetv1.BudgetSummary{
		Name:           req.GetName(),
		BudgetState:    b.State.String(),
		CurrencyCode:   string(cur),
		AsOf:           civil.ToProto(sum.AsOf),
		ElapsedPeriods: int32(sum.Elapsed),
		Total:          figuresPB(sum.Total, cur),
		Capex:          figuresPB(sum.Capex, cur),
		Opex:           figuresPB(sum.Opex, cur),
		Periods:        periodFiguresPB(sum.Periods, cal, b.FiscalYear, cur),
	}
	// Lines come in ID order, which is name order within one budget.
	for i, l := range sum.lines {
		lf := sum.Lines[i]
		out.Lines = append(out.Lines, &budgetv1.LineSummary{
			Line:              l.Name(),
			DisplayName:       l.DisplayName,
			Category:          budgetv1.BudgetLine_Category(l.Category),
			ExpenseType:       budgetv1.BudgetLine_ExpenseType(l.ExpenseType),
			ThresholdPercents: slices.Clone(l.Thresholds),
			Figures:           figuresPB(lf.Figures, cur),
			Periods:           periodFiguresPB(lf.Periods, cal, b.FiscalYear, cur),
		})
	}
	for i := range sum.rates {
		out.RatesUsed = append(out.RatesUsed, rateUsePB(&sum.rates[i]))
	}
	return out, nil
}

// summary is the figures of a budget revision as of today, with its lines in ID order and the
// rates its chain's spend was converted with.
type summary struct {
	domain.Summary
	lines []*domain.Line
	rates []domain.RateUse
}

// asOf is the day figures are computed for: the request's as_of, or today.
func (s *Server) asOf(field string) (civil.Date, error) {
	if field == "" {
		return civil.DateOf(s.now().UTC()), nil
	}
	d, err := civil.ParseDate(field)
	if err != nil {
		return civil.Date{}, fault.Field("as_of", "DATE_INVALID", "as_of must be a date as YYYY-MM-DD, e.g. 2027-03-31")
	}
	return d, nil
}

// summarize computes the figures of revision b as of the day today from the chain's running
// period spend.
func (s *Server) summarize(ctx context.Context, b *domain.Budget, today civil.Date) (summary, error) {
	lines, err := s.store.ListLines(ctx, b.ID, allRows)
	if err != nil {
		return summary{}, err
	}
	slices.SortFunc(lines, func(x, y *domain.Line) int { return strings.Compare(x.ID, y.ID) })
	spend, err := s.store.PeriodSpend(ctx, b.ChainID)
	if err != nil {
		return summary{}, err
	}
	rates, err := s.store.RatesUsed(ctx, b.ChainID)
	if err != nil {
		return summary{}, err
	}
	sum, err := domain.Summarize(b.Calendar(), b.FiscalYear, today, lines, spend)
	if err != nil {
		return summary{}, figureError(err, b.Name())
	}
	return summary{Summary: sum, lines: lines, rates: rates}, nil
}

// periodBases are the planned, committed, actual and held amounts of 12 periods (their available and
// variance are derived at the end, by domain.FiguresOfPeriods).
type periodBases [domain.Periods]domain.PeriodFigures

func (p *periodBases) add(o periodBases, c *money.Calc) {
	for i := range p {
		p[i].Planned = c.Add(p[i].Planned, o[i].Planned)
		p[i].Committed = c.Add(p[i].Committed, o[i].Committed)
		p[i].Actual = c.Add(p[i].Actual, o[i].Actual)
		p[i].Held = c.Add(p[i].Held, o[i].Held)
	}
}

// GetCostCenterRollup implements budgetv1.BudgetServiceServer: the figures of the budgets in
// force of a cost centre and its descendants for a fiscal year, in one currency.
func (s *Server) GetCostCenterRollup(ctx context.Context, req *budgetv1.GetCostCenterRollupRequest) (*budgetv1.CostCenterRollup, error) {
	var ccID, fyText string
	ok := domain.RollupPattern.Scan(req.GetName(), &ccID, &fyText)
	fy, err := strconv.ParseInt(fyText, 10, 32)
	if !ok || err != nil {
		return nil, domain.RollupPattern.Invalid("name")
	}
	today, err := s.asOf(req.GetAsOf())
	if err != nil {
		return nil, err
	}
	subtree, err := s.store.Subtree(ctx, ccID)
	if err != nil {
		return nil, err
	}
	if len(subtree) == 0 {
		return nil, fault.Named(domain.ErrCostCenterNotFound, domain.CostCenterName(ccID))
	}
	// Each cost centre of the subtree below the root belongs to one direct child of the root.
	ids := make([]string, 0, len(subtree))
	parents := map[string]string{}
	names := map[string]string{}
	for _, c := range subtree {
		ids = append(ids, c.ID)
		parents[c.ID], names[c.ID] = c.ParentID, c.DisplayName
	}
	budgets, err := s.store.BudgetsInForce(ctx, ids, int32(fy))
	if err != nil {
		return nil, err
	}
	cur, err := rollupCurrency(req.GetCurrencyCode(), budgets)
	if err != nil {
		return nil, err
	}
	childOf := func(id string) string {
		for id != "" && parents[id] != ccID {
			if id == ccID {
				return ""
			}
			id = parents[id]
		}
		return id
	}

	// Periods are summed by number, which is only meaningful when every budget starts its fiscal
	// year in the same month (the setting can change between the creation of two budgets).
	cal := domain.Calendar{StartMonth: s.fiscalStart}
	if len(budgets) > 0 {
		cal = budgets[0].Calendar()
	}
	for _, b := range budgets {
		if b.StartMonth != cal.StartMonth {
			return nil, domain.ErrFiscalCalendarMismatch.With("budget", b.Name()).With("other_budget", budgets[0].Name()).
				Withf("%s starts its fiscal year in %s and %s in %s; a roll-up needs one calendar",
					b.Name(), b.StartMonth, budgets[0].Name(), budgets[0].StartMonth)
		}
	}
	elapsed := cal.Elapsed(int32(fy), today)
	var total, capex, opex, own periodBases
	var c money.Calc // every sum of the roll-up; an overflow is FIGURE_OUT_OF_RANGE
	children := map[string]*periodBases{}
	rates := map[domain.RateUse]bool{}
	out := &budgetv1.CostCenterRollup{Name: req.GetName(), CurrencyCode: string(cur), AsOf: civil.ToProto(cal.AsOf(int32(fy), today)),
		ElapsedPeriods: int32(elapsed)}
	for _, b := range budgets {
		sum, err := s.summarize(ctx, b, today)
		if err != nil {
			return nil, err
		}
		for _, u := range sum.rates {
			rates[u] = true
		}
		var bc, bo periodBases
		for _, lf := range sum.Lines {
			var lb periodBases
			copy(lb[:], lf.Periods[:])
			if lf.ExpenseType == domain.Capex {
				bc.add(lb, &c)
			} else {
				bo.add(lb, &c)
			}
		}
		if bc, err = s.convertPeriods(ctx, b, bc, cur, rates); err != nil {
			return nil, money.Figure(err)
		}
		if bo, err = s.convertPeriods(ctx, b, bo, cur, rates); err != nil {
			return nil, money.Figure(err)
		}
		var bt periodBases
		bt.add(bc, &c)
		bt.add(bo, &c)
		total.add(bt, &c)
		capex.add(bc, &c)
		opex.add(bo, &c)
		if b.CostCenterID == ccID {
			own.add(bt, &c)
		} else if child := childOf(b.CostCenterID); child != "" {
			if children[child] == nil {
				children[child] = &periodBases{}
			}
			children[child].add(bt, &c)
		}
		out.Budgets = append(out.Budgets, b.Name())
	}
	var figErr error
	figures := func(p periodBases) *budgetv1.Figures {
		f, _, err := domain.FiguresOfPeriods(p, elapsed)
		figErr = cmp.Or(figErr, err)
		return figuresPB(f, cur)
	}
	out.Total, out.Capex, out.Opex, out.Own = figures(total), figures(capex), figures(opex), figures(own)
	_, periods, err := domain.FiguresOfPeriods(total, elapsed)
	if err := cmp.Or(c.Err(), figErr, err); err != nil {
		return nil, figureError(err, req.GetName())
	}
	out.Periods = periodFiguresPB(periods, cal, int32(fy), cur)
	for _, id := range ids {
		if parents[id] != ccID || id == ccID {
			continue
		}
		p := children[id]
		if p == nil {
			p = &periodBases{}
		}
		out.Children = append(out.Children, &budgetv1.CostCenterRollup_Child{
			CostCenter: domain.CostCenterName(id), DisplayName: names[id], Figures: figures(*p)})
	}
	if figErr != nil {
		return nil, figureError(figErr, req.GetName())
	}
	used := make([]domain.RateUse, 0, len(rates))
	for u := range rates {
		used = append(used, u)
	}
	slices.SortFunc(used, func(x, y domain.RateUse) int {
		if c := strings.Compare(x.RateID, y.RateID); c != 0 {
			return c
		}
		return strings.Compare(x.Value, y.Value)
	})
	for i := range used {
		out.RatesUsed = append(out.RatesUsed, rateUsePB(&used[i]))
	}
	return out, nil
}

// rollupCurrency is the requested currency, else the one all budgets share.
func rollupCurrency(code string, budgets []*domain.Budget) (domain.Currency, error) {
	if code != "" {
		c, err := money.ParseCurrency(code)
		return c, fault.OnField(err, "currency_code")
	}
	var cur domain.Currency
	for _, b := range budgets {
		if cur != "" && b.Currency != cur {
			return "", errCurrencyRequired.With("currencies", string(cur)+","+string(b.Currency))
		}
		cur = b.Currency
	}
	if cur == "" {
		return "", errCurrencyRequired.Withf("no budget in force to take the currency from; name the currency to report in")
	}
	return cur, nil
}

// convertPeriods converts the bases of budget b's periods into cur, each with the rate of its
// period's month (rounded half to even), and records the rates used.
func (s *Server) convertPeriods(ctx context.Context, b *domain.Budget, p periodBases, cur domain.Currency, used map[domain.RateUse]bool) (periodBases, error) {
	if b.Currency == cur {
		return p, nil
	}
	cal := b.Calendar()
	for i := range p {
		pf := &p[i]
		if pf.Planned == 0 && pf.Committed == 0 && pf.Actual == 0 && pf.Held == 0 {
			continue // nothing to convert: no rate needed
		}
		m := cal.PeriodMonth(b.FiscalYear, i+1)
		rate, err := s.store.FindRate(ctx, m, b.Currency, cur)
		if errors.Is(err, domain.ErrExchangeRateNotFound) {
			return p, domain.RateMissing(m, b.Currency, cur)
		}
		if err != nil {
			return p, err
		}
		_, v, err := money.ParseRate(rate.Value)
		if err != nil {
			return p, err
		}
		conv := func(minor int64) (int64, error) {
			return money.Convert(domain.Amount{Minor: minor, Currency: b.Currency}, v, cur)
		}
		if pf.Planned, err = conv(pf.Planned); err != nil {
			return p, err
		}
		if pf.Committed, err = conv(pf.Committed); err != nil {
			return p, err
		}
		if pf.Actual, err = conv(pf.Actual); err != nil {
			return p, err
		}
		if pf.Held, err = conv(pf.Held); err != nil {
			return p, err
		}
		used[*rate.Use()] = true
	}
	return p, nil
}

// figureError names the resource whose figures could not be computed in a FIGURE_OUT_OF_RANGE
// error (metadata "name"); other errors are returned as they are.
func figureError(err error, name string) error {
	if errors.Is(err, money.ErrFigureOutOfRange) {
		return money.ErrFigureOutOfRange.With("name", name)
	}
	return err
}
