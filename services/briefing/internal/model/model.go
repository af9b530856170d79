// Package model is the briefing's read model: what the domains' events say about their
// resources, kept in the briefing service's own database. Apply writes one event into it inside
// the consumer's transaction; Load reads all of it for a briefing; Clear drops it for a rebuild.
// Nothing but events writes it, and it never asks another service anything. The model records
// which version of this code built it (Version, Stamp), so that a model built by other code is
// rebuilt when the service starts.
package model

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrations are the model's tables, under the version table the host gives a service's own
// migrations.
var Migrations = sqldb.MigrationSet{Table: "briefing_migrations", Files: migrations}

// tables are the model's tables, every one of which a rebuild empties (all but
// briefing_model_version, which Clear sets).
var tables = []string{
	"briefing_cost_centers", "briefing_budgets", "briefing_actuals", "briefing_commitments",
	"briefing_vendors", "briefing_contracts", "briefing_sla_breaches", "briefing_risks", "briefing_incidents", "briefing_teams",
	"briefing_people", "briefing_skills", "briefing_positions", "briefing_coverage", "briefing_headcount_quarters",
	"briefing_frameworks", "briefing_controls", "briefing_continuity_plans", "briefing_policies",
	"briefing_policy_acknowledgements",
	"briefing_facts",
	"briefing_streams",
}

// Clear empties the model within tx, for a rebuild from the streams, and records that this code
// (Version) builds it: in the transaction that empties it, so that a model is never marked as
// this code's while it still holds what other code applied, and a rebuild that fails before the
// commit is tried again at the next start.
func Clear(ctx context.Context, tx *sql.Tx) error {
	for _, t := range tables {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			return fmt.Errorf("clear %s: %w", t, err)
		}
	}
	return record(ctx, tx)
}
