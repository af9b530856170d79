package server

import (
	"context"
	"slices"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
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

// Owners returns the owner of the control or policy name names or belongs to (a policy's
// versions are its own), and otherwise the Server's owners (a continuity plan's), for the
// ownership check of compliance writes (ADR 0014). A missing resource is its NOT_FOUND.
func (s *Compliance) Owners(ctx context.Context, name string) ([]string, error) {
	if c, ok := ownership.Ancestor(name, "controls"); ok {
		control, err := s.GetControl(ctx, &riskv1.GetControlRequest{Name: c})
		if err != nil {
			return nil, err
		}
		return []string{control.GetOwner()}, nil
	}
	if p, ok := ownership.Ancestor(name, "policies"); ok {
		policy, err := s.GetPolicy(ctx, &riskv1.GetPolicyRequest{Name: p})
		if err != nil {
			return nil, err
		}
		return []string{policy.GetOwner()}, nil
	}
	return s.Server.Owners(ctx, name)
}

// checkRiskLinks refuses, under the owner write policy, a change of the links of a control to
// the risks it adds or removes (of added and removed) that the caller may not write: the link
// is kept in each risk's controls, so it changes the risk. A risk that does not exist is left to
// the link's own check, which refuses it on its field.
func (s *Server) checkRiskLinks(ctx context.Context, added, removed []string) error {
	if s.mayWriteRisk == nil {
		return nil
	}
	for _, name := range append(slices.Clone(added), removed...) {
		err := s.mayWriteRisk(ctx, name)
		if f := fault.As(err); f != nil && f.Kind == fault.NotFound {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}
