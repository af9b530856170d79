package demo

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// errNoTalent stops the talent part of the load on a platform that serves no teams.
var errNoTalent = errors.New("no talent service")

// loadTalent makes the organisation's teams (one per division and one per department under it,
// each charged to its cost centre), their people with their pay, the team's managers, the
// skills the departments require with their people's ratings, the positions each department
// recruits for (approved against its labour line in budget), and each team's headcount plan for
// the year.
func (l *loader) loadTalent(ctx context.Context) error {
	managers, err := l.loadTeams(ctx)
	if errors.Is(err, errNoTalent) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, c := range l.crews {
		if err := l.loadPeople(ctx, c, managers["teams/"+c.id]); err != nil {
			return err
		}
	}
	l.skilling()
	skills := true
	if err := l.loadSkills(ctx); errors.Is(err, errNoSkills) {
		skills = false
	} else if err != nil {
		return err
	}
	for _, c := range l.crews {
		for _, o := range c.openings {
			if err := l.position(ctx, c, o, skills); err != nil {
				return err
			}
		}
	}
	for _, c := range l.crews {
		if err := l.headcountPlan(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

type team struct {
	Name    string `json:"name"`
	Manager string `json:"manager"`
}

// loadTeams makes the teams and returns each one's manager as it stands.
func (l *loader) loadTeams(ctx context.Context) (map[string]string, error) {
	managers := map[string]string{}
	for di, d := range divisions {
		if l.opts.Small && di >= 2 {
			break
		}
		var t team
		did, err := l.admin.ensure(ctx, "teams", "teamId", d.id, map[string]any{
			"displayName": d.name, "costCenter": "costCenters/" + d.id,
			"description": fmt.Sprintf("The %s division of Halyard Freight's IT.", d.name),
		}, &t)
		if di == 0 && (status(err) == http.StatusNotImplemented || status(err) == http.StatusNotFound) {
			fmt.Fprintf(l.opts.Log, "demo: this platform serves no teams (%v); skipped\n", err)
			return nil, errNoTalent
		}
		if err != nil {
			return nil, err
		}
		l.created("teams", did)
		managers[t.Name] = t.Manager
		for j, dept := range d.depts {
			if l.opts.Small && j >= 3 {
				break
			}
			id := fmt.Sprintf("%s-%d", d.id, j+1)
			var t team
			did, err := l.admin.ensure(ctx, "teams", "teamId", id, map[string]any{
				"displayName": dept, "parent": "teams/" + d.id, "costCenter": "costCenters/" + id,
			}, &t)
			if err != nil {
				return nil, err
			}
			l.created("teams", did)
			managers[t.Name] = t.Manager
		}
	}
	return managers, nil
}

// loadPeople makes a team's people, records who left, and makes its head its manager.
func (l *loader) loadPeople(ctx context.Context, c crew, manager string) error {
	for _, m := range c.members {
		kind := "EMPLOYEE"
		if m.contractor {
			kind = "CONTRACTOR"
		}
		var p struct {
			State string `json:"state"`
		}
		did, err := l.admin.ensure(ctx, "people", "personId", m.id, map[string]any{
			"displayName": m.name, "email": m.email, "title": m.title, "level": m.level, "team": "teams/" + c.id,
			"employmentType": kind, "startDate": date(m.start), "location": m.location,
			"loadedAnnualCost": money(c.currency, m.cost),
		}, &p)
		if err != nil {
			return err
		}
		l.created("people", did)
		if !m.end.IsZero() && p.State == "ACTIVE" {
			if err := l.admin.do(ctx, "POST", "/v1/people/"+m.id+":leave", map[string]any{"endDate": date(m.end)}, nil); err != nil {
				return err
			}
		}
	}
	if manager == "" {
		return l.admin.do(ctx, "PATCH", "/v1/teams/"+c.id+"?updateMask=manager", map[string]any{"manager": "people/" + c.head()}, nil)
	}
	return nil
}

// position makes a position and takes it, from the state it is in, to the plan's: submitted by
// the company's HR (the admin key), approved by its approver against the team's labour line,
// offered, filled by the hire, or cancelled. With skills, the job needs the team's first two.
func (l *loader) position(ctx context.Context, c crew, o opening, skills bool) error {
	body := map[string]any{
		"team": "teams/" + c.id, "title": o.title, "level": o.level, "reason": o.reason,
		"budgetedAnnualCost": money(c.currency, o.cost), "targetStartDate": date(o.targetStart),
	}
	if skills && len(c.needs) > 0 {
		// The job needs the team's first two required skills.
		var names []string
		for _, n := range c.needs[:min(2, len(c.needs))] {
			names = append(names, "skills/"+n.skill)
		}
		body["requiredSkills"] = names
	}
	if o.backfillOf != "" {
		body["backfillOf"] = "people/" + o.backfillOf
		body["description"] = "Replaces a colleague who left."
	}
	var p struct {
		State string `json:"state"`
	}
	did, err := l.admin.ensure(ctx, "positions", "positionId", o.id, body, &p)
	if err != nil {
		return err
	}
	l.created("positions", did)
	path := "/v1/positions/" + o.id
	for p.State != o.state {
		switch {
		case p.State == "DRAFT":
			err = l.admin.do(ctx, "POST", path+":submit", map[string]any{}, &p)
		case p.State == "PENDING_APPROVAL":
			err = l.approver.do(ctx, "POST", path+":approve", map[string]any{}, &p)
			if e := (*apiError)(nil); errors.As(err, &e) && (e.Reason == "NO_LABOUR_LINE" || e.Reason == "NO_LABOUR_BUDGET") {
				// A company loaded before the budgets had their labour line.
				fmt.Fprintf(l.opts.Log, "demo: position %s stays pending: %v\n", o.id, err)
				return nil
			}
		case o.state == "CANCELLED" && (p.State == "OPEN" || p.State == "OFFER"):
			err = l.admin.do(ctx, "POST", path+":cancel", map[string]any{"reason": "Reprioritised: the work moves to another team."}, &p)
		case p.State == "OPEN":
			err = l.admin.do(ctx, "POST", path+":offer", map[string]any{}, &p)
		case p.State == "OFFER" && o.state == "FILLED":
			i := slices.IndexFunc(c.members, func(m member) bool { return m.id == o.hire })
			if i < 0 {
				return fmt.Errorf("position %s: its hire %q is not a member of team %s", o.id, o.hire, c.id)
			}
			err = l.admin.do(ctx, "POST", path+":fill", map[string]any{"person": "people/" + o.hire, "startDate": date(c.members[i].start)}, &p)
		default: // a state the plan's is not reached from
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// headcountPlan plans a team's year by quarter: the quarters past as they went give or take one
// person, the quarters to come with the positions expected by then, at the team's average cost.
func (l *loader) headcountPlan(ctx context.Context, c crew) error {
	today := time.Date(l.now.Year(), l.now.Month(), l.now.Day(), 0, 0, 0, 0, time.UTC)
	var cost int64
	for _, m := range c.members {
		cost += m.cost
	}
	cost /= int64(len(c.members))
	var quarters []map[string]any
	for q := 1; q <= 4; q++ {
		end := time.Date(l.year, time.Month(3*q+1), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
		planned := 0
		if end.Before(today) {
			// A fixed departure from what happened, from the team's and the quarter's place.
			planned = c.headcount(end) + []int{0, 1, -1, 0, 1}[(len(c.id)+q)%5]
		} else {
			planned = c.headcount(today)
			for _, o := range c.openings {
				if o.pending() && !o.targetStart.After(end) {
					planned++
				}
			}
		}
		planned = max(planned, 1)
		quarters = append(quarters, map[string]any{"quarter": q, "plannedHeadcount": planned,
			"plannedCost": money(c.currency, int64(planned)*cost/4/1000*1000)})
	}
	did, err := l.admin.ensure(ctx, "teams/"+c.id+"/headcountPlans", "fiscalYear", fmt.Sprint(l.year),
		map[string]any{"currencyCode": c.currency, "quarters": quarters}, nil)
	if err != nil {
		return err
	}
	l.created("headcountPlans", did)
	return nil
}
