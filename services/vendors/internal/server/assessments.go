package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// An assessment's calls lock its vendor before the assessment, in that order, so that two
// completions of one vendor's assessments make the vendor's latest assessment and its
// reassessment item agree.

// assessmentMask follows the field behaviors of the Assessment message: `template` is
// immutable, the scores output only; `assessor` and `answers` are writable.
var assessmentMask = fieldmask.FromDescriptor((&vendorsv1.Assessment{}).ProtoReflect().Descriptor(), "name", "etag")

// CreateAssessment implements vendorsv1.VendorsServiceServer.
func (s *Server) CreateAssessment(ctx context.Context, req *vendorsv1.CreateAssessmentRequest) (*vendorsv1.Assessment, error) {
	vendorID, _ := domain.VendorPattern.Last(req.GetParent())
	in := req.GetAssessment()
	templateID, ok := domain.AssessmentTemplatePattern.Last(in.GetTemplate())
	if !ok {
		return nil, fault.Field("assessment.template", "REQUIRED", "an assessment needs a template, "+string(domain.AssessmentTemplatePattern))
	}
	id := s.id(req.GetAssessmentId())
	answers := answersFromProto(in.GetAnswers())
	return idempotency.InTx(ctx, s.store.Within, vendorsv1.VendorsService_CreateAssessment_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*vendorsv1.Assessment, error) {
			v, err := tx.LockOpenVendor(ctx, vendorID)
			if err != nil {
				return nil, err
			}
			t, err := tx.GetAssessmentTemplate(ctx, templateID)
			if err != nil {
				return nil, fault.Named(err, in.GetTemplate())
			}
			a, err := domain.NewAssessment(v, id, t, in.GetAssessor(), answers, s.now())
			if err != nil {
				return nil, fault.Prefix("assessment", err)
			}
			if err := tx.InsertAssessment(ctx, a); err != nil {
				return nil, err
			}
			pb := assessmentToProto(a)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: a.Name(), After: pb,
				Event: &vendorsv1.AssessmentStarted{Assessment: pb, Version: a.Version}})
		})
}

// getAssessment reads the assessment named name with get, NOT_FOUND naming it when it does not
// exist.
func getAssessment(ctx context.Context, name string, get func(ctx context.Context, vendorID, id string) (*domain.Assessment, error)) (*domain.Assessment, error) {
	var vendorID, id string
	domain.AssessmentPattern.Scan(name, &vendorID, &id)
	a, err := get(ctx, vendorID, id)
	return a, fault.Named(err, name)
}

// GetAssessment implements vendorsv1.VendorsServiceServer.
func (s *Server) GetAssessment(ctx context.Context, req *vendorsv1.GetAssessmentRequest) (*vendorsv1.Assessment, error) {
	a, err := getAssessment(ctx, req.GetName(), s.store.GetAssessment)
	if err != nil {
		return nil, err
	}
	return assessmentToProto(a), nil
}

// ListAssessments implements vendorsv1.VendorsServiceServer.
func (s *Server) ListAssessments(ctx context.Context, req *vendorsv1.ListAssessmentsRequest) (*vendorsv1.ListAssessmentsResponse, error) {
	vendorID, _ := domain.VendorPattern.Last(req.GetParent())
	// The vendor is looked for after the query is planned, so that a malformed request is
	// INVALID_ARGUMENT before a missing vendor is NOT_FOUND.
	fetch := func(ctx context.Context, q *listing.Query) ([]*domain.Assessment, error) {
		if vendorID != store.Wildcard {
			if ok, err := s.store.VendorExists(ctx, vendorID); err != nil {
				return nil, err
			} else if !ok {
				return nil, fault.Named(domain.ErrVendorNotFound, req.GetParent())
			}
		}
		return s.store.ListAssessments(ctx, vendorID, q)
	}
	page, token, err := listing.List(ctx, req, store.AssessmentTable, fetch, listing.Infallible(assessmentToProto))
	if err != nil {
		return nil, err
	}
	return &vendorsv1.ListAssessmentsResponse{Assessments: page, NextPageToken: token}, nil
}

// UpdateAssessment implements vendorsv1.VendorsServiceServer. The API has no event of an
// assessment's answers changing: the change is in the audit log, and the answers are in the
// events of its completion.
func (s *Server) UpdateAssessment(ctx context.Context, req *vendorsv1.UpdateAssessmentRequest) (*vendorsv1.Assessment, error) {
	in := req.GetAssessment()
	var vendorID, id string
	if !domain.AssessmentPattern.Scan(in.GetName(), &vendorID, &id) {
		return nil, domain.AssessmentPattern.Invalid("assessment.name")
	}
	paths, err := assessmentMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields := domain.AssessmentFields{Assessor: in.GetAssessor(), Answers: answersFromProto(in.GetAnswers())}
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*vendorsv1.Assessment, error) {
		v, err := tx.LockVendor(ctx, vendorID)
		if errors.Is(err, domain.ErrVendorNotFound) {
			return nil, fault.Named(domain.ErrAssessmentNotFound, in.GetName())
		}
		if err != nil {
			return nil, err
		}
		a, err := getAssessment(ctx, in.GetName(), tx.GetAssessment)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), a.Name(), a.Version); err != nil {
			return nil, err
		}
		prev, before := a.Version, assessmentToProto(a)
		changed, err := a.Apply(paths, fields, v.Owner, s.now())
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.UpdateAssessment(ctx, a, prev); err != nil {
			return nil, err
		}
		after := assessmentToProto(a)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: a.Name(), Before: before, After: after})
	})
	if err != nil {
		return nil, fault.Prefix("assessment", err)
	}
	return out, nil
}

// CompleteAssessment implements vendorsv1.VendorsServiceServer: it scores and rates the
// assessment, sets it valid for the reassessment cadence of the vendor's tier, makes it the
// vendor's latest assessment and arms the vendor's reassessment (store.ScheduleAssessmentDue)
// in place of the one of the assessment it replaces, all in one transaction.
func (s *Server) CompleteAssessment(ctx context.Context, req *vendorsv1.CompleteAssessmentRequest) (*vendorsv1.Assessment, error) {
	var vendorID, id string
	domain.AssessmentPattern.Scan(req.GetName(), &vendorID, &id)
	return idempotency.InTx(ctx, s.store.Within, vendorsv1.VendorsService_CompleteAssessment_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*vendorsv1.Assessment, error) {
			v, err := tx.LockVendor(ctx, vendorID)
			if errors.Is(err, domain.ErrVendorNotFound) {
				return nil, fault.Named(domain.ErrAssessmentNotFound, req.GetName())
			}
			if err != nil {
				return nil, err
			}
			a, err := getAssessment(ctx, req.GetName(), tx.GetAssessment)
			if err != nil {
				return nil, err
			}
			if err := etag.Check(req.GetEtag(), a.Name(), a.Version); err != nil {
				return nil, err
			}
			if v.State == domain.VendorOffboarded {
				return nil, domain.ErrVendorOffboarded.With("name", v.Name())
			}
			if v.Tier < 1 || int(v.Tier) > len(s.cfg.ReassessmentMonths) {
				return nil, fmt.Errorf("vendor %s has tier %d, outside 1 to %d", a.Vendor(), v.Tier, len(s.cfg.ReassessmentMonths))
			}
			prev, before := a.Version, assessmentToProto(a)
			now := s.now()
			if err := a.Complete(v.Tier, s.cfg.ReassessmentMonths[v.Tier-1], now); err != nil {
				return nil, err
			}
			if err := tx.UpdateAssessment(ctx, a, prev); err != nil {
				return nil, err
			}
			prevVendor := v.Version
			v.RecordAssessment(a, now)
			if err := tx.UpdateVendor(ctx, v, prevVendor); err != nil {
				return nil, err
			}
			if err := tx.ScheduleAssessmentDue(ctx, a); err != nil {
				return nil, err
			}
			after := assessmentToProto(a)
			return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: a.Name(), Before: before, After: after,
				Event: &vendorsv1.AssessmentCompleted{Assessment: after, Vendor: a.Vendor(), VendorTier: v.Tier,
					RiskRating: vendorsv1.RiskRating(a.RiskRating), Version: a.Version, VendorDisplayName: v.DisplayName}})
		})
}

// CancelAssessment implements vendorsv1.VendorsServiceServer.
func (s *Server) CancelAssessment(ctx context.Context, req *vendorsv1.CancelAssessmentRequest) (*vendorsv1.Assessment, error) {
	return idempotency.InTx(ctx, s.store.Within, vendorsv1.VendorsService_CancelAssessment_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*vendorsv1.Assessment, error) {
			a, err := getAssessment(ctx, req.GetName(), tx.GetAssessment)
			if err != nil {
				return nil, err
			}
			if err := etag.Check(req.GetEtag(), a.Name(), a.Version); err != nil {
				return nil, err
			}
			prev, before := a.Version, assessmentToProto(a)
			if err := a.Cancel(req.GetReason(), s.now()); err != nil {
				return nil, err
			}
			if err := tx.UpdateAssessment(ctx, a, prev); err != nil {
				return nil, err
			}
			after := assessmentToProto(a)
			return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: a.Name(), Before: before, After: after,
				Event: &vendorsv1.AssessmentCancelled{Assessment: after, Version: a.Version}})
		})
}

// FireAssessmentDue is the scheduler.Handler of store.AssessmentDueKind: a vendor's latest
// completed assessment has lapsed (the item is due the day after its valid_until). In the
// worker's transaction it locks the vendor and publishes assessment.due, unless the vendor was
// offboarded or deleted, or a newer assessment replaced this one (whose completion moved the
// item, so this is only a safety net).
func (s *Server) FireAssessmentDue(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var vendorID, id string
	if !domain.AssessmentPattern.Scan(item.Resource, &vendorID, &id) {
		return scheduler.Permanent(fmt.Errorf("assessment due %q: not an assessment name", item.Resource))
	}
	tx := store.Join(t)
	v, err := tx.LockVendor(ctx, vendorID)
	if errors.Is(err, domain.ErrVendorNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if v.State == domain.VendorOffboarded || v.LatestAssessmentID != id {
		return nil
	}
	a, err := tx.GetAssessment(ctx, vendorID, id)
	if errors.Is(err, domain.ErrAssessmentNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.BumpAssessment(ctx, a); err != nil {
		return err
	}
	return tx.Emit(ctx, a.Name(), &vendorsv1.AssessmentDue{Assessment: assessmentToProto(a), Vendor: a.Vendor(),
		VendorTier: v.Tier, ValidUntil: civil.ToProto(a.ValidUntil), DueTime: timestamppb.New(item.Due),
		FireTime: timestamppb.New(item.FiredAt), Version: a.Version})
}

func assessmentToProto(a *domain.Assessment) *vendorsv1.Assessment {
	pb := &vendorsv1.Assessment{
		Name:             a.Name(),
		Template:         domain.AssessmentTemplateName(a.TemplateID),
		TemplateRevision: a.TemplateRevision,
		Questions:        questionsToProto(a.Questions),
		Assessor:         a.Assessor,
		State:            vendorsv1.Assessment_State(a.State),
		Score:            a.Score,
		RiskRating:       vendorsv1.RiskRating(a.RiskRating),
		CancelReason:     a.CancelReason,
		CreateTime:       timestamppb.New(a.CreateTime),
		UpdateTime:       timestamppb.New(a.UpdateTime),
		Etag:             etag.Of(a.Name(), a.Version),
	}
	for _, ans := range a.Answers {
		pb.Answers = append(pb.Answers, &vendorsv1.Answer{QuestionKey: ans.QuestionKey, Rating: ans.Rating,
			NotApplicable: ans.NotApplicable, EvidenceUris: ans.EvidenceURIs, Comment: ans.Comment})
	}
	for _, l := range a.Breakdown {
		pb.ScoreBreakdown = append(pb.ScoreBreakdown, &vendorsv1.ScoreLine{QuestionKey: l.QuestionKey, Weight: l.Weight,
			Rating: l.Rating, NotApplicable: l.NotApplicable, Points: l.Points, MaxPoints: l.MaxPoints})
	}
	pb.CompleteTime = timePB(a.CompleteTime)
	if !a.ValidUntil.IsZero() {
		pb.ValidUntil = civil.ToProto(a.ValidUntil)
	}
	return pb
}

func answersFromProto(pbs []*vendorsv1.Answer) []domain.Answer {
	var out []domain.Answer
	for _, a := range pbs {
		out = append(out, domain.Answer{QuestionKey: a.GetQuestionKey(), Rating: a.GetRating(),
			NotApplicable: a.GetNotApplicable(), EvidenceURIs: a.GetEvidenceUris(), Comment: a.GetComment()})
	}
	return out
}
