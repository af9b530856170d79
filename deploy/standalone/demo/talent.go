package demo

import (
	"context"
	"fmt"
	"net/http"
)

// loadTeams makes the organisation's teams: one per division and one per department under it,
// each charged to its cost centre. (People, positions and headcount plans follow when the talent
// service serves them.)
func (l *loader) loadTeams(ctx context.Context) error {
	for di, d := range divisions {
		if l.opts.Small && di >= 2 {
			break
		}
		did, err := l.admin.ensure(ctx, "teams", "teamId", d.id, map[string]any{
			"displayName": d.name, "costCenter": "costCenters/" + d.id,
			"description": fmt.Sprintf("The %s division of Halyard Freight's IT.", d.name),
		}, nil)
		if di == 0 && (status(err) == http.StatusNotImplemented || status(err) == http.StatusNotFound) {
			fmt.Fprintf(l.opts.Log, "demo: this platform serves no teams (%v); skipped\n", err)
			return nil
		}
		if err != nil {
			return err
		}
		l.created("teams", did)
		for j, dept := range d.depts {
			if l.opts.Small && j >= 3 {
				break
			}
			id := fmt.Sprintf("%s-%d", d.id, j+1)
			did, err := l.admin.ensure(ctx, "teams", "teamId", id, map[string]any{
				"displayName": dept, "parent": "teams/" + d.id, "costCenter": "costCenters/" + id,
			}, nil)
			if err != nil {
				return err
			}
			l.created("teams", did)
		}
	}
	return nil
}
