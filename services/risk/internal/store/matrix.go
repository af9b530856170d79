package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// matrixColumns are the columns every matrix query selects, in scanMatrix's order.
const matrixColumns = `version, likelihood_levels, impact_levels, cells, description, creator, create_time`

func scanMatrix(s sqlstore.Scanner) (*domain.Matrix, error) {
	var (
		m                         domain.Matrix
		likelihood, impact, cells string
	)
	if err := s.Scan(&m.Version, &likelihood, &impact, &cells, &m.Description, &m.Creator, &m.CreateTime); err != nil {
		return nil, err
	}
	var err error
	if m.Likelihood, err = sqlstore.ListOf[domain.AxisLevel](likelihood); err != nil {
		return nil, err
	}
	if m.Impact, err = sqlstore.ListOf[domain.AxisLevel](impact); err != nil {
		return nil, err
	}
	if m.Cells, err = sqlstore.ListOf[domain.Cell](cells); err != nil {
		return nil, err
	}
	m.CreateTime = m.CreateTime.UTC()
	return &m, nil
}

// CurrentMatrix returns the current version of the matrix: the highest stored, or the default
// version 1 before the first change.
func (r reader) CurrentMatrix(ctx context.Context) (*domain.Matrix, error) {
	const q = `SELECT ` + matrixColumns + ` FROM risk_matrix_versions ORDER BY version DESC LIMIT 1`
	m, err := sqlstore.Get(ctx, r.Q, "current risk matrix", domain.ErrMatrixVersionNotFound, scanMatrix, q)
	if errors.Is(err, domain.ErrMatrixVersionNotFound) {
		return domain.DefaultMatrix(), nil
	}
	return m, err
}

// MatrixVersion returns a version of the matrix, or domain.ErrMatrixVersionNotFound naming it.
func (r reader) MatrixVersion(ctx context.Context, version int32) (*domain.Matrix, error) {
	const q = `SELECT ` + matrixColumns + ` FROM risk_matrix_versions WHERE version = $1`
	m, err := sqlstore.Get(ctx, r.Q, fmt.Sprintf("risk matrix version %d", version), domain.ErrMatrixVersionNotFound, scanMatrix, q, version)
	if errors.Is(err, domain.ErrMatrixVersionNotFound) && version == 1 {
		return domain.DefaultMatrix(), nil
	}
	return m, fault.Named(err, domain.MatrixVersionName(version))
}

// MatrixVersions returns every version of the matrix, newest first; the default version 1 is
// among them before it is stored.
func (r reader) MatrixVersions(ctx context.Context) ([]*domain.Matrix, error) {
	const q = `SELECT ` + matrixColumns + ` FROM risk_matrix_versions ORDER BY version DESC`
	ms, err := sqlstore.All(ctx, r.Q, "risk matrix versions", scanMatrix, q)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 || ms[len(ms)-1].Version != 1 {
		ms = append(ms, domain.DefaultMatrix())
	}
	return ms, nil
}

// LockMatrix serialises the changes of the matrix, so that two cannot make the same version.
func (t Tx) LockMatrix(ctx context.Context) error {
	return t.Dialect.Lock(ctx, t, "quarterdeck.risk.matrix")
}

// InsertMatrixVersion stores a new version of the matrix; the first change also stores the
// default version 1 it follows, so that every version a risk names can be read back.
func (t Tx) InsertMatrixVersion(ctx context.Context, m *domain.Matrix) error {
	const q = `INSERT INTO risk_matrix_versions (` + matrixColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	ms := []*domain.Matrix{m}
	if m.Version == 2 {
		d := domain.DefaultMatrix()
		d.CreateTime = m.CreateTime
		ms = []*domain.Matrix{d, m}
	}
	for _, m := range ms {
		likelihood, err := sqlstore.JSONList(m.Likelihood)
		if err != nil {
			return err
		}
		impact, err := sqlstore.JSONList(m.Impact)
		if err != nil {
			return err
		}
		cells, err := sqlstore.JSONList(m.Cells)
		if err != nil {
			return err
		}
		if err := sqlstore.Exec(ctx, t, nil, q, m.Version, likelihood, impact, cells, m.Description, m.Creator, m.CreateTime); err != nil {
			return fmt.Errorf("insert risk matrix version %d: %w", m.Version, err)
		}
	}
	return nil
}
