package store

import (
	"context"
	"database/sql"
	"fmt"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// acceptanceColumns are the columns every acceptance query selects, in scanAcceptance's order.
const acceptanceColumns = `risk_id, id, justification, expiry_date, state, requester, approver, decision_reason,
	decide_time, accepted_score, create_time, update_time, version`

func scanAcceptance(s sqlstore.Scanner) (*domain.Acceptance, error) {
	var (
		a      domain.Acceptance
		expiry string
		decide sql.NullTime
	)
	err := s.Scan(&a.RiskID, &a.ID, &a.Justification, &expiry, &a.State, &a.Requester, &a.Approver, &a.DecisionReason,
		&decide, &a.AcceptedScore, &a.CreateTime, &a.UpdateTime, &a.Version)
	if err != nil {
		return nil, err
	}
	if a.ExpiryDate, err = civil.ParseDate(expiry); err != nil {
		return nil, fmt.Errorf("stored expiry date %q: %w", expiry, err)
	}
	a.DecideTime = sqlstore.TimeOf(decide).UTC()
	a.CreateTime, a.UpdateTime = a.CreateTime.UTC(), a.UpdateTime.UTC()
	return &a, nil
}

func acceptanceArgs(a *domain.Acceptance) []any {
	return []any{a.RiskID, a.ID, a.Justification, a.ExpiryDate.String(), a.State, a.Requester, a.Approver,
		a.DecisionReason, sqlstore.NullTime(a.DecideTime), a.AcceptedScore, a.CreateTime, a.UpdateTime, a.Version}
}

// AcceptanceTable is what ListAcceptances can filter and order by.
var AcceptanceTable = listing.NewTable("name", []listing.Field[*domain.Acceptance]{
	// Names span two columns: the key orders by the risk, then the acceptance.
	{Path: "name", Column: "risk_id || '/' || id", Type: filter.String,
		Value: func(v any) (any, error) {
			var risk, id string
			if !domain.AcceptancePattern.ScanResource(v.(string), &risk, &id) {
				return nil, fmt.Errorf("name must be a name %s", domain.AcceptancePattern)
			}
			return risk + "/" + id, nil
		},
		Get: func(a *domain.Acceptance) any { return a.RiskID + "/" + a.ID }},
	{Path: "expiry_date", Column: "expiry_date", Type: filter.String, Get: func(a *domain.Acceptance) any { return a.ExpiryDate.String() }},
	// Ordered by the stored number: the order the API declares the states in.
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.Acceptance_STATE_UNSPECIFIED.Descriptor()),
		Sort: "state", Get: func(a *domain.Acceptance) any { return int64(a.State) }},
	{Path: "requester", Column: "requester", Type: filter.String, Get: func(a *domain.Acceptance) any { return a.Requester }},
	{Path: "approver", Column: "approver", Type: filter.String, Get: func(a *domain.Acceptance) any { return a.Approver }},
	{Path: "accepted_score", Column: "accepted_score", Type: filter.Int, Get: func(a *domain.Acceptance) any { return int64(a.AcceptedScore) }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(a *domain.Acceptance) any { return a.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(a *domain.Acceptance) any { return a.UpdateTime }},
})

// GetAcceptance returns the acceptance id of risk riskID, or domain.ErrAcceptanceNotFound naming
// it; in a transaction it keeps the row from changing until the transaction ends.
func (r reader) GetAcceptance(ctx context.Context, riskID, id string) (*domain.Acceptance, error) {
	const q = `SELECT ` + acceptanceColumns + ` FROM acceptances WHERE risk_id = $1 AND id = $2`
	a, err := sqlstore.Get(ctx, r.Q, "acceptance "+riskID+"/"+id, domain.ErrAcceptanceNotFound, scanAcceptance, r.ForUpdate(q), riskID, id)
	return a, fault.Named(err, domain.AcceptanceName(riskID, id))
}

// ListAcceptances returns the acceptances of risk riskID (Wildcard: of every risk) that lq
// selects, in lq's order (see AcceptanceTable).
func (s Store) ListAcceptances(ctx context.Context, riskID string, lq *listing.Query) ([]*domain.Acceptance, error) {
	const q = `SELECT ` + acceptanceColumns + ` FROM acceptances`
	return sqlstore.List(ctx, s.Q, "acceptances", scanAcceptance, q, lq, sqlstore.Parent{Column: "risk_id", Value: riskID})
}

// acceptanceError translates a driver error of a write of a into the domain error it means: the
// primary key is the ID, the partial unique index the one live acceptance per risk.
func acceptanceError(a *domain.Acceptance) func(error) error {
	return func(err error) error {
		if c, ok := sqldb.UniqueViolation(err); ok {
			// PostgreSQL names the index; SQLite names its column (the primary key: two columns).
			if c == "acceptances_live_idx" || c == "acceptances.risk_id" {
				return domain.ErrAcceptanceExists.With("risk", a.RiskID)
			}
			return domain.ErrAcceptanceIDTaken.With("name", a.Name())
		}
		return err
	}
}

// LiveAcceptance reports whether risk riskID has a PENDING or APPROVED acceptance.
func (r reader) LiveAcceptance(ctx context.Context, riskID string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM acceptances WHERE risk_id = $1 AND state IN (1, 2))`
	return sqlstore.Exists(ctx, r.Q, "live acceptance of risk "+riskID, q, riskID)
}

// InsertAcceptance stores a new acceptance: domain.ErrAcceptanceIDTaken when the ID is taken,
// domain.ErrAcceptanceExists when the risk has a live one.
func (t Tx) InsertAcceptance(ctx context.Context, a *domain.Acceptance) error {
	q := `INSERT INTO acceptances (` + acceptanceColumns + `) VALUES (` + sqlstore.Placeholders(1, 13) + `)`
	return sqlstore.Exec(ctx, t, acceptanceError(a), q, acceptanceArgs(a)...)
}

// UpdateAcceptance replaces the stored acceptance whose version is prevVersion with a, and
// declares or clears its expiry with it: an APPROVED acceptance expires at the start of the day
// after its expiry date; any other has no date.
func (t Tx) UpdateAcceptance(ctx context.Context, a *domain.Acceptance, prevVersion int64) error {
	const q = `UPDATE acceptances SET justification = $3, expiry_date = $4, state = $5, requester = $6, approver = $7,
		decision_reason = $8, decide_time = $9, accepted_score = $10, create_time = $11, update_time = $12, version = $13
		WHERE risk_id = $1 AND id = $2 AND version = $14`
	if err := sqlstore.Exec(ctx, t, acceptanceError(a), q, append(acceptanceArgs(a), prevVersion)...); err != nil {
		return err
	}
	key := acceptanceExpiryKey(a.Name())
	if a.State != domain.AcceptanceApproved {
		return scheduler.Cancel(ctx, t, key)
	}
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: key, Kind: AcceptanceExpiryKind, Resource: a.Name(), Due: a.ExpiresAt()})
}

// AcceptanceExpiryKind is the kind of the due item of an approved acceptance expiring, the
// scheduler handler's key.
const AcceptanceExpiryKind = "acceptance_expiry"

// acceptanceExpiryKey names the expiry item of the acceptance named name.
func acceptanceExpiryKey(name string) string { return name + ":expiry" }

// AcceptanceExpiryItem returns the state of the expiry item of the acceptance named name, or
// scheduler.ErrNotFound.
func (r reader) AcceptanceExpiryItem(ctx context.Context, name string) (scheduler.State, error) {
	return scheduler.Get(ctx, r.Q, acceptanceExpiryKey(name))
}
