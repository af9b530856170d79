package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// policyMask follows the field behaviors of the Policy message.
var policyMask = fieldmask.FromDescriptor((&riskv1.Policy{}).ProtoReflect().Descriptor(), "name", "etag")

// policyFields takes the writable fields of a request's policy.
func policyFields(pb *riskv1.Policy) domain.PolicyFields {
	return domain.PolicyFields{Title: pb.GetTitle(), Summary: pb.GetSummary(), Owner: pb.GetOwner(),
		Everyone: pb.GetEveryone(), Teams: pb.GetTeams(), AcknowledgementDays: pb.GetAcknowledgementDays()}
}

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
	p, err := domain.NewPolicy(s.id(req.GetPolicyId()), policyFields(in), s.now())
	if err != nil {
		return nil, err
	}
	if err := s.askTalentTeams(ctx, in.GetTeams(), nil); err != nil {
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

// fullPolicyPage is the most policies a page of ListPolicies' FULL view holds: each one's
// campaign is counted in the page's transaction.
const fullPolicyPage = 100

// ListPolicies implements riskv1.ComplianceServiceServer.
func (s *Compliance) ListPolicies(ctx context.Context, req *riskv1.ListPoliciesRequest) (*riskv1.ListPoliciesResponse, error) {
	if req.GetView() != riskv1.ListPoliciesRequest_FULL {
		page, token, err := listing.List(ctx, req, store.PolicyTable, s.store.ListPolicies, listing.Infallible(policyToProto))
		if err != nil {
			return nil, err
		}
		return &riskv1.ListPoliciesResponse{Policies: page, NextPageToken: token}, nil
	}
	if req.GetPageSize() > fullPolicyPage {
		req = proto.CloneOf(req)
		req.PageSize = fullPolicyPage
	}
	now := s.now()
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.ListPoliciesResponse, error) {
		page, token, err := listing.List(ctx, req, store.PolicyTable, tx.ListPolicies, func(p *domain.Policy) (*riskv1.Policy, error) {
			c, err := campaignCounts(ctx, tx, p, now)
			if err != nil {
				return nil, err
			}
			pb := policyToProto(p)
			pb.Campaign = c
			return pb, nil
		})
		if err != nil {
			return nil, err
		}
		return &riskv1.ListPoliciesResponse{Policies: page, NextPageToken: token}, nil
	})
}

// UpdatePolicy implements riskv1.ComplianceServiceServer.
func (s *Compliance) UpdatePolicy(ctx context.Context, req *riskv1.UpdatePolicyRequest) (*riskv1.Policy, error) {
	in := req.GetPolicy()
	var id string
	if !domain.PolicyPattern.Scan(in.GetName(), &id) {
		return nil, domain.PolicyPattern.Invalid("policy.name")
	}
	paths, err := policyMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	var known []string
	if slices.Contains(paths, "teams") && len(in.GetTeams()) > 0 {
		// Only the teams the policy does not name yet are asked about, before the transaction.
		stored, err := s.store.GetPolicy(ctx, id)
		if err != nil {
			return nil, err
		}
		known = stored.Teams
		if err := s.askTalentTeams(ctx, in.GetTeams(), known); err != nil {
			return nil, err
		}
	}
	now := s.now()
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.Policy, error) {
		p, err := tx.GetPolicy(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		for _, team := range in.GetTeams() {
			// A team not asked about as the policy's, which it no longer is: the teams changed since.
			if slices.Contains(known, team) && !slices.Contains(p.Teams, team) {
				return nil, sqldb.ErrConflict
			}
		}
		prev, before := p.Version, policyToProto(p)
		changed, err := p.Apply(paths, policyFields(in), now)
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.UpdatePolicy(ctx, p, prev); err != nil {
			return nil, err
		}
		after := policyToProto(p)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
			Event: &riskv1.PolicyUpdated{Policy: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: p.Version}})
	})
}

// askTalentTeams asks talent, as the caller, about each team of teams that known does not name:
// one talent does not know is refused on its field of policy.teams, with reason TEAM_NOT_FOUND;
// talent down is UNAVAILABLE.
func (s *Server) askTalentTeams(ctx context.Context, teams, known []string) error {
	var vs fault.Violations
	for i, team := range teams {
		if slices.Contains(known, team) {
			continue
		}
		_, err := s.talent.GetTeam(ctx, &talentv1.GetTeamRequest{Name: team})
		var pe *peer.Error
		switch {
		case errors.As(err, &pe) && pe.Code() == codes.NotFound:
			vs.Add(fmt.Sprintf("policy.teams[%d]", i), domain.ErrPolicyTeamNotFound.Reason,
				fmt.Sprintf("talent does not know %s", team))
		case err != nil:
			return peer.WithFacts(err)
		}
	}
	return vs.Err()
}

// DeletePolicy implements riskv1.ComplianceServiceServer.
func (s *Compliance) DeletePolicy(ctx context.Context, req *riskv1.DeletePolicyRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		p, err := names.Get(ctx, domain.PolicyPattern, req.GetName(), tx.GetPolicy)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), p.Name(), p.Version); err != nil {
			return err
		}
		before := policyToProto(p)
		if err := tx.DeletePolicy(ctx, p); err != nil {
			return err
		}
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: p.Name(), Before: before,
			Event: &riskv1.PolicyDeleted{Policy: before, Version: p.Version + 1}})
	}))
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
			if v.RequiresAcknowledgement() {
				if err := tx.SchedulePolicyOverdue(ctx, p, v.AcknowledgementDueDate); err != nil {
					return nil, err
				}
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

// Who must acknowledge a policy is read from the service's own table of talent's people
// (store.ApplyMember), kept from talent's person.joined, person.updated, person.moved and
// person.left events (personChanged): a campaign is never a call to talent. An acknowledgement
// asks talent about its person, once, before its transaction.

// policySchedules are the due items of policies: the day after a major version's
// acknowledgements were due.
func (s *Server) policySchedules() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{store.PolicyOverdueKind: s.PolicyAcknowledgementOverdue}
}

// personChanged is the reaction to talent's person.joined, person.updated, person.moved and
// person.left: the person's display name, team and presence in the service's table of people,
// at the event's version.
func (s *Server) personChanged(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	var (
		p       *talentv1.Person
		version int64
	)
	switch m := ev.Message.(type) {
	case *talentv1.PersonJoined:
		p, version = m.GetPerson(), m.GetVersion()
	case *talentv1.PersonUpdated:
		p, version = m.GetPerson(), m.GetVersion()
	case *talentv1.PersonMoved:
		p, version = m.GetPerson(), m.GetVersion()
	case *talentv1.PersonLeft:
		p, version = m.GetPerson(), m.GetVersion()
	default:
		return fault.Field("payload", "UNEXPECTED_TYPE", fmt.Sprintf("want a person event, got %s", ev.Type))
	}
	var id string
	if !domain.PersonPattern.Scan(p.GetName(), &id) {
		return fault.Field("person.name", "INVALID_NAME", fmt.Sprintf("%q is not a person's name", p.GetName()))
	}
	_, err := tx.ApplyMember(ctx, domain.Member{PersonID: id, DisplayName: p.GetDisplayName(), Team: p.GetTeam(),
		Active: p.GetState() != talentv1.Person_LEFT, Version: version})
	return err
}

// acknowledgementToProto is a as the API shows it.
func acknowledgementToProto(a *domain.PolicyAcknowledgement) *riskv1.PolicyAcknowledgement {
	return &riskv1.PolicyAcknowledgement{
		Person:          a.Person(),
		PolicyVersion:   a.VersionName(),
		Version:         domain.VersionNumber(a.Major, a.Minor),
		Recorder:        a.Recorder,
		AcknowledgeTime: timestamppb.New(a.AcknowledgeTime),
	}
}

// AcknowledgePolicy implements riskv1.ComplianceServiceServer.
func (s *Compliance) AcknowledgePolicy(ctx context.Context, req *riskv1.AcknowledgePolicyRequest) (*riskv1.PolicyAcknowledgement, error) {
	var policyID, personID string
	domain.PolicyPattern.Scan(req.GetName(), &policyID)
	domain.PersonPattern.Scan(req.GetPerson(), &personID)
	switch err := s.askTalent(ctx, req.GetPerson()); {
	case errors.Is(err, domain.ErrRolePersonNotFound):
		return nil, domain.ErrRolePersonNotFound.OnField("person", "talent does not know this person").With("person", req.GetPerson())
	case errors.Is(err, domain.ErrRolePersonLeft):
		return nil, domain.ErrRolePersonLeft.OnField("person", "this person has left the organisation").With("person", req.GetPerson())
	case err != nil:
		return nil, err
	}
	now := s.now()
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.PolicyAcknowledgement, error) {
		p, err := tx.GetPolicy(ctx, policyID)
		if err != nil {
			return nil, err
		}
		if p.Major == 0 {
			return nil, domain.ErrPolicyNotPublished.With("policy", p.Name())
		}
		a, inserted, err := tx.InsertAcknowledgement(ctx, &domain.PolicyAcknowledgement{PolicyID: p.ID, PersonID: personID,
			Major: p.Major, Minor: p.Minor, Recorder: identity.Owner(ctx), AcknowledgeTime: now.UTC().Truncate(time.Microsecond)})
		if err != nil || !inserted {
			return acknowledgementToProto(a), err
		}
		prev := p.Version
		p.Version++ // an acknowledgement is a change of the policy's campaign
		if err := tx.UpdatePolicy(ctx, p, prev); err != nil {
			return nil, err
		}
		pb := acknowledgementToProto(a)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), After: pb,
			Event: &riskv1.PolicyAcknowledged{Policy: p.Name(), Acknowledgement: pb, Version: p.Version}})
	})
}

// campaign reads the campaign of policy p on today.
func campaign(ctx context.Context, r interface {
	CampaignPeople(context.Context, *domain.Policy) ([]domain.CampaignEntry, error)
	versionReader
}, p *domain.Policy, today civil.Date) (*domain.Campaign, error) {
	c, err := campaignWithoutPeople(ctx, r, p, today)
	if err != nil || p.Major == 0 {
		return c, err
	}
	c.People, err = r.CampaignPeople(ctx, p)
	return c, err
}

// versionReader reads a policy's version: a store.Tx.
type versionReader interface {
	GetPolicyVersion(context.Context, string, string) (*domain.PolicyVersion, error)
}

// campaignWithoutPeople reads the campaign of policy p on today but not its people: its due date,
// and so whether it is overdue.
func campaignWithoutPeople(ctx context.Context, r versionReader, p *domain.Policy, today civil.Date) (*domain.Campaign, error) {
	c := &domain.Campaign{Policy: p, Today: today}
	if p.Major == 0 {
		return c, nil
	}
	v, err := r.GetPolicyVersion(ctx, p.ID, domain.PolicyVersionID(p.Major, p.Minor))
	if err != nil {
		return nil, err
	}
	c.DueDate = v.AcknowledgementDueDate
	return c, nil
}

// campaignToProto is c as the API shows it, computed at now, with its people.
func campaignToProto(c *domain.Campaign, now time.Time) *riskv1.PolicyCampaign {
	required, acknowledged, _, _ := c.Counts()
	pb := campaignCountsToProto(c, now, required, acknowledged)
	for _, e := range c.People {
		e.Overdue = e.Acknowledgement == nil && c.Overdue()
		pb.People = append(pb.People, campaignPersonToProto(e))
	}
	return pb
}

// campaignCountsToProto is c as the API shows it, computed at now, without people: required of
// them must acknowledge, and acknowledged have.
func campaignCountsToProto(c *domain.Campaign, now time.Time, required, acknowledged int32) *riskv1.PolicyCampaign {
	pending, overdue := c.Pending(required, acknowledged)
	pb := &riskv1.PolicyCampaign{Name: c.Policy.Name() + "/campaign", DueDate: civil.ToProto(c.DueDate),
		RequiredCount: required, AcknowledgedCount: acknowledged, PendingCount: pending, OverdueCount: overdue,
		ComputeTime: timestamppb.New(now)}
	if c.Policy.Major > 0 {
		pb.PolicyVersion = domain.PolicyVersionName(c.Policy.ID, c.Policy.Major, c.Policy.Minor)
	}
	return pb
}

// campaignPersonToProto is a person of a campaign as the API shows them.
func campaignPersonToProto(e domain.CampaignEntry) *riskv1.CampaignPerson {
	cp := &riskv1.CampaignPerson{Person: domain.PersonPattern.Format(e.PersonID), DisplayName: e.DisplayName, Team: e.Team,
		AcknowledgedVersion: e.AcknowledgedVersion(), Overdue: e.Overdue}
	if a := e.Acknowledgement; a != nil {
		cp.AcknowledgeTime = timestamppb.New(a.AcknowledgeTime)
	}
	return cp
}

// GetPolicyCampaign implements riskv1.ComplianceServiceServer.
func (s *Compliance) GetPolicyCampaign(ctx context.Context, req *riskv1.GetPolicyCampaignRequest) (*riskv1.PolicyCampaign, error) {
	var policyID string
	domain.PolicyPattern.Scan(req.GetName()[:len(req.GetName())-len("/campaign")], &policyID)
	now := s.now()
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.PolicyCampaign, error) {
		p, err := tx.GetPolicy(ctx, policyID)
		if err != nil {
			return nil, err
		}
		if req.GetView() != riskv1.GetPolicyCampaignRequest_BASIC {
			c, err := campaign(ctx, tx, p, civil.DateOf(now))
			if err != nil {
				return nil, err
			}
			return campaignToProto(c, now), nil
		}
		return campaignCounts(ctx, tx, p, now)
	})
}

// campaignCounts is the campaign of policy p at now as the API shows it without its people
// (GetPolicyCampaign's BASIC view), counted in the database.
func campaignCounts(ctx context.Context, tx store.Tx, p *domain.Policy, now time.Time) (*riskv1.PolicyCampaign, error) {
	c, err := campaignWithoutPeople(ctx, tx, p, civil.DateOf(now))
	if err != nil {
		return nil, err
	}
	var required, acknowledged int32
	if p.Major > 0 {
		if required, acknowledged, err = tx.CampaignCounts(ctx, p); err != nil {
			return nil, err
		}
	}
	return campaignCountsToProto(c, now, required, acknowledged), nil
}

// ListPolicyCampaignPeople implements riskv1.ComplianceServiceServer.
func (s *Compliance) ListPolicyCampaignPeople(ctx context.Context, req *riskv1.ListPolicyCampaignPeopleRequest) (*riskv1.ListPolicyCampaignPeopleResponse, error) {
	var policyID string
	domain.PolicyPattern.Scan(req.GetParent()[:len(req.GetParent())-len("/campaign")], &policyID)
	today := civil.DateOf(s.now())
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.ListPolicyCampaignPeopleResponse, error) {
		p, err := tx.GetPolicy(ctx, policyID)
		if err != nil {
			return nil, err
		}
		c, err := campaignWithoutPeople(ctx, tx, p, today)
		if err != nil {
			return nil, err
		}
		page, token, err := listing.List(ctx, req, store.CampaignPersonTable, func(ctx context.Context, q *listing.Query) ([]domain.CampaignEntry, error) {
			if p.Major == 0 {
				return nil, nil
			}
			return tx.ListCampaignPeople(ctx, p, c.Overdue(), q)
		}, listing.Infallible(campaignPersonToProto))
		if err != nil {
			return nil, err
		}
		return &riskv1.ListPolicyCampaignPeopleResponse{People: page, NextPageToken: token}, nil
	})
}

// maxOverduePeople is how many people an acknowledgement_overdue event names.
const maxOverduePeople = 1000

// PolicyAcknowledgementOverdue is the scheduler.Handler of store.PolicyOverdueKind: on the day
// after a major version's acknowledgements were due it publishes one
// policy.acknowledgement_overdue about the policy with the people who have not acknowledged it,
// when there are any. An item left over from an earlier major version, or of a policy that is
// gone, does nothing.
func (s *Server) PolicyAcknowledgementOverdue(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var id string
	if !domain.PolicyPattern.Scan(item.Resource, &id) {
		return scheduler.Permanent(fmt.Errorf("acknowledgement item %q: not a policy name", item.Resource))
	}
	tx := store.Join(t)
	p, err := tx.GetPolicy(ctx, id)
	if errors.Is(err, domain.ErrPolicyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	day := civil.DateOf(item.Due.UTC())
	c, err := campaign(ctx, tx, p, day)
	if err != nil || c.DueDate.AddDays(1) != day {
		return err
	}
	required, _, _, overdue := c.Counts()
	if overdue == 0 {
		return nil
	}
	var people []string
	for _, e := range c.People {
		if e.Acknowledgement == nil && len(people) < maxOverduePeople {
			people = append(people, domain.PersonPattern.Format(e.PersonID))
		}
	}
	prev := p.Version
	p.Version++ // the event is a change of the policy's campaign: it fell overdue
	if err := tx.UpdatePolicy(ctx, p, prev); err != nil {
		return err
	}
	return tx.Emit(ctx, p.Name(), &riskv1.PolicyAcknowledgementOverdue{
		Policy:        policyToProto(p),
		PolicyVersion: domain.PolicyVersionName(p.ID, p.Major, p.Minor),
		DueDate:       civil.ToProto(c.DueDate),
		RequiredCount: required,
		OverdueCount:  overdue,
		OverduePeople: people,
		DueTime:       timestamppb.New(item.Due.UTC()),
		FireTime:      timestamppb.New(item.FiredAt.UTC().Truncate(time.Microsecond)),
		Version:       p.Version,
	})
}
