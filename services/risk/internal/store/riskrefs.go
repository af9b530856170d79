package store

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// RiskRef is what a risk's actions and acceptances need to know of it: whether it is still
// followed, who owns it and its residual score.
type RiskRef struct {
	ID            string
	Owner         string
	State         int32
	ResidualScore int32
}

// Name is the risk's resource name.
func (r *RiskRef) Name() string { return domain.RiskPattern.Format(r.ID) }

// Closed reports whether the risk is CLOSED.
func (r *RiskRef) Closed() bool { return r.State == riskClosed }

// Assessed reports whether the risk has a score.
func (r *RiskRef) Assessed() bool { return r.ResidualScore > 0 }

// riskClosed is the stored state of a CLOSED risk (Risk.State CLOSED).
const riskClosed = 5

// LockRiskRef reads risk riskID and keeps its row until the transaction ends, as every change of
// the risk does: its actions and acceptances change in the risk's order. A risk that does not
// exist is domain.ErrRiskNotFound naming it.
func (t Tx) LockRiskRef(ctx context.Context, riskID string) (*RiskRef, error) {
	const q = `SELECT id, owner, state, residual_score FROM risks WHERE id = $1`
	r, err := sqlstore.Get(ctx, t, "risk "+riskID, domain.ErrRiskNotFound, func(s sqlstore.Scanner) (*RiskRef, error) {
		var r RiskRef
		return &r, s.Scan(&r.ID, &r.Owner, &r.State, &r.ResidualScore)
	}, t.Dialect.ForUpdate(q), riskID)
	return r, fault.Named(err, domain.RiskPattern.Format(riskID))
}
