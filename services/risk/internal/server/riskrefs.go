package server

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// lockOpenRisk locks risk riskID, which must exist and not be CLOSED.
func (s *Server) lockOpenRisk(ctx context.Context, tx store.Tx, riskID string) error {
	r, err := tx.LockRiskRef(ctx, riskID)
	if err != nil {
		return err
	}
	if r.Closed() {
		return domain.ErrRiskClosed.With("risk", r.Name())
	}
	return nil
}

// riskClosed reports whether risk riskID is CLOSED or gone, locking it.
func (s *Server) riskClosed(ctx context.Context, tx store.Tx, riskID string) (bool, error) {
	r, err := tx.LockRiskRef(ctx, riskID)
	if err != nil {
		return false, err
	}
	return r.Closed(), nil
}

// reviewAfterAcceptance makes risk r due for review on day, because the acceptance named cause
// ended (expired or revoked). A CLOSED risk is not reviewed.
func (s *Server) reviewAfterAcceptance(ctx context.Context, tx store.Tx, r *store.RiskRef, day civil.Date, cause string) error {
	if r.Closed() {
		return nil
	}
	return s.MakeReviewDue(ctx, tx, r.ID, day, cause)
}
