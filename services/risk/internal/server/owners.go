package server

import (
	"context"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
)

// Owners returns the owners of the risk name names or belongs to, for the ownership check of
// writes (ADR 0014): a risk's owner owns its actions and acceptances, and an action's own owner
// (who does it) its action too; a continuity plan's owner owns the plan and its exercises. A
// missing resource is its NOT_FOUND.
func (s *Server) Owners(ctx context.Context, name string) ([]string, error) {
	if p, ok := ownership.Ancestor(name, "continuityPlans"); ok {
		// A continuity plan's owner owns the plan and records its exercises.
		plan, err := s.Compliance().GetContinuityPlan(ctx, &riskv1.GetContinuityPlanRequest{Name: p})
		if err != nil {
			return nil, err
		}
		return []string{plan.GetOwner()}, nil
	}
	r, _ := ownership.Ancestor(name, "risks")
	risk, err := s.GetRisk(ctx, &riskv1.GetRiskRequest{Name: r})
	if err != nil {
		return nil, err
	}
	owners := []string{risk.GetOwner()}
	if a, ok := ownership.Ancestor(name, r+"/actions"); ok {
		action, err := s.GetMitigationAction(ctx, &riskv1.GetMitigationActionRequest{Name: a})
		if err != nil {
			return nil, err
		}
		owners = append(owners, action.GetOwner())
	}
	return owners, nil
}
