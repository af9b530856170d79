package rpc

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

const replayID = "0b5a1b3e-8f0c-4f6e-9a51-2f7c51a3d5a0"

func TestApplyEdgeMetadata(t *testing.T) {
	tests := []struct {
		name       string
		md         metadata.MD
		req, want  proto.Message
		violations []string // "field:reason"
	}{
		{"idempotency key fills request_id", metadata.Pairs(MetadataIdempotencyKey, replayID),
			&operationsv1.ReplayDeadLetterRequest{Name: "services/budget/deadLetters/1"},
			&operationsv1.ReplayDeadLetterRequest{Name: "services/budget/deadLetters/1", RequestId: replayID}, nil},
		{"same request_id in the body", metadata.Pairs(MetadataIdempotencyKey, replayID),
			&operationsv1.ReplayDeadLetterRequest{RequestId: replayID},
			&operationsv1.ReplayDeadLetterRequest{RequestId: replayID}, nil},
		{"different request_id in the body", metadata.Pairs(MetadataIdempotencyKey, replayID),
			&operationsv1.ReplayDeadLetterRequest{RequestId: "other"},
			&operationsv1.ReplayDeadLetterRequest{RequestId: "other"}, []string{"request_id:" + ReasonIdempotencyKeyConflict}},
		{"idempotency key twice", metadata.Pairs(MetadataIdempotencyKey, replayID, MetadataIdempotencyKey, "x"),
			&operationsv1.ReplayDeadLetterRequest{},
			&operationsv1.ReplayDeadLetterRequest{}, []string{"request_id:" + ReasonIdempotencyKeyConflict}},
		{"idempotency key on a method without request_id", metadata.Pairs(MetadataIdempotencyKey, replayID),
			&budgetv1.GetCostCenterRequest{Name: "costCenters/a"},
			&budgetv1.GetCostCenterRequest{Name: "costCenters/a"}, nil},
		{"quoted If-Match fills a delete's etag", metadata.Pairs(MetadataIfMatch, `"abc123"`),
			&budgetv1.DeleteCostCenterRequest{Name: "costCenters/a"},
			&budgetv1.DeleteCostCenterRequest{Name: "costCenters/a", Etag: "abc123"}, nil},
		{"weak bare If-Match", metadata.Pairs(MetadataIfMatch, `W/"abc123"`),
			&budgetv1.DeleteCostCenterRequest{},
			&budgetv1.DeleteCostCenterRequest{Etag: "abc123"}, nil},
		{"If-Match star sets nothing", metadata.Pairs(MetadataIfMatch, `*`),
			&budgetv1.DeleteCostCenterRequest{},
			&budgetv1.DeleteCostCenterRequest{}, nil},
		{"If-Match list", metadata.Pairs(MetadataIfMatch, `"a", "b"`),
			&budgetv1.DeleteCostCenterRequest{},
			&budgetv1.DeleteCostCenterRequest{}, []string{"etag:" + ReasonIfMatchInvalid}},
		{"If-Match differs from a delete's etag", metadata.Pairs(MetadataIfMatch, `"abc123"`),
			&budgetv1.DeleteCostCenterRequest{Etag: "zzz"},
			&budgetv1.DeleteCostCenterRequest{Etag: "zzz"}, []string{"etag:" + ReasonIfMatchConflict}},
		{"If-Match fills an update's resource etag", metadata.Pairs(MetadataIfMatch, `"abc123"`),
			&budgetv1.UpdateCostCenterRequest{CostCenter: &budgetv1.CostCenter{Name: "costCenters/a"}},
			&budgetv1.UpdateCostCenterRequest{CostCenter: &budgetv1.CostCenter{Name: "costCenters/a", Etag: "abc123"}}, nil},
		{"If-Match differs from an update's resource etag", metadata.Pairs(MetadataIfMatch, `"abc123"`),
			&budgetv1.UpdateCostCenterRequest{CostCenter: &budgetv1.CostCenter{Etag: "zzz"}},
			&budgetv1.UpdateCostCenterRequest{CostCenter: &budgetv1.CostCenter{Etag: "zzz"}}, []string{"cost_center.etag:" + ReasonIfMatchConflict}},
		{"If-Match on an update without the resource", metadata.Pairs(MetadataIfMatch, `"abc123"`),
			&budgetv1.UpdateCostCenterRequest{},
			&budgetv1.UpdateCostCenterRequest{}, nil},
		{"no metadata", nil,
			&budgetv1.DeleteCostCenterRequest{Name: "costCenters/a"},
			&budgetv1.DeleteCostCenterRequest{Name: "costCenters/a"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.md != nil {
				ctx = metadata.NewIncomingContext(ctx, tt.md)
			}
			err := applyEdgeMetadata(ctx, tt.req)
			var got []string
			if fe := fault.As(err); fe != nil {
				for _, v := range fe.Violations {
					got = append(got, v.Field+":"+v.Reason)
				}
			} else if err != nil {
				t.Fatalf("err = %v, want a fault", err)
			}
			if !slices.Equal(got, tt.violations) {
				t.Errorf("violations = %v, want %v", got, tt.violations)
			}
			if !proto.Equal(tt.req, tt.want) {
				t.Errorf("request = %v, want %v", tt.req, tt.want)
			}
		})
	}
}
