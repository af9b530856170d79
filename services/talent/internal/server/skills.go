package server

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// The masks follow the field behaviors of their messages.
var (
	skillCategoryMask = fieldmask.FromDescriptor((&talentv1.SkillCategory{}).ProtoReflect().Descriptor(), "name", "etag")
	skillMask         = fieldmask.FromDescriptor((&talentv1.Skill{}).ProtoReflect().Descriptor(), "name", "etag")
	scaleMask         = fieldmask.FromDescriptor((&talentv1.ProficiencyScale{}).ProtoReflect().Descriptor(), "name", "etag")
)

// CreateSkillCategory implements talentv1.TalentServiceServer.
func (s *Server) CreateSkillCategory(ctx context.Context, req *talentv1.CreateSkillCategoryRequest) (*talentv1.SkillCategory, error) {
	in := req.GetSkillCategory()
	c, err := domain.NewSkillCategory(s.id(req.GetSkillCategoryId()), in.GetDisplayName(), in.GetDescription(), s.now())
	if err != nil {
		return nil, fault.Prefix("skill_category", err)
	}
	return idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreateSkillCategory_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.SkillCategory, error) {
		if err := tx.InsertSkillCategory(ctx, c); err != nil {
			return nil, err
		}
		pb := categoryToProto(c)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: c.Name(), After: pb,
			Event: &talentv1.SkillCategoryCreated{SkillCategory: pb, Version: c.Version}})
	})
}

// GetSkillCategory implements talentv1.TalentServiceServer.
func (s *Server) GetSkillCategory(ctx context.Context, req *talentv1.GetSkillCategoryRequest) (*talentv1.SkillCategory, error) {
	return names.GetAs(ctx, domain.SkillCategoryPattern, req.GetName(), s.store.GetSkillCategory, categoryToProto)
}

// ListSkillCategories implements talentv1.TalentServiceServer.
func (s *Server) ListSkillCategories(ctx context.Context, req *talentv1.ListSkillCategoriesRequest) (*talentv1.ListSkillCategoriesResponse, error) {
	page, token, err := listing.List(ctx, req, store.SkillCategoryTable, s.store.ListSkillCategories, listing.Infallible(categoryToProto))
	if err != nil {
		return nil, err
	}
	return &talentv1.ListSkillCategoriesResponse{SkillCategories: page, NextPageToken: token}, nil
}

// UpdateSkillCategory implements talentv1.TalentServiceServer.
func (s *Server) UpdateSkillCategory(ctx context.Context, req *talentv1.UpdateSkillCategoryRequest) (*talentv1.SkillCategory, error) {
	in := req.GetSkillCategory()
	if !domain.SkillCategoryPattern.Match(in.GetName()) {
		return nil, domain.SkillCategoryPattern.Invalid("skill_category.name")
	}
	paths, err := skillCategoryMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.SkillCategory, error) {
		c, err := names.Get(ctx, domain.SkillCategoryPattern, in.GetName(), tx.GetSkillCategory)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), c.Name(), c.Version); err != nil {
			return nil, err
		}
		prev, before := c.Version, categoryToProto(c)
		changed, err := c.Apply(paths, in.GetDisplayName(), in.GetDescription(), s.now())
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.UpdateSkillCategory(ctx, c, prev); err != nil {
			return nil, err
		}
		after := categoryToProto(c)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: after,
			Event: &talentv1.SkillCategoryUpdated{SkillCategory: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: c.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("skill_category", err)
	}
	return out, nil
}

// DeleteSkillCategory implements talentv1.TalentServiceServer.
func (s *Server) DeleteSkillCategory(ctx context.Context, req *talentv1.DeleteSkillCategoryRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := names.Get(ctx, domain.SkillCategoryPattern, req.GetName(), tx.GetSkillCategory)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), c.Name(), c.Version); err != nil {
			return err
		}
		if held, err := tx.CategoryHoldsSkills(ctx, c.ID); err != nil {
			return err
		} else if held {
			return domain.ErrCategoryNotEmpty.With("name", c.Name())
		}
		if err := tx.DeleteSkillCategory(ctx, c.ID, c.Version); err != nil {
			return err
		}
		pb := categoryToProto(c)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: c.Name(), Before: pb,
			Event: &talentv1.SkillCategoryDeleted{SkillCategory: pb, Version: c.Version + 1}})
	}))
}

// CreateSkill implements talentv1.TalentServiceServer.
func (s *Server) CreateSkill(ctx context.Context, req *talentv1.CreateSkillRequest) (*talentv1.Skill, error) {
	k, err := domain.NewSkill(s.id(req.GetSkillId()), skillFields(req.GetSkill()), s.now())
	if err != nil {
		return nil, fault.Prefix("skill", err)
	}
	out, err := idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreateSkill_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.Skill, error) {
		if err := tx.InsertSkill(ctx, k); err != nil {
			return nil, err
		}
		pb := skillToProto(k)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: k.Name(), After: pb,
			Event: &talentv1.SkillCreated{Skill: pb, Version: k.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("skill", err)
	}
	return out, nil
}

// GetSkill implements talentv1.TalentServiceServer.
func (s *Server) GetSkill(ctx context.Context, req *talentv1.GetSkillRequest) (*talentv1.Skill, error) {
	return names.GetAs(ctx, domain.SkillPattern, req.GetName(), s.store.GetSkill, skillToProto)
}

// ListSkills implements talentv1.TalentServiceServer.
func (s *Server) ListSkills(ctx context.Context, req *talentv1.ListSkillsRequest) (*talentv1.ListSkillsResponse, error) {
	page, token, err := listing.List(ctx, req, store.SkillTable, s.store.ListSkills, listing.Infallible(skillToProto))
	if err != nil {
		return nil, err
	}
	return &talentv1.ListSkillsResponse{Skills: page, NextPageToken: token}, nil
}

// UpdateSkill implements talentv1.TalentServiceServer.
func (s *Server) UpdateSkill(ctx context.Context, req *talentv1.UpdateSkillRequest) (*talentv1.Skill, error) {
	in := req.GetSkill()
	if !domain.SkillPattern.Match(in.GetName()) {
		return nil, domain.SkillPattern.Invalid("skill.name")
	}
	paths, err := skillMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.Skill, error) {
		k, err := names.Get(ctx, domain.SkillPattern, in.GetName(), tx.GetSkill)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), k.Name(), k.Version); err != nil {
			return nil, err
		}
		prev, before := k.Version, skillToProto(k)
		changed, err := k.Apply(paths, skillFields(in), s.now())
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.UpdateSkill(ctx, k, prev); err != nil {
			return nil, err
		}
		after := skillToProto(k)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: k.Name(), Before: before, After: after,
			Event: &talentv1.SkillUpdated{Skill: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: k.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("skill", err)
	}
	return out, nil
}

// DeleteSkill implements talentv1.TalentServiceServer.
func (s *Server) DeleteSkill(ctx context.Context, req *talentv1.DeleteSkillRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		k, err := names.Get(ctx, domain.SkillPattern, req.GetName(), tx.GetSkill)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), k.Name(), k.Version); err != nil {
			return err
		}
		if used, err := tx.SkillInUse(ctx, k.ID); err != nil {
			return err
		} else if used {
			return domain.ErrSkillInUse.With("name", k.Name())
		}
		if err := tx.DeleteSkill(ctx, k.ID, k.Version); err != nil {
			return err
		}
		pb := skillToProto(k)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: k.Name(), Before: pb,
			Event: &talentv1.SkillDeleted{Skill: pb, Version: k.Version + 1}})
	}))
}

// GetProficiencyScale implements talentv1.TalentServiceServer.
func (s *Server) GetProficiencyScale(ctx context.Context, _ *talentv1.GetProficiencyScaleRequest) (*talentv1.ProficiencyScale, error) {
	sc, err := s.store.GetProficiencyScale(ctx)
	if err != nil {
		return nil, err
	}
	return scaleToProto(sc), nil
}

// UpdateProficiencyScale implements talentv1.TalentServiceServer: the five levels are replaced
// together.
func (s *Server) UpdateProficiencyScale(ctx context.Context, req *talentv1.UpdateProficiencyScaleRequest) (*talentv1.ProficiencyScale, error) {
	in := req.GetProficiencyScale()
	if in.GetName() != domain.ProficiencyScaleName {
		return nil, domain.ErrScaleName.OnField("proficiency_scale.name", "")
	}
	if _, err := scaleMask.Resolve(req.GetUpdateMask(), in); err != nil {
		return nil, err
	}
	levels := make([]domain.ProficiencyLevel, len(in.GetLevels()))
	for i, l := range in.GetLevels() {
		levels[i] = domain.ProficiencyLevel{Level: l.GetLevel(), Title: l.GetTitle(), Description: l.GetDescription()}
	}
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.ProficiencyScale, error) {
		if err := tx.LockProficiencyScale(ctx); err != nil {
			return nil, err
		}
		sc, err := tx.GetProficiencyScale(ctx)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), domain.ProficiencyScaleName, sc.Version); err != nil {
			return nil, err
		}
		before := scaleToProto(sc)
		changed, err := sc.Replace(levels, s.now())
		if err != nil || !changed {
			return before, err
		}
		if err := tx.SaveProficiencyScale(ctx, sc); err != nil {
			return nil, err
		}
		after := scaleToProto(sc)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: domain.ProficiencyScaleName,
			Before: before, After: after, Event: &talentv1.ProficiencyScaleUpdated{ProficiencyScale: after, Version: sc.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("proficiency_scale", err)
	}
	return out, nil
}

// CreateSkillRating implements talentv1.TalentServiceServer. The rating becomes the person's
// current one of the skill unless a later-dated rating exists; the coverage of the person's
// team's requirement of the skill is evaluated again in the same transaction.
func (s *Server) CreateSkillRating(ctx context.Context, req *talentv1.CreateSkillRatingRequest) (*talentv1.SkillRating, error) {
	in := req.GetSkillRating()
	var date civil.Date
	if in.GetRateDate() != nil {
		var err error
		if date, err = civil.FromProtoField(in.GetRateDate(), "skill_rating.rate_date"); err != nil {
			return nil, err
		}
	}
	personID, skillID := idOf(domain.PersonPattern, req.GetParent()), idOf(domain.SkillPattern, in.GetSkill())
	id, rater := s.newID(), identity.Owner(ctx)
	out, err := idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreateSkillRating_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.SkillRating, error) {
		p, err := tx.GetPerson(ctx, personID)
		if err != nil {
			return nil, fault.Named(err, req.GetParent())
		}
		if p.State == domain.Left {
			return nil, domain.ErrRatedPersonLeft.With("name", p.Name())
		}
		r, err := domain.NewSkillRating(id, personID, skillID, in.GetProficiency(), in.GetEvidence(), date, rater, p.StartDate, s.now())
		if err != nil {
			return nil, err
		}
		cur, err := tx.CurrentSkillRating(ctx, personID, skillID)
		if err != nil {
			return nil, err
		}
		r.Current = r.Supersedes(cur)
		if err := tx.InsertSkillRating(ctx, r); err != nil {
			return nil, err
		}
		pb := ratingToProto(r)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: r.Name(), After: pb,
			Event: &talentv1.SkillRatingRecorded{SkillRating: pb, Superseded: r.Current && cur != nil, Version: 1}}); err != nil {
			return nil, err
		}
		if !r.Current {
			return pb, nil
		}
		return pb, s.evaluateCoverage(ctx, tx, store.Scope{TeamIDs: []string{p.TeamID}, SkillID: skillID})
	})
	if err != nil {
		return nil, fault.Prefix("skill_rating", err)
	}
	return out, nil
}

// GetSkillRating implements talentv1.TalentServiceServer.
func (s *Server) GetSkillRating(ctx context.Context, req *talentv1.GetSkillRatingRequest) (*talentv1.SkillRating, error) {
	var person, id string
	if !domain.SkillRatingPattern.Scan(req.GetName(), &person, &id) {
		return nil, domain.SkillRatingPattern.Invalid("name")
	}
	r, err := s.store.GetSkillRating(ctx, person, id)
	if err != nil {
		return nil, fault.Named(err, req.GetName())
	}
	return ratingToProto(r), nil
}

// ListSkillRatings implements talentv1.TalentServiceServer.
func (s *Server) ListSkillRatings(ctx context.Context, req *talentv1.ListSkillRatingsRequest) (*talentv1.ListSkillRatingsResponse, error) {
	person := idOf(domain.PersonPattern, req.GetParent())
	if req.GetParent() == "people/-" {
		person = store.Wildcard
	}
	page, token, err := listing.List(ctx, req, store.SkillRatingTable,
		func(ctx context.Context, lq *listing.Query) ([]*domain.SkillRating, error) {
			return s.store.ListSkillRatings(ctx, person, lq)
		}, listing.Infallible(ratingToProto))
	if err != nil {
		return nil, err
	}
	return &talentv1.ListSkillRatingsResponse{SkillRatings: page, NextPageToken: token}, nil
}

func categoryToProto(c *domain.SkillCategory) *talentv1.SkillCategory {
	return &talentv1.SkillCategory{Name: c.Name(), DisplayName: c.DisplayName, Description: c.Description,
		CreateTime: ts(c.CreateTime), UpdateTime: ts(c.UpdateTime), Etag: etag.Of(c.Name(), c.Version)}
}

func skillFields(k *talentv1.Skill) domain.SkillFields {
	return domain.SkillFields{DisplayName: k.GetDisplayName(), CategoryID: idOf(domain.SkillCategoryPattern, k.GetCategory()),
		Description: k.GetDescription()}
}

func skillToProto(k *domain.Skill) *talentv1.Skill {
	return &talentv1.Skill{Name: k.Name(), DisplayName: k.DisplayName, Category: domain.SkillCategoryPattern.Format(k.CategoryID),
		Description: k.Description, CreateTime: ts(k.CreateTime), UpdateTime: ts(k.UpdateTime), Etag: etag.Of(k.Name(), k.Version)}
}

func scaleToProto(sc *domain.ProficiencyScale) *talentv1.ProficiencyScale {
	pb := &talentv1.ProficiencyScale{Name: domain.ProficiencyScaleName, UpdateTime: ts(sc.UpdateTime),
		Etag: etag.Of(domain.ProficiencyScaleName, sc.Version)}
	for _, l := range sc.Levels {
		pb.Levels = append(pb.Levels, &talentv1.ProficiencyLevel{Level: l.Level, Title: l.Title, Description: l.Description})
	}
	return pb
}

func ratingToProto(r *domain.SkillRating) *talentv1.SkillRating {
	return &talentv1.SkillRating{Name: r.Name(), Skill: domain.SkillPattern.Format(r.SkillID), Proficiency: r.Proficiency,
		Evidence: r.Evidence, RateDate: civil.ToProto(r.RateDate), Rater: r.Rater, Current: r.Current, CreateTime: ts(r.CreateTime)}
}
