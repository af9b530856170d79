package server

import (
	"context"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
)

// Owners returns the owner of the position name names, its requester (the principal who
// created it), for the ownership check of writes (ADR 0014). A missing position is its
// NOT_FOUND.
func (s *Server) Owners(ctx context.Context, name string) ([]string, error) {
	p, err := s.GetPosition(ctx, &talentv1.GetPositionRequest{Name: name})
	if err != nil {
		return nil, err
	}
	return []string{p.GetRequester()}, nil
}
