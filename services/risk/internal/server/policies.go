package server

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// policyToProto is p as the API shows it.
func policyToProto(p *domain.Policy) *riskv1.Policy {
	return &riskv1.Policy{
		Name:                p.Name(),
		Title:               p.Title,
		Summary:             p.Summary,
		Owner:               p.Owner,
		Everyone:            p.Everyone,
		Teams:               p.Teams,
		AcknowledgementDays: p.AcknowledgementDays,
		CurrentVersion:      p.CurrentVersion(),
		EffectiveDate:       civil.ToProto(p.EffectiveDate),
		DocumentUri:         p.DocumentURI,
		CreateTime:          timestamppb.New(p.CreateTime),
		UpdateTime:          timestamppb.New(p.UpdateTime),
		Etag:                etag.Of(p.Name(), p.Version),
	}
}

// policyVersionToProto is v as the API shows it.
func policyVersionToProto(v *domain.PolicyVersion) *riskv1.PolicyVersion {
	return &riskv1.PolicyVersion{
		Name:                    v.Name(),
		Version:                 v.Number(),
		Major:                   v.Major,
		Minor:                   v.Minor,
		DocumentUri:             v.DocumentURI,
		EffectiveDate:           civil.ToProto(v.EffectiveDate),
		ChangeSummary:           v.ChangeSummary,
		RequiresAcknowledgement: v.RequiresAcknowledgement(),
		AcknowledgementDueDate:  civil.ToProto(v.AcknowledgementDueDate),
		Publisher:               v.Publisher,
		CreateTime:              timestamppb.New(v.CreateTime),
	}
}

// CreatePolicy implements riskv1.ComplianceServiceServer.
func (s *Compliance) CreatePolicy(ctx context.Context, req *riskv1.CreatePolicyRequest) (*riskv1.Policy, error) {
	in := req.GetPolicy()
	p, err := domain.NewPolicy(s.id(req.GetPolicyId()), domain.PolicyFields{Title: in.GetTitle(), Summary: in.GetSummary(),
		Owner: in.GetOwner(), Everyone: in.GetEveryone(), Teams: in.GetTeams(), AcknowledgementDays: in.GetAcknowledgementDays()}, s.now())
	if err != nil {
		return nil, err
	}
	return idempotency.InTx(ctx, s.store.Within, riskv1.ComplianceService_CreatePolicy_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.Policy, error) {
			if err := tx.InsertPolicy(ctx, p); err != nil {
				return nil, err
			}
			pb := policyToProto(p)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: p.Name(), After: pb,
				Event: &riskv1.PolicyCreated{Policy: pb, Version: p.Version}})
		})
}

// GetPolicy implements riskv1.ComplianceServiceServer.
func (s *Compliance) GetPolicy(ctx context.Context, req *riskv1.GetPolicyRequest) (*riskv1.Policy, error) {
	return names.GetAs(ctx, domain.PolicyPattern, req.GetName(), s.store.GetPolicy, policyToProto)
}

// ListPolicies implements riskv1.ComplianceServiceServer.
func (s *Compliance) ListPolicies(ctx context.Context, req *riskv1.ListPoliciesRequest) (*riskv1.ListPoliciesResponse, error) {
	page, token, err := listing.List(ctx, req, store.PolicyTable, s.store.ListPolicies, listing.Infallible(policyToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListPoliciesResponse{Policies: page, NextPageToken: token}, nil
}

// CreatePolicyVersion implements riskv1.ComplianceServiceServer: the version is numbered after
// the policy's current one and becomes it, in one transaction.
func (s *Compliance) CreatePolicyVersion(ctx context.Context, req *riskv1.CreatePolicyVersionRequest) (*riskv1.PolicyVersion, error) {
	var policyID string
	domain.PolicyPattern.Scan(req.GetParent(), &policyID)
	in := req.GetPolicyVersion()
	var effective civil.Date
	if in.GetEffectiveDate() != nil {
		var err error
		if effective, err = civil.FromProtoField(in.GetEffectiveDate(), "policy_version.effective_date"); err != nil {
			return nil, err
		}
	}
	now := s.now()
	return idempotency.InTx(ctx, s.store.Within, riskv1.ComplianceService_CreatePolicyVersion_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.PolicyVersion, error) {
			p, err := tx.GetPolicy(ctx, policyID)
			if err != nil {
				return nil, err
			}
			// A minor version's acknowledgements are due with its major version's.
			var major *domain.PolicyVersion
			if p.Major > 0 && in.GetChange() == riskv1.PolicyChange_MINOR {
				major, err = tx.GetPolicyVersion(ctx, p.ID, domain.PolicyVersionID(p.Major, 0))
				if err != nil && !errors.Is(err, domain.ErrPolicyVersionNotFound) {
					return nil, err
				}
			}
			prev := p.Version
			v := &domain.PolicyVersion{DocumentURI: in.GetDocumentUri(), EffectiveDate: effective, ChangeSummary: in.GetChangeSummary()}
			if err := p.Publish(v, domain.PolicyChange(in.GetChange()), major, identity.Owner(ctx), now); err != nil {
				return nil, err
			}
			if err := tx.InsertPolicyVersion(ctx, v); err != nil {
				return nil, err
			}
			if err := tx.UpdatePolicy(ctx, p, prev); err != nil {
				return nil, err
			}
			pb, after := policyVersionToProto(v), policyToProto(p)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), After: after,
				Event: &riskv1.PolicyVersionPublished{Policy: after, PolicyVersion: pb, Version: p.Version}})
		})
}

// GetPolicyVersion implements riskv1.ComplianceServiceServer.
func (s *Compliance) GetPolicyVersion(ctx context.Context, req *riskv1.GetPolicyVersionRequest) (*riskv1.PolicyVersion, error) {
	var policyID, id string
	domain.PolicyVersionPattern.ScanResource(req.GetName(), &policyID, &id)
	v, err := s.store.GetPolicyVersion(ctx, policyID, id)
	if err != nil {
		return nil, err
	}
	return policyVersionToProto(v), nil
}

// ListPolicyVersions implements riskv1.ComplianceServiceServer: newest first. A policy that
// does not exist fails with NOT_FOUND.
func (s *Compliance) ListPolicyVersions(ctx context.Context, req *riskv1.ListPolicyVersionsRequest) (*riskv1.ListPolicyVersionsResponse, error) {
	var policyID string
	domain.PolicyPattern.Scan(req.GetParent(), &policyID)
	if _, err := s.store.GetPolicy(ctx, policyID); err != nil {
		return nil, err
	}
	page, token, err := listing.List(ctx, req, store.PolicyVersionTable,
		func(ctx context.Context, q *listing.Query) ([]*domain.PolicyVersion, error) {
			return s.store.ListPolicyVersions(ctx, policyID, q)
		}, listing.Infallible(policyVersionToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListPolicyVersionsResponse{PolicyVersions: page, NextPageToken: token}, nil
}
