package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Version is the version of the model this code builds: the number of the latest migration that
// changed what the events fill. Bump it, to that migration's number, with every migration that
// adds a table or column the events fill or changes what an event writes — a model built by the
// code before it lacks what the events said before the migration, and the service rebuilds a
// model of another version from the streams when it starts. A migration that fills nothing from
// the events (an index, this version's own table) and a change of the computation alone leave it.
const Version = 8

// Stamp returns the version of the code that built the model in db (0: code from before the model
// recorded its version), for the service's start, before its consumers run. A model to which
// nothing was applied yet — no stream's event, no consumer's inbox or version row — is stamped
// with Version there and then, and Version returned: its consumers build it from the first event
// of each stream anyway.
func Stamp(ctx context.Context, db *sqldb.DB) (int, error) {
	var built int
	err := db.InTx(ctx, func(tx *sql.Tx) error {
		const get = `SELECT version FROM briefing_model_version`
		switch err := tx.QueryRowContext(ctx, get).Scan(&built); {
		case errors.Is(err, sql.ErrNoRows):
			built = 0
		case err != nil:
			return err
		}
		if built == Version {
			return nil
		}
		// The model's streams say what the events wrote; the consumers' rows (this database holds
		// the briefing's consumers alone) what the runtime applied, even where the model was
		// emptied by hand. The inbox alone would not do: it is pruned.
		const used = `SELECT EXISTS (SELECT 1 FROM briefing_streams) OR EXISTS (SELECT 1 FROM consumer_inbox)
			OR EXISTS (SELECT 1 FROM consumer_versions)`
		var applied bool
		if err := tx.QueryRowContext(ctx, used).Scan(&applied); err != nil {
			return err
		}
		if applied {
			return nil
		}
		built = Version
		return record(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("read the briefing model's version: %w", err)
	}
	return built, nil
}

// record records within tx that the model is built by this code (Version).
func record(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM briefing_model_version`); err != nil {
		return fmt.Errorf("record the briefing model's version %d: %w", Version, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO briefing_model_version (version) VALUES ($1)`, Version); err != nil {
		return fmt.Errorf("record the briefing model's version %d: %w", Version, err)
	}
	return nil
}
