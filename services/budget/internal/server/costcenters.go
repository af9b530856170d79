package server

import (
	"context"
	"slices"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// costCenterMask follows the field behaviors of the CostCenter message: output-only and
// immutable fields can never be named in an update_mask. Its writable fields are
// domain.WritableFields (a test keeps the two in step).
var costCenterMask = fieldmask.FromDescriptor((&budgetv1.CostCenter{}).ProtoReflect().Descriptor(), "name", "etag")

// CreateCostCenter implements budgetv1.BudgetServiceServer.
func (s *Server) CreateCostCenter(ctx context.Context, req *budgetv1.CreateCostCenterRequest) (*budgetv1.CostCenter, error) {
	id := req.GetCostCenterId()
	if id == "" {
		id = s.newID()
	}
	c, err := domain.NewCostCenter(id, costCenterFields(req.GetCostCenter()), s.now())
	if err != nil {
		return nil, fault.Prefix("cost_center", err)
	}
	// A new leaf cannot close a cycle; the foreign key reports a missing parent.
	// A retry with the request ID of a committed call gets that call's cost centre back.
	return idempotency.InTx(ctx, s.store.Within, budgetv1.BudgetService_CreateCostCenter_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*budgetv1.CostCenter, error) {
		if err := tx.InsertCostCenter(ctx, c); err != nil {
			return nil, fault.Prefix("cost_center", err)
		}
		pb := costCenterToProto(c)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: c.Name(), After: pb,
			Event: &budgetv1.CostCenterCreated{CostCenter: pb, Version: c.Version}})
	})
}

// GetCostCenter implements budgetv1.BudgetServiceServer.
func (s *Server) GetCostCenter(ctx context.Context, req *budgetv1.GetCostCenterRequest) (*budgetv1.CostCenter, error) {
	return names.GetAs(ctx, domain.CostCenterPattern, req.GetName(), s.store.GetCostCenter, costCenterToProto)
}

// ListCostCenters implements budgetv1.BudgetServiceServer.
func (s *Server) ListCostCenters(ctx context.Context, req *budgetv1.ListCostCentersRequest) (*budgetv1.ListCostCentersResponse, error) {
	page, token, err := listing.List(ctx, req, store.CostCenterTable, s.store.ListCostCenters, listing.Infallible(costCenterToProto))
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListCostCentersResponse{CostCenters: page, NextPageToken: token}, nil
}

// UpdateCostCenter implements budgetv1.BudgetServiceServer.
func (s *Server) UpdateCostCenter(ctx context.Context, req *budgetv1.UpdateCostCenterRequest) (*budgetv1.CostCenter, error) {
	in := req.GetCostCenter()
	if !domain.CostCenterPattern.Match(in.GetName()) {
		return nil, domain.CostCenterPattern.Invalid("cost_center.name")
	}
	paths, err := costCenterMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields := costCenterFields(in)
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*budgetv1.CostCenter, error) {
		moves := slices.Contains(paths, domain.FieldParent)
		if moves {
			// Taken before any row lock, in the same order by every mover, so that two moves
			// cannot deadlock or build a cycle together.
			if err := tx.LockHierarchy(ctx); err != nil {
				return nil, err
			}
		}
		c, err := names.Get(ctx, domain.CostCenterPattern, in.GetName(), tx.GetCostCenter)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), c.Name(), c.Version); err != nil {
			return nil, err
		}
		prev, before := c.Version, costCenterToProto(c)
		changed, err := c.Apply(paths, fields, s.now())
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return costCenterToProto(c), nil // nothing to write, nothing happened
		}
		if slices.Contains(changed, domain.FieldParent) && c.ParentID != "" {
			// A missing parent has no ancestors and fails on the foreign key at the update.
			ancestors, err := tx.Ancestors(ctx, c.ParentID)
			if err != nil {
				return nil, err
			}
			if err := c.CheckAncestry(ancestors); err != nil {
				return nil, err
			}
		}
		if err := tx.UpdateCostCenter(ctx, c, prev); err != nil {
			return nil, err
		}
		after := costCenterToProto(c)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: after,
			Event: &budgetv1.CostCenterUpdated{CostCenter: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: c.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("cost_center", err)
	}
	return out, nil
}

// DeleteCostCenter implements budgetv1.BudgetServiceServer.
func (s *Server) DeleteCostCenter(ctx context.Context, req *budgetv1.DeleteCostCenterRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := names.Get(ctx, domain.CostCenterPattern, req.GetName(), tx.GetCostCenter)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), c.Name(), c.Version); err != nil {
			return err
		}
		if has, err := tx.HasChildren(ctx, c.ID); err != nil {
			return err
		} else if has {
			return domain.ErrHasChildren.With("name", c.Name())
		}
		if err := tx.DeleteCostCenter(ctx, c.ID, c.Version); err != nil {
			return err
		}
		pb := costCenterToProto(c)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: c.Name(), Before: pb,
			Event: &budgetv1.CostCenterDeleted{CostCenter: pb, Version: c.Version + 1}})
	}))
}
