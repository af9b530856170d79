package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// A resolved incident re-scores the risks it is linked to (DOMAIN.md § risk, "Reactions"). The
// incident and the register live in the same service and database, so the re-scoring is part
// of the resolution's transaction rather than a reaction to the service's own event: it commits
// with the resolution or not at all, is in force when ResolveIncident answers, and needs no
// consumer, no position and no replay protection — a resolution happens once (RESOLVED is never
// left backwards), and a retried ResolveIncident with its request ID returns the first answer
// without running again. The reactions table (reactions.go) is for other services' events,
// where there is no transaction to share.

// IncidentRescore is what the re-scoring of a resolved incident's linked risks reads of it.
type IncidentRescore struct {
	// Incident is the incident's name, incidents/{incident}: the cause in each risk's score
	// history.
	Incident string
	Title    string
	// Declared is when the incident was declared: a person's assessment of a risk after it means
	// the risk was re-assessed with the incident known, and is left as it is.
	Declared time.Time
	// Risks are the names of the risks the incident is linked to.
	Risks []string
}

// RescoreLinkedRisks re-scores in tx, the resolution's transaction, each risk the resolved
// incident is linked to: its residual likelihood rises one step (at most to the matrix's top;
// the inherent score rises with it when it would otherwise be below), recorded in its score
// history with the service as the actor and the incident as the cause, and the incident is added
// to the risk's incidents. A risk that is CLOSED, not scored yet, already at the top step, or
// assessed by a person since the incident was declared is left as it is; so is a name that no
// longer names a risk. It returns the names of the risks it re-scored.
func (s *Server) RescoreLinkedRisks(ctx context.Context, tx store.Tx, inc IncidentRescore) ([]string, error) {
	var rescored []string
	for _, name := range inc.Risks {
		var id string
		if !domain.RiskPattern.Scan(name, &id) {
			continue
		}
		r, err := tx.GetRisk(ctx, id)
		if errors.Is(err, domain.ErrRiskNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if r.State == domain.RiskClosed || !r.Scored() || r.AssessTime.After(inc.Declared) {
			continue
		}
		mat, err := tx.CurrentMatrix(ctx)
		if err != nil {
			return nil, err
		}
		if r.Residual.Likelihood >= int32(len(mat.Likelihood)) {
			continue
		}
		prev, before := r.Version, riskToProto(r)
		if !slices.Contains(r.Incidents, inc.Incident) && len(r.Incidents) < maxRiskLinks {
			r.Incidents = append(r.Incidents, inc.Incident)
		}
		pair := domain.Pair{Likelihood: r.Residual.Likelihood + 1, Impact: r.Residual.Impact}
		a := domain.Assessment{Residual: &pair, Actor: domain.ServiceActor, Cause: inc.Incident,
			Reason: fmt.Sprintf("Incident %s (%s) resolved: likelihood raised one step", inc.Incident, inc.Title)}
		if pair.Likelihood*pair.Impact > r.Inherent.Value() {
			a.Inherent = &pair
		}
		events, err := s.Rescore(ctx, tx, r, a)
		if err != nil {
			return nil, err
		}
		if _, err := s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before, events...); err != nil {
			return nil, err
		}
		rescored = append(rescored, name)
	}
	return rescored, nil
}

// maxRiskLinks is the most incidents a risk lists, as its API allows.
const maxRiskLinks = 50
