package server

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
)

func costCenterToProto(c *domain.CostCenter) *budgetv1.CostCenter {
	pb := &budgetv1.CostCenter{
		Name:        c.Name(),
		DisplayName: c.DisplayName,
		Code:        c.Code,
		Owner:       c.Owner,
		Active:      proto.Bool(c.Active),
		Description: c.Description,
		CreateTime:  timestamppb.New(c.CreateTime),
		UpdateTime:  timestamppb.New(c.UpdateTime),
		Etag:        etag.Of(c.Name(), c.Version),
	}
	if c.ParentID != "" {
		pb.Parent = domain.CostCenterName(c.ParentID)
	}
	return pb
}

// costCenterFields takes the writable fields of a request's cost centre. The parent name was
// checked against its pattern by the request's validation rules.
func costCenterFields(pb *budgetv1.CostCenter) domain.CostCenterFields {
	f := domain.CostCenterFields{
		DisplayName: pb.GetDisplayName(),
		Code:        pb.GetCode(),
		Owner:       pb.GetOwner(),
		Description: pb.GetDescription(),
	}
	if pb.Active != nil {
		f.Active = proto.Bool(pb.GetActive())
	}
	if pb.GetParent() != "" {
		f.ParentID, _ = domain.CostCenterPattern.Last(pb.GetParent())
	}
	return f
}
