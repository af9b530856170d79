package server

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// GetCompliancePosture implements riskv1.ComplianceServiceServer: the counts and the gaps are
// computed by the database from the controls' latest results, as of the call.
func (s *Compliance) GetCompliancePosture(ctx context.Context, req *riskv1.GetCompliancePostureRequest) (*riskv1.CompliancePosture, error) {
	var f string
	domain.PosturePattern.Scan(req.GetName(), &f)
	if _, err := s.store.GetFramework(ctx, f); err != nil {
		return nil, err
	}
	now := s.now()
	p, err := s.store.Posture(ctx, f)
	if err != nil {
		return nil, err
	}
	gaps, err := s.store.Gaps(ctx, f)
	if err != nil {
		return nil, err
	}
	pb := postureToProto(p)
	pb.ComputeTime = timestamppb.New(now)
	for _, g := range gaps {
		pb.Gaps = append(pb.Gaps, &riskv1.RequirementGap{Requirement: g.Name(), Identifier: g.Identifier, Title: g.Title,
			Coverage: riskv1.Coverage(g.Coverage), Controls: g.Controls})
	}
	return pb, nil
}

// snapshotToProto is ps as the API shows it.
func snapshotToProto(ps *domain.PostureSnapshot) *riskv1.PostureSnapshot {
	return &riskv1.PostureSnapshot{Name: ps.Name(), SnapshotDate: civil.ToProto(ps.Date), RequirementCount: ps.RequirementCount,
		CoveredCount: ps.Covered, PartialCount: ps.Partial, NotCoveredCount: ps.NotCovered}
}

// ListPostureSnapshots implements riskv1.ComplianceServiceServer. A framework that does not exist
// fails with NOT_FOUND.
func (s *Compliance) ListPostureSnapshots(ctx context.Context, req *riskv1.ListPostureSnapshotsRequest) (*riskv1.ListPostureSnapshotsResponse, error) {
	var f string
	domain.FrameworkPattern.Scan(req.GetParent(), &f)
	if _, err := s.store.GetFramework(ctx, f); err != nil {
		return nil, err
	}
	page, token, err := listing.List(ctx, req, store.SnapshotTable,
		func(ctx context.Context, q *listing.Query) ([]*domain.PostureSnapshot, error) {
			return s.store.ListPostureSnapshots(ctx, f, q)
		}, listing.Infallible(snapshotToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListPostureSnapshotsResponse{PostureSnapshots: page, NextPageToken: token}, nil
}
