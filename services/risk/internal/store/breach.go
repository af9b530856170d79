package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// breachColumns are the columns every breach impact query selects, in scanBreach's order.
const breachColumns = `incident_id, description, affected_subjects, affected_records, data_categories, jurisdictions,
	regulator_notification_required, subject_notification_required, awareness_time, clocks, update_time, version`

func scanBreach(s sqlstore.Scanner) (*domain.BreachImpact, error) {
	var (
		b                    domain.BreachImpact
		cats, places, clocks string
		updated              sql.NullTime
	)
	err := s.Scan(&b.IncidentID, &b.Description, &b.AffectedSubjects, &b.AffectedRecords, &cats, &places,
		&b.RegulatorRequired, &b.SubjectRequired, &b.AwarenessTime, &clocks, &updated, &b.Version)
	if err != nil {
		return nil, err
	}
	if b.DataCategories, err = sqlstore.ListOf[int32](cats); err != nil {
		return nil, err
	}
	if b.Jurisdictions, err = sqlstore.ListOf[string](places); err != nil {
		return nil, err
	}
	if b.Clocks, err = sqlstore.ListOf[domain.NotificationClock](clocks); err != nil {
		return nil, err
	}
	for n := range b.Clocks {
		b.Clocks[n].NotifyTime = b.Clocks[n].NotifyTime.UTC()
	}
	b.AwarenessTime, b.UpdateTime = b.AwarenessTime.UTC(), sqlstore.TimeOf(updated).UTC()
	return &b, nil
}

// GetBreachImpact returns the breach impact of incident id, or domain.ErrBreachImpactNotFound;
// in a transaction it keeps the row from changing until the transaction ends.
func (r reader) GetBreachImpact(ctx context.Context, id string) (*domain.BreachImpact, error) {
	const q = `SELECT ` + breachColumns + ` FROM breach_impacts WHERE incident_id = $1`
	b, err := sqlstore.Get(ctx, r.Q, "breach impact of incident "+id, domain.ErrBreachImpactNotFound, scanBreach, r.ForUpdate(q), id)
	return b, fault.Named(err, domain.BreachImpactName(id))
}

// SaveBreachImpact stores b, new or changed from version prevVersion (0 for a new one), and
// declares the due-soon and overdue dates of its clocks not yet notified; the dates of clocks
// removed or notified are cancelled. The incident's row must be locked in the transaction.
func (t Tx) SaveBreachImpact(ctx context.Context, b *domain.BreachImpact, prevVersion int64) error {
	cats, err := sqlstore.JSONList(b.DataCategories)
	if err != nil {
		return err
	}
	places, err := sqlstore.JSONList(b.Jurisdictions)
	if err != nil {
		return err
	}
	clocks, err := sqlstore.JSONList(b.Clocks)
	if err != nil {
		return err
	}
	args := []any{b.IncidentID, b.Description, b.AffectedSubjects, b.AffectedRecords, cats, places, b.RegulatorRequired,
		b.SubjectRequired, b.AwarenessTime, clocks, sqlstore.NullTime(b.UpdateTime), b.Version}
	if prevVersion == 0 {
		q := `INSERT INTO breach_impacts (` + breachColumns + `) VALUES (` + sqlstore.Placeholders(1, len(args)) + `)`
		if err := sqlstore.Exec(ctx, t, nil, q, args...); err != nil {
			return fmt.Errorf("insert the breach impact of incident %s: %w", b.IncidentID, err)
		}
	} else {
		const q = `UPDATE breach_impacts SET description = $2, affected_subjects = $3, affected_records = $4,
			data_categories = $5, jurisdictions = $6, regulator_notification_required = $7, subject_notification_required = $8,
			awareness_time = $9, clocks = $10, update_time = $11, version = $12
			WHERE incident_id = $1 AND version = $13`
		if err := sqlstore.Exec(ctx, t, nil, q, append(args, prevVersion)...); err != nil {
			return fmt.Errorf("update the breach impact of incident %s: %w", b.IncidentID, err)
		}
	}
	return t.scheduleClocks(ctx, b)
}

// The kinds of the due items of notification clocks.
const (
	NotificationDueSoonKind = "notification_due_soon"
	NotificationOverdueKind = "notification_overdue"
)

// clockKey names the due item of kind of clock id of the breach impact named name.
func clockKey(name, id, kind string) string { return name + ":" + id + ":" + kind }

// scheduleClocks declares the dates of b's clocks not yet notified, in the transaction, after
// cancelling every unfired date of b: a removed or notified clock fires no more, and a date that
// fired and is declared again unchanged does not fire twice (scheduler.Schedule).
func (t Tx) scheduleClocks(ctx context.Context, b *domain.BreachImpact) error {
	if err := scheduler.CancelResource(ctx, t, b.Name()); err != nil {
		return err
	}
	for _, c := range b.Clocks {
		if c.Notified() {
			continue
		}
		for kind, due := range map[string]time.Time{
			NotificationDueSoonKind: c.WarnTime(b.AwarenessTime),
			NotificationOverdueKind: c.DueTime(b.AwarenessTime),
		} {
			if err := scheduler.Schedule(ctx, t, scheduler.Item{Key: clockKey(b.Name(), c.ID, kind), Kind: kind,
				Resource: b.Name(), Due: due, Payload: []byte(c.ID)}); err != nil {
				return err
			}
		}
	}
	return nil
}
