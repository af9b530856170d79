package server

import (
	"context"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
)

// Owners returns the owners of the vendor, contract or evaluation name names or belongs to, for
// the ownership check of writes (ADR 0014): a vendor's owner owns what is filed under it (its
// attestations, its contracts), and a contract's own owner its contract too. A missing resource
// is its NOT_FOUND.
func (s *Server) Owners(ctx context.Context, name string) ([]string, error) {
	if e, ok := ownership.Ancestor(name, "evaluations"); ok {
		ev, err := s.GetEvaluation(ctx, &vendorsv1.GetEvaluationRequest{Name: e})
		if err != nil {
			return nil, err
		}
		return []string{ev.GetOwner()}, nil
	}
	v, _ := ownership.Ancestor(name, "vendors")
	vendor, err := s.GetVendor(ctx, &vendorsv1.GetVendorRequest{Name: v})
	if err != nil {
		return nil, err
	}
	owners := []string{vendor.GetOwner()}
	if c, ok := ownership.Ancestor(name, v+"/contracts"); ok {
		contract, err := s.GetContract(ctx, &vendorsv1.GetContractRequest{Name: c})
		if err != nil {
			return nil, err
		}
		owners = append(owners, contract.GetOwner())
	}
	return owners, nil
}
