package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// coverageQuery is the coverage of each requirement of framework $1, the best over the controls
// that satisfy it of their latest test's result: 1 COVERED (an EFFECTIVE control), 2 PARTIAL (a
// PARTIALLY_EFFECTIVE one), 3 NOT_COVERED (none, untested or INEFFECTIVE). The domain's
// Coverage numbers these so that the best is the least.
const coverageQuery = `SELECT r.framework_id, r.id, r.identifier, r.title, r.position,
		COALESCE(MIN(CASE c.last_result WHEN 1 THEN 1 WHEN 2 THEN 2 ELSE 3 END), 3) AS coverage
	FROM requirements r
	LEFT JOIN control_requirements cr ON cr.framework_id = r.framework_id AND cr.requirement_id = r.id
	LEFT JOIN controls c ON c.id = cr.control_id
	WHERE r.framework_id = $1
	GROUP BY r.framework_id, r.id, r.identifier, r.title, r.position`

// Posture counts the requirements of framework frameworkID by coverage (see coverageQuery).
func (r reader) Posture(ctx context.Context, frameworkID string) (domain.Posture, error) {
	const q = `SELECT COUNT(*),
		COALESCE(SUM(CASE WHEN coverage = 1 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN coverage = 2 THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN coverage = 3 THEN 1 ELSE 0 END), 0)
		FROM (` + coverageQuery + `) p`
	p := domain.Posture{FrameworkID: frameworkID}
	err := r.Q.QueryRowContext(ctx, q, frameworkID).Scan(&p.RequirementCount, &p.Covered, &p.Partial, &p.NotCovered)
	if err != nil {
		return p, fmt.Errorf("posture of %s: %w", frameworkID, err)
	}
	return p, nil
}

// Gaps returns the requirements of framework frameworkID that are not COVERED, in the
// framework's order, each with the controls that satisfy it.
func (r reader) Gaps(ctx context.Context, frameworkID string) ([]*domain.Gap, error) {
	const q = `SELECT framework_id, id, identifier, title, position, coverage FROM (` + coverageQuery + `) p
		WHERE coverage > 1 ORDER BY position, id`
	gaps, err := sqlstore.All(ctx, r.Q, "gaps of "+frameworkID, func(s sqlstore.Scanner) (*domain.Gap, error) {
		var g domain.Gap
		return &g, s.Scan(&g.FrameworkID, &g.ID, &g.Identifier, &g.Title, &g.Position, &g.Coverage)
	}, q, frameworkID)
	if err != nil || len(gaps) == 0 {
		return gaps, err
	}
	const links = `SELECT requirement_id, control_id FROM control_requirements WHERE framework_id = $1
		ORDER BY requirement_id, control_id`
	type link struct{ requirement, control string }
	ls, err := sqlstore.All(ctx, r.Q, "controls of "+frameworkID, func(s sqlstore.Scanner) (link, error) {
		var l link
		return l, s.Scan(&l.requirement, &l.control)
	}, links, frameworkID)
	if err != nil {
		return nil, err
	}
	byID := map[string]*domain.Gap{}
	for _, g := range gaps {
		byID[g.ID] = g
	}
	for _, l := range ls {
		if g := byID[l.requirement]; g != nil {
			g.Controls = append(g.Controls, domain.ControlName(l.control))
		}
	}
	return gaps, nil
}

// LatestPosture returns framework frameworkID's posture as its latest snapshot on or before day
// recorded it, and false when it has none: the posture as the last change left it, since every
// change that may move it records a snapshot (RecordPosture).
func (t Tx) LatestPosture(ctx context.Context, frameworkID string, day civil.Date) (domain.Posture, bool, error) {
	const q = `SELECT requirement_count, covered_count, partial_count, not_covered_count FROM posture_snapshots
		WHERE framework_id = $1 AND snapshot_date <= $2 ORDER BY snapshot_date DESC LIMIT 1`
	p := domain.Posture{FrameworkID: frameworkID}
	err := t.QueryRowContext(ctx, q, frameworkID, day.String()).Scan(&p.RequirementCount, &p.Covered, &p.Partial, &p.NotCovered)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return p, false, nil
	case err != nil:
		return p, false, fmt.Errorf("latest posture of %s: %w", frameworkID, err)
	}
	return p, true, nil
}

// RecordPosture keeps framework frameworkID's posture p as the snapshot of day, unless the latest
// snapshot before day has the same counts (the trend records changes only). It reports whether
// it wrote.
func (t Tx) RecordPosture(ctx context.Context, p domain.Posture, day civil.Date) (bool, error) {
	const prev = `SELECT requirement_count, covered_count, partial_count, not_covered_count FROM posture_snapshots
		WHERE framework_id = $1 AND snapshot_date < $2 ORDER BY snapshot_date DESC LIMIT 1`
	last := domain.Posture{FrameworkID: p.FrameworkID}
	err := t.QueryRowContext(ctx, prev, p.FrameworkID, day.String()).Scan(&last.RequirementCount, &last.Covered, &last.Partial, &last.NotCovered)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return false, fmt.Errorf("last posture of %s: %w", p.FrameworkID, err)
	case last == p:
		// Back to the day before's counts: today's snapshot, if any, goes.
		const del = `DELETE FROM posture_snapshots WHERE framework_id = $1 AND snapshot_date = $2`
		_, err := t.ExecContext(ctx, del, p.FrameworkID, day.String())
		return false, err
	}
	const q = `INSERT INTO posture_snapshots (framework_id, snapshot_date, requirement_count, covered_count, partial_count,
		not_covered_count) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (framework_id, snapshot_date) DO UPDATE SET requirement_count = excluded.requirement_count,
		covered_count = excluded.covered_count, partial_count = excluded.partial_count, not_covered_count = excluded.not_covered_count`
	if _, err := t.ExecContext(ctx, q, p.FrameworkID, day.String(), p.RequirementCount, p.Covered, p.Partial, p.NotCovered); err != nil {
		return false, fmt.Errorf("posture snapshot of %s: %w", p.FrameworkID, err)
	}
	return true, nil
}

// SnapshotTable is what ListPostureSnapshots can filter and order by: a framework's snapshots in
// date order.
var SnapshotTable = listing.NewTable("snapshot_date", []listing.Field[*domain.PostureSnapshot]{
	{Path: "snapshot_date", Column: "snapshot_date", Type: filter.String, Get: func(s *domain.PostureSnapshot) any { return s.Date.String() }},
})

// ListPostureSnapshots returns the snapshots of framework frameworkID that lq selects, in lq's
// order.
func (s Store) ListPostureSnapshots(ctx context.Context, frameworkID string, lq *listing.Query) ([]*domain.PostureSnapshot, error) {
	const q = `SELECT framework_id, snapshot_date, requirement_count, covered_count, partial_count, not_covered_count
		FROM posture_snapshots`
	return sqlstore.List(ctx, s.Q, "posture snapshots", func(sc sqlstore.Scanner) (*domain.PostureSnapshot, error) {
		var (
			ps  domain.PostureSnapshot
			day string
		)
		if err := sc.Scan(&ps.FrameworkID, &day, &ps.RequirementCount, &ps.Covered, &ps.Partial, &ps.NotCovered); err != nil {
			return nil, err
		}
		var err error
		ps.Date, err = civil.ParseDate(day)
		return &ps, err
	}, q, lq, sqlstore.Parent{Column: "framework_id", Value: frameworkID})
}
