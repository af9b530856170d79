package server

import (
	"context"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// ListRiskScoreChanges implements riskv1.RiskServiceServer: the history of a risk (risks/-: of
// every risk), oldest first. A risk that does not exist has an empty history, as a list of
// children whose parent is gone would.
func (s *Server) ListRiskScoreChanges(ctx context.Context, req *riskv1.ListRiskScoreChangesRequest) (*riskv1.ListRiskScoreChangesResponse, error) {
	var riskID string
	if !domain.RiskPattern.Scan(req.GetParent(), &riskID) {
		return nil, domain.RiskPattern.Invalid("parent")
	}
	page, token, err := listing.List(ctx, req, store.ScoreChangeTable,
		func(ctx context.Context, q *listing.Query) ([]*domain.ScoreChange, error) {
			return s.store.ListScoreChanges(ctx, riskID, q)
		}, listing.Infallible(scoreChangeToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListRiskScoreChangesResponse{RiskScoreChanges: page, NextPageToken: token}, nil
}
