package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// Assessment templates can change at any time, whether or not assessments were started from
// them: an assessment copies the questions of the template's revision when it is created, so a
// later change of the questions (a new revision) or the template's deletion never changes a
// started assessment or its score. The API has no events of templates; their changes are in the
// audit log.

// assessmentTemplateMask follows the field behaviors of the AssessmentTemplate message.
var assessmentTemplateMask = fieldmask.FromDescriptor((&vendorsv1.AssessmentTemplate{}).ProtoReflect().Descriptor(), "name", "etag")

// CreateAssessmentTemplate implements vendorsv1.VendorsServiceServer.
func (s *Server) CreateAssessmentTemplate(ctx context.Context, req *vendorsv1.CreateAssessmentTemplateRequest) (*vendorsv1.AssessmentTemplate, error) {
	t, err := domain.NewAssessmentTemplate(s.id(req.GetAssessmentTemplateId()), templateFields(req.GetAssessmentTemplate()), s.now())
	if err != nil {
		return nil, fault.Prefix("assessment_template", err)
	}
	return idempotency.InTx(ctx, s.store.Within, vendorsv1.VendorsService_CreateAssessmentTemplate_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*vendorsv1.AssessmentTemplate, error) {
			if err := tx.InsertAssessmentTemplate(ctx, t); err != nil {
				return nil, err
			}
			pb := templateToProto(t)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: t.Name(), After: pb})
		})
}

// GetAssessmentTemplate implements vendorsv1.VendorsServiceServer.
func (s *Server) GetAssessmentTemplate(ctx context.Context, req *vendorsv1.GetAssessmentTemplateRequest) (*vendorsv1.AssessmentTemplate, error) {
	return names.GetAs(ctx, domain.AssessmentTemplatePattern, req.GetName(), s.store.GetAssessmentTemplate, templateToProto)
}

// ListAssessmentTemplates implements vendorsv1.VendorsServiceServer.
func (s *Server) ListAssessmentTemplates(ctx context.Context, req *vendorsv1.ListAssessmentTemplatesRequest) (*vendorsv1.ListAssessmentTemplatesResponse, error) {
	page, token, err := listing.List(ctx, req, store.AssessmentTemplateTable, s.store.ListAssessmentTemplates, listing.Infallible(templateToProto))
	if err != nil {
		return nil, err
	}
	return &vendorsv1.ListAssessmentTemplatesResponse{AssessmentTemplates: page, NextPageToken: token}, nil
}

// UpdateAssessmentTemplate implements vendorsv1.VendorsServiceServer.
func (s *Server) UpdateAssessmentTemplate(ctx context.Context, req *vendorsv1.UpdateAssessmentTemplateRequest) (*vendorsv1.AssessmentTemplate, error) {
	in := req.GetAssessmentTemplate()
	if !domain.AssessmentTemplatePattern.Match(in.GetName()) {
		return nil, domain.AssessmentTemplatePattern.Invalid("assessment_template.name")
	}
	paths, err := assessmentTemplateMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields := templateFields(in)
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*vendorsv1.AssessmentTemplate, error) {
		t, err := names.Get(ctx, domain.AssessmentTemplatePattern, in.GetName(), tx.GetAssessmentTemplate)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), t.Name(), t.Version); err != nil {
			return nil, err
		}
		prev, before := t.Version, templateToProto(t)
		changed, err := t.Apply(paths, fields, s.now())
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.UpdateAssessmentTemplate(ctx, t, prev); err != nil {
			return nil, err
		}
		after := templateToProto(t)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: t.Name(), Before: before, After: after})
	})
	if err != nil {
		return nil, fault.Prefix("assessment_template", err)
	}
	return out, nil
}

// DeleteAssessmentTemplate implements vendorsv1.VendorsServiceServer. Assessments started from
// the template keep their copy of its questions.
func (s *Server) DeleteAssessmentTemplate(ctx context.Context, req *vendorsv1.DeleteAssessmentTemplateRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		t, err := names.Get(ctx, domain.AssessmentTemplatePattern, req.GetName(), tx.GetAssessmentTemplate)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), t.Name(), t.Version); err != nil {
			return err
		}
		if err := tx.DeleteAssessmentTemplate(ctx, t.ID, t.Version); err != nil {
			return err
		}
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: t.Name(), Before: templateToProto(t)})
	}))
}

func templateToProto(t *domain.AssessmentTemplate) *vendorsv1.AssessmentTemplate {
	return &vendorsv1.AssessmentTemplate{
		Name:        t.Name(),
		DisplayName: t.DisplayName,
		Description: t.Description,
		Questions:   questionsToProto(t.Questions),
		Revision:    t.Revision,
		CreateTime:  timestamppb.New(t.CreateTime),
		UpdateTime:  timestamppb.New(t.UpdateTime),
		Etag:        etag.Of(t.Name(), t.Version),
	}
}

// templateFields takes the writable fields of a request's template.
func templateFields(pb *vendorsv1.AssessmentTemplate) domain.AssessmentTemplateFields {
	f := domain.AssessmentTemplateFields{DisplayName: pb.GetDisplayName(), Description: pb.GetDescription()}
	for _, q := range pb.GetQuestions() {
		f.Questions = append(f.Questions, domain.Question{Key: q.GetKey(), Text: q.GetText(), Category: q.GetCategory(),
			Weight: q.GetWeight(), Critical: q.GetCritical()})
	}
	return f
}

func questionsToProto(qs []domain.Question) []*vendorsv1.Question {
	out := make([]*vendorsv1.Question, 0, len(qs))
	for _, q := range qs {
		out = append(out, &vendorsv1.Question{Key: q.Key, Text: q.Text, Category: q.Category, Weight: q.Weight, Critical: q.Critical})
	}
	return out
}
