package store

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// frameworkColumns are the columns every framework query selects, in scanFramework's order; the
// requirement count is counted, never stored.
const frameworkColumns = `id, title, publisher, edition, description,
	(SELECT COUNT(*) FROM requirements r WHERE r.framework_id = frameworks.id), create_time, update_time, version`

func scanFramework(s sqlstore.Scanner) (*domain.Framework, error) {
	var f domain.Framework
	if err := s.Scan(&f.ID, &f.Title, &f.Publisher, &f.Edition, &f.Description, &f.RequirementCount,
		&f.CreateTime, &f.UpdateTime, &f.Version); err != nil {
		return nil, err
	}
	f.CreateTime, f.UpdateTime = f.CreateTime.UTC(), f.UpdateTime.UTC()
	return &f, nil
}

// FrameworkTable is what ListFrameworks can order by: the name alone.
var FrameworkTable = listing.NewTable("name", []listing.Field[*domain.Framework]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.FrameworkPattern),
		Get: func(f *domain.Framework) any { return f.ID }},
})

// GetFramework returns the framework with the ID, or domain.ErrFrameworkNotFound naming it; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetFramework(ctx context.Context, id string) (*domain.Framework, error) {
	const q = `SELECT ` + frameworkColumns + ` FROM frameworks WHERE id = $1`
	f, err := sqlstore.Get(ctx, r.Q, "framework "+id, domain.ErrFrameworkNotFound, scanFramework, r.ForUpdate(q), id)
	return f, fault.Named(err, domain.FrameworkName(id))
}

// ListFrameworks returns the frameworks lq selects, in lq's order.
func (s Store) ListFrameworks(ctx context.Context, lq *listing.Query) ([]*domain.Framework, error) {
	const q = `SELECT ` + frameworkColumns + ` FROM frameworks`
	return sqlstore.List(ctx, s.Q, "frameworks", scanFramework, q, lq)
}

// InsertFramework stores a new framework (its requirements are inserted one by one).
func (t Tx) InsertFramework(ctx context.Context, f *domain.Framework) error {
	const q = `INSERT INTO frameworks (id, title, publisher, edition, description, create_time, update_time, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	return sqlstore.Exec(ctx, t, nil, q, f.ID, f.Title, f.Publisher, f.Edition, f.Description, f.CreateTime, f.UpdateTime, f.Version)
}

// UpdateFramework replaces the stored framework whose version is prevVersion with f.
func (t Tx) UpdateFramework(ctx context.Context, f *domain.Framework, prevVersion int64) error {
	const q = `UPDATE frameworks SET title = $2, publisher = $3, edition = $4, description = $5, update_time = $6,
		version = $7 WHERE id = $1 AND version = $8`
	return sqlstore.Exec(ctx, t, nil, q, f.ID, f.Title, f.Publisher, f.Edition, f.Description, f.UpdateTime, f.Version, prevVersion)
}

// requirementColumns are the columns every requirement query selects, in scanRequirement's order.
const requirementColumns = `framework_id, id, identifier, title, position`

func scanRequirement(s sqlstore.Scanner) (*domain.Requirement, error) {
	var r domain.Requirement
	return &r, s.Scan(&r.FrameworkID, &r.ID, &r.Identifier, &r.Title, &r.Position)
}

// RequirementTable is what ListRequirements can filter and order by; a framework's requirements
// are listed in its order (position) unless asked otherwise.
var RequirementTable = listing.NewTable("position", []listing.Field[*domain.Requirement]{
	{Path: "position", Column: "position", Type: filter.Int, Get: func(r *domain.Requirement) any { return int64(r.Position) }},
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.RequirementPattern),
		Get: func(r *domain.Requirement) any { return r.ID }},
	{Path: "identifier", Column: "identifier", Type: filter.String, Get: func(r *domain.Requirement) any { return r.Identifier }},
	{Path: "title", Column: "title", Type: filter.String, Get: func(r *domain.Requirement) any { return r.Title }},
})

// GetRequirement returns requirement id of framework frameworkID, or domain.ErrRequirementNotFound
// naming it.
func (r reader) GetRequirement(ctx context.Context, frameworkID, id string) (*domain.Requirement, error) {
	const q = `SELECT ` + requirementColumns + ` FROM requirements WHERE framework_id = $1 AND id = $2`
	req, err := sqlstore.Get(ctx, r.Q, "requirement "+frameworkID+"/"+id, domain.ErrRequirementNotFound, scanRequirement, q, frameworkID, id)
	return req, fault.Named(err, domain.RequirementName(frameworkID, id))
}

// Requirements returns every requirement of framework frameworkID, in its order.
func (r reader) Requirements(ctx context.Context, frameworkID string) ([]*domain.Requirement, error) {
	const q = `SELECT ` + requirementColumns + ` FROM requirements WHERE framework_id = $1 ORDER BY position, id`
	return sqlstore.All(ctx, r.Q, "requirements of "+frameworkID, scanRequirement, q, frameworkID)
}

// ListRequirements returns the requirements of framework frameworkID that lq selects, in lq's
// order (see RequirementTable).
func (s Store) ListRequirements(ctx context.Context, frameworkID string, lq *listing.Query) ([]*domain.Requirement, error) {
	const q = `SELECT ` + requirementColumns + ` FROM requirements`
	return sqlstore.List(ctx, s.Q, "requirements", scanRequirement, q, lq, sqlstore.Parent{Column: "framework_id", Value: frameworkID})
}

// InsertRequirement stores a new requirement of an existing framework.
func (t Tx) InsertRequirement(ctx context.Context, r *domain.Requirement) error {
	const q = `INSERT INTO requirements (` + requirementColumns + `) VALUES ($1, $2, $3, $4, $5)`
	return sqlstore.Exec(ctx, t, nil, q, r.FrameworkID, r.ID, r.Identifier, r.Title, r.Position)
}

// UpdateRequirement stores the identifier, title and position of r.
func (t Tx) UpdateRequirement(ctx context.Context, r *domain.Requirement) error {
	const q = `UPDATE requirements SET identifier = $3, title = $4, position = $5 WHERE framework_id = $1 AND id = $2`
	return sqlstore.Exec(ctx, t, nil, q, r.FrameworkID, r.ID, r.Identifier, r.Title, r.Position)
}

// RequirementExists reports whether requirement id of framework frameworkID exists.
func (r reader) RequirementExists(ctx context.Context, frameworkID, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM requirements WHERE framework_id = $1 AND id = $2)`
	return sqlstore.Exists(ctx, r.Q, "requirement "+frameworkID+"/"+id, q, frameworkID, id)
}
