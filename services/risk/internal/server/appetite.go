package server

import (
	"context"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// appetiteMask follows the field behaviors of the RiskAppetite message.
var appetiteMask = fieldmask.FromDescriptor((&riskv1.RiskAppetite{}).ProtoReflect().Descriptor(), "name", "etag")

// GetRiskAppetite implements riskv1.RiskServiceServer.
func (s *Server) GetRiskAppetite(ctx context.Context, _ *riskv1.GetRiskAppetiteRequest) (*riskv1.RiskAppetite, error) {
	a, err := s.store.Appetite(ctx)
	if err != nil {
		return nil, err
	}
	return appetiteToProto(a), nil
}

// UpdateRiskAppetite implements riskv1.RiskServiceServer. The open risks of the categories whose
// appetite changed are measured again in the same transaction: each that crosses the new line
// publishes risk.above_appetite, each that falls back within it risk.updated.
func (s *Server) UpdateRiskAppetite(ctx context.Context, req *riskv1.UpdateRiskAppetiteRequest) (*riskv1.RiskAppetite, error) {
	in := req.GetRiskAppetite()
	paths, err := appetiteMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields, updater := appetiteFields(in), identity.Actor(ctx)
	out, err := idempotency.InTx(ctx, s.store.Within, riskv1.RiskService_UpdateRiskAppetite_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.RiskAppetite, error) {
			if err := tx.LockAppetite(ctx); err != nil {
				return nil, err
			}
			a, err := tx.Appetite(ctx)
			if err != nil {
				return nil, err
			}
			if err := etag.Check(in.GetEtag(), domain.RiskAppetiteName, a.Version); err != nil {
				return nil, err
			}
			prev, before := a.Version, appetiteToProto(a)
			changed, categories, err := a.Apply(paths, fields, updater, s.now())
			if err != nil {
				return nil, err
			}
			if len(changed) == 0 {
				return before, nil
			}
			if err := tx.SaveAppetite(ctx, a, prev); err != nil {
				return nil, err
			}
			after := appetiteToProto(a)
			if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: domain.RiskAppetiteName,
				Before: before, After: after,
				Event: &riskv1.RiskAppetiteUpdated{RiskAppetite: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: a.Version}}); err != nil {
				return nil, err
			}
			risks, err := tx.OpenRisksOfCategories(ctx, categories)
			if err != nil {
				return nil, err
			}
			for _, r := range risks {
				prev, before := r.Version, riskToProto(r)
				changed, crossed := r.RemeasureAppetite(a, s.now())
				if !changed {
					continue
				}
				if err := tx.UpdateRisk(ctx, r, prev); err != nil {
					return nil, err
				}
				pb := riskToProto(r)
				var ev sqlstore.Event = &riskv1.RiskUpdated{Risk: pb, ChangedFields: &fieldmaskpb.FieldMask{Paths: []string{"above_appetite"}}, Version: r.Version}
				if crossed {
					ev = &riskv1.RiskAboveAppetite{Risk: pb, AppetiteLevel: riskv1.RiskLevel(a.For(r.Category)),
						Level: riskv1.RiskLevel(r.Residual.Level), Version: r.Version}
				}
				if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: r.Name(),
					Before: before, After: pb, Event: ev}); err != nil {
					return nil, err
				}
			}
			return after, nil
		})
	if err != nil {
		return nil, fault.Prefix("risk_appetite", err)
	}
	return out, nil
}
