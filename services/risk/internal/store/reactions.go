package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Advance moves the position of a reaction's key to position, when position is after the one
// stored (or none is); it reports whether it did. A reaction calls
// it in the transaction of its effect and applies the effect only when it did: an event that
// comes again, or an older one that comes late, then changes nothing. Positions compare as text
// (fixed-width UTC times, ISO dates).
func (t Tx) Advance(ctx context.Context, key, position string, now time.Time) (bool, error) {
	const q = `INSERT INTO reaction_positions (key, position, update_time) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET position = excluded.position, update_time = excluded.update_time
		WHERE reaction_positions.position < excluded.position`
	res, err := t.ExecContext(ctx, q, key, position, now.UTC().Truncate(time.Microsecond))
	if err != nil {
		return false, fmt.Errorf("advance reaction %s to %s: %w", key, position, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advance reaction %s to %s: %w", key, position, err)
	}
	return n == 1, nil
}

// KeyPersonRequirement is a skill requirement that exactly one person covers, as the register
// last learnt from talent's events.
type KeyPersonRequirement struct {
	Requirement, Team, KeyPerson string
	// Raised is whether its entry raised its team's people risk one step.
	Raised bool
}

// KeyPersonRequirement returns the key-person state of requirement, and whether the register
// knows it in that state.
func (t Tx) KeyPersonRequirement(ctx context.Context, requirement string) (KeyPersonRequirement, bool, error) {
	const q = `SELECT requirement, team, key_person, raised FROM key_person_requirements WHERE requirement = $1`
	var k KeyPersonRequirement
	err := t.QueryRowContext(ctx, q, requirement).Scan(&k.Requirement, &k.Team, &k.KeyPerson, &k.Raised)
	if errors.Is(err, sql.ErrNoRows) {
		return k, false, nil
	}
	if err != nil {
		return k, false, fmt.Errorf("read the key-person state of %s: %w", requirement, err)
	}
	return k, true, nil
}

// PutKeyPersonRequirement records k, replacing what the register knew of its requirement.
func (t Tx) PutKeyPersonRequirement(ctx context.Context, k KeyPersonRequirement, now time.Time) error {
	const q = `INSERT INTO key_person_requirements (requirement, team, key_person, raised, update_time)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (requirement) DO UPDATE SET team = excluded.team, key_person = excluded.key_person,
			raised = excluded.raised, update_time = excluded.update_time`
	if _, err := t.ExecContext(ctx, q, k.Requirement, k.Team, k.KeyPerson, k.Raised, now.UTC().Truncate(time.Microsecond)); err != nil {
		return fmt.Errorf("record the key-person state of %s: %w", k.Requirement, err)
	}
	return nil
}

// DeleteKeyPersonRequirement forgets requirement's key-person state and returns what it was,
// and whether the register knew it.
func (t Tx) DeleteKeyPersonRequirement(ctx context.Context, requirement string) (KeyPersonRequirement, bool, error) {
	const q = `DELETE FROM key_person_requirements WHERE requirement = $1 RETURNING requirement, team, key_person, raised`
	var k KeyPersonRequirement
	err := t.QueryRowContext(ctx, q, requirement).Scan(&k.Requirement, &k.Team, &k.KeyPerson, &k.Raised)
	if errors.Is(err, sql.ErrNoRows) {
		return k, false, nil
	}
	if err != nil {
		return k, false, fmt.Errorf("forget the key-person state of %s: %w", requirement, err)
	}
	return k, true, nil
}

// ResetKeyPersonRaises records that no requirement of team raised its people risk: the risk was
// scored afresh.
func (t Tx) ResetKeyPersonRaises(ctx context.Context, team string) error {
	const q = `UPDATE key_person_requirements SET raised = FALSE WHERE team = $1 AND raised`
	if _, err := t.ExecContext(ctx, q, team); err != nil {
		return fmt.Errorf("reset the key-person steps of %s: %w", team, err)
	}
	return nil
}

// SourceTitle returns the title the register last gave the risk of source, and whether it gave
// one (a risk opened before migration 00013 has none).
func (t Tx) SourceTitle(ctx context.Context, source string) (string, bool, error) {
	var title string
	err := t.QueryRowContext(ctx, `SELECT title FROM source_titles WHERE source = $1`, source).Scan(&title)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read the title given to the risk of %s: %w", source, err)
	}
	return title, true, nil
}

// PutSourceTitle records title as the one the register gave the risk of source.
func (t Tx) PutSourceTitle(ctx context.Context, source, title string, now time.Time) error {
	const q = `INSERT INTO source_titles (source, title, update_time) VALUES ($1, $2, $3)
		ON CONFLICT (source) DO UPDATE SET title = excluded.title, update_time = excluded.update_time`
	if _, err := t.ExecContext(ctx, q, source, title, now.UTC().Truncate(time.Microsecond)); err != nil {
		return fmt.Errorf("record the title given to the risk of %s: %w", source, err)
	}
	return nil
}
