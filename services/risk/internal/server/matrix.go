package server

import (
	"context"
	"math"
	"strconv"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/pagetoken"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// matrixMask follows the field behaviors of the RiskMatrix message.
var matrixMask = fieldmask.FromDescriptor((&riskv1.RiskMatrix{}).ProtoReflect().Descriptor(), "name", "etag")

// GetRiskMatrix implements riskv1.RiskServiceServer.
func (s *Server) GetRiskMatrix(ctx context.Context, req *riskv1.GetRiskMatrixRequest) (*riskv1.RiskMatrix, error) {
	if req.GetName() == domain.RiskMatrixName {
		m, err := s.store.CurrentMatrix(ctx)
		if err != nil {
			return nil, err
		}
		return matrixToProto(m, domain.RiskMatrixName), nil
	}
	var v string
	if !domain.RiskMatrixPattern.Scan(req.GetName(), &v) {
		return nil, domain.RiskMatrixPattern.Invalid("name")
	}
	version, err := strconv.ParseInt(v, 10, 32)
	if err != nil || version < 1 {
		return nil, domain.RiskMatrixPattern.Invalid("name")
	}
	m, err := s.store.MatrixVersion(ctx, int32(version))
	if err != nil {
		return nil, err
	}
	return matrixToProto(m, m.Name()), nil
}

// ListRiskMatrixVersions implements riskv1.RiskServiceServer, newest first. The versions are few
// and read whole; a page token holds the version the next page starts below.
func (s *Server) ListRiskMatrixVersions(ctx context.Context, req *riskv1.ListRiskMatrixVersionsRequest) (*riskv1.ListRiskMatrixVersionsResponse, error) {
	size, sum := pagetoken.Size(req.GetPageSize()), pagetoken.Checksum(req)
	below := int64(math.MaxInt32)
	if req.GetPageToken() != "" {
		key, err := pagetoken.Decode(req.GetPageToken(), sum, 1)
		if err != nil {
			return nil, err
		}
		if below, err = strconv.ParseInt(key[0], 10, 32); err != nil {
			return nil, pagetoken.Invalid()
		}
	}
	ms, err := s.store.MatrixVersions(ctx)
	if err != nil {
		return nil, err
	}
	out := &riskv1.ListRiskMatrixVersionsResponse{}
	for _, m := range ms {
		if int64(m.Version) >= below {
			continue
		}
		if len(out.RiskMatrices) == size {
			out.NextPageToken = pagetoken.Encode(sum, strconv.Itoa(int(out.RiskMatrices[size-1].Version)))
			break
		}
		out.RiskMatrices = append(out.RiskMatrices, matrixToProto(m, m.Name()))
	}
	return out, nil
}

// UpdateRiskMatrix implements riskv1.RiskServiceServer: the change makes a new version.
func (s *Server) UpdateRiskMatrix(ctx context.Context, req *riskv1.UpdateRiskMatrixRequest) (*riskv1.RiskMatrix, error) {
	in := req.GetRiskMatrix()
	if in.GetName() != domain.RiskMatrixName {
		return nil, fault.Field("risk_matrix.name", "INVALID_NAME", "the matrix is named riskMatrix")
	}
	paths, err := matrixMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields, creator := matrixFields(in), identity.Actor(ctx)
	out, err := idempotency.InTx(ctx, s.store.Within, riskv1.RiskService_UpdateRiskMatrix_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.RiskMatrix, error) {
			if err := tx.LockMatrix(ctx); err != nil {
				return nil, err
			}
			m, err := tx.CurrentMatrix(ctx)
			if err != nil {
				return nil, err
			}
			if err := etag.Check(in.GetEtag(), domain.RiskMatrixName, int64(m.Version)); err != nil {
				return nil, err
			}
			before := matrixToProto(m, domain.RiskMatrixName)
			next, _, err := m.Next(paths, fields, creator, s.now())
			if err != nil {
				return nil, err
			}
			if next == nil {
				return before, nil // nothing to write, nothing happened
			}
			if err := tx.InsertMatrixVersion(ctx, next); err != nil {
				return nil, err
			}
			after := matrixToProto(next, domain.RiskMatrixName)
			return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: domain.RiskMatrixName,
				Before: before, After: after,
				Event: &riskv1.RiskMatrixUpdated{RiskMatrix: matrixToProto(next, next.Name()), Version: int64(next.Version)}})
		})
	if err != nil {
		return nil, fault.Prefix("risk_matrix", err)
	}
	return out, nil
}
