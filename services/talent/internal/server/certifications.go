package server

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// A certification's expiry reminders are the scheduler's due items, declared in the transaction
// of the change that sets its expiry date: certification.expiring 90 and 30 days before it and
// certification.expired on it, at the start of the day, UTC. Creating a certification arms them,
// an update that moves or clears the date moves or cancels them, and deleting the certification
// cancels them. A reminder whose day has already passed when its date is declared is not armed:
// it is too late for it. When a person leaves, the reminders of all their certifications are
// cancelled: the organisation no longer renews them. The certifications themselves stay, as
// part of the person's record; they can be read and deleted, but no longer created or changed.

// certificationMask follows the field behaviors of the Certification message.
var certificationMask = fieldmask.FromDescriptor((&talentv1.Certification{}).ProtoReflect().Descriptor(), "name", "etag")

// certificationToProto is c as the API shows it on today, the day that decides whether it has
// expired.
func certificationToProto(c *domain.Certification, today civil.Date) *talentv1.Certification {
	pb := &talentv1.Certification{
		Name:         c.Name(),
		DisplayName:  c.DisplayName,
		Issuer:       c.Issuer,
		CredentialId: c.CredentialID,
		ObtainDate:   civil.ToProto(c.ObtainDate),
		ExpireDate:   civil.ToProto(c.ExpireDate),
		Expired:      c.Expired(today),
		CreateTime:   ts(c.CreateTime),
		UpdateTime:   ts(c.UpdateTime),
		Etag:         etag.Of(c.Name(), c.Version),
	}
	if c.SkillID != "" {
		pb.Skill = domain.SkillPattern.Format(c.SkillID)
	}
	return pb
}

// certificationFields takes the writable fields of a request's certification; errors name the
// field under prefix.
func certificationFields(pb *talentv1.Certification, prefix string) (domain.CertificationFields, error) {
	obtain, err := civil.FromProtoField(pb.GetObtainDate(), prefix+domain.CertFieldObtainDate)
	if err != nil {
		return domain.CertificationFields{}, err
	}
	expire, err := civil.FromProtoField(pb.GetExpireDate(), prefix+domain.CertFieldExpireDate)
	if err != nil {
		return domain.CertificationFields{}, err
	}
	return domain.CertificationFields{
		DisplayName:  pb.GetDisplayName(),
		Issuer:       pb.GetIssuer(),
		CredentialID: pb.GetCredentialId(),
		ObtainDate:   obtain,
		ExpireDate:   expire,
		SkillID:      idOf(domain.SkillPattern, pb.GetSkill()),
	}, nil
}

// certificationHolder reads, keeping its row, the person personID who is to hold a new or
// changed certification: a person who left can no longer gain or change one.
func certificationHolder(ctx context.Context, tx store.Tx, personID string) error {
	p, err := tx.GetPerson(ctx, personID)
	if err != nil {
		return err
	}
	if p.State == domain.Left {
		return domain.ErrPersonLeft.With("name", p.Name())
	}
	return nil
}

// checkCertificationSkill makes sure the skill c evidences, if any, is in the taxonomy.
func checkCertificationSkill(ctx context.Context, tx store.Tx, c *domain.Certification) error {
	if c.SkillID == "" {
		return nil
	}
	missing, err := tx.MissingSkills(ctx, []string{c.SkillID})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return domain.ErrCertSkillNotFound.With("skill", domain.SkillPattern.Format(c.SkillID))
	}
	return nil
}

// CreateCertification implements talentv1.TalentServiceServer.
func (s *Server) CreateCertification(ctx context.Context, req *talentv1.CreateCertificationRequest) (*talentv1.Certification, error) {
	personID, _ := domain.PersonPattern.Last(req.GetParent())
	fields, err := certificationFields(req.GetCertification(), "certification.")
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	c, err := domain.NewCertification(personID, s.id(req.GetCertificationId()), fields, today, now)
	if err != nil {
		return nil, fault.Prefix("certification", err)
	}
	out, err := idempotency.InTx(ctx, s.store.Within, talentv1.TalentService_CreateCertification_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*talentv1.Certification, error) {
		if err := certificationHolder(ctx, tx, personID); err != nil {
			return nil, err
		}
		if err := checkCertificationSkill(ctx, tx, c); err != nil {
			return nil, err
		}
		if err := tx.InsertCertification(ctx, c); err != nil {
			return nil, err
		}
		if err := tx.ScheduleCertificationReminders(ctx, c, now); err != nil {
			return nil, err
		}
		pb := certificationToProto(c, today)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: c.Name(), After: pb,
			Event: &talentv1.CertificationCreated{Certification: pb, Version: c.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("certification", err)
	}
	return out, nil
}

// GetCertification implements talentv1.TalentServiceServer.
func (s *Server) GetCertification(ctx context.Context, req *talentv1.GetCertificationRequest) (*talentv1.Certification, error) {
	var personID, id string
	domain.CertificationPattern.ScanResource(req.GetName(), &personID, &id)
	c, err := s.store.GetCertification(ctx, personID, id)
	if err != nil {
		return nil, err
	}
	return certificationToProto(c, s.today()), nil
}

// ListCertifications implements talentv1.TalentServiceServer.
func (s *Server) ListCertifications(ctx context.Context, req *talentv1.ListCertificationsRequest) (*talentv1.ListCertificationsResponse, error) {
	var personID string
	domain.PersonPattern.Scan(req.GetParent(), &personID)
	today := s.today()
	page, token, err := listing.List(ctx, req, store.CertificationTable,
		func(ctx context.Context, q *listing.Query) ([]*domain.Certification, error) {
			return s.store.ListCertifications(ctx, personID, q)
		},
		listing.Infallible(func(c *domain.Certification) *talentv1.Certification { return certificationToProto(c, today) }))
	if err != nil {
		return nil, err
	}
	return &talentv1.ListCertificationsResponse{Certifications: page, NextPageToken: token}, nil
}

// UpdateCertification implements talentv1.TalentServiceServer. A new or cleared expiry date
// moves or cancels the reminders.
func (s *Server) UpdateCertification(ctx context.Context, req *talentv1.UpdateCertificationRequest) (*talentv1.Certification, error) {
	in := req.GetCertification()
	var personID, id string
	if !domain.CertificationPattern.ScanResource(in.GetName(), &personID, &id) {
		return nil, domain.CertificationPattern.Invalid("certification.name")
	}
	paths, err := certificationMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields, err := certificationFields(in, "certification.")
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*talentv1.Certification, error) {
		if err := certificationHolder(ctx, tx, personID); err != nil {
			return nil, err
		}
		c, err := tx.GetCertification(ctx, personID, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), c.Name(), c.Version); err != nil {
			return nil, err
		}
		prev, before := c.Version, certificationToProto(c, today)
		changed, err := c.Apply(paths, fields, today, now)
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return before, nil
		}
		if slices.Contains(changed, domain.CertFieldSkill) {
			if err := checkCertificationSkill(ctx, tx, c); err != nil {
				return nil, err
			}
		}
		if err := tx.UpdateCertification(ctx, c, prev); err != nil {
			return nil, err
		}
		if slices.Contains(changed, domain.CertFieldExpireDate) {
			if err := tx.ScheduleCertificationReminders(ctx, c, now); err != nil {
				return nil, err
			}
		}
		after := certificationToProto(c, today)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: after,
			Event: &talentv1.CertificationUpdated{Certification: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: c.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("certification", err)
	}
	return out, nil
}

// DeleteCertification implements talentv1.TalentServiceServer, with the certification's
// reminders. A certification of a person who left may be deleted.
func (s *Server) DeleteCertification(ctx context.Context, req *talentv1.DeleteCertificationRequest) (*emptypb.Empty, error) {
	var personID, id string
	domain.CertificationPattern.ScanResource(req.GetName(), &personID, &id)
	today := s.today()
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := tx.GetCertification(ctx, personID, id)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), c.Name(), c.Version); err != nil {
			return err
		}
		if err := tx.DeleteCertification(ctx, c); err != nil {
			return err
		}
		if err := tx.CancelCertificationReminders(ctx, c.Name()); err != nil {
			return err
		}
		pb := certificationToProto(c, today)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: c.Name(), Before: pb,
			Event: &talentv1.CertificationDeleted{Certification: pb, Version: c.Version + 1}})
	}))
}

// certificationSchedules are the handlers of the certifications' due items.
func (s *Server) certificationSchedules() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{
		store.CertificationExpiringKind: s.RemindCertificationExpiry,
		store.CertificationExpiredKind:  s.RemindCertificationExpiry,
	}
}

// RemindCertificationExpiry fires a certification's expiry reminder: certification.expiring
// (store.CertificationExpiringKind, with the days left) or certification.expired
// (store.CertificationExpiredKind) about the certification, whose version it moves on so that
// the event is ordered after every earlier one. A reminder of a certification that is gone, whose
// expiry date moved (its reminders were rescheduled) or whose holder left does nothing.
func (s *Server) RemindCertificationExpiry(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var personID, id string
	if !domain.CertificationPattern.ScanResource(item.Resource, &personID, &id) {
		return scheduler.Permanent(fmt.Errorf("reminder %q: not a certification name", item.Resource))
	}
	days, ok := store.CertificationReminderDays(item.Key)
	if !ok {
		return scheduler.Permanent(fmt.Errorf("reminder %q: no days before expiry in the key", item.Key))
	}
	tx := store.Join(t)
	p, err := tx.GetPerson(ctx, personID)
	if fe := fault.As(err); fe != nil && fe.Kind == fault.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := tx.GetCertification(ctx, personID, id)
	if fe := fault.As(err); fe != nil && fe.Kind == fault.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if p.State == domain.Left || c.ExpireDate.IsZero() || !c.ReminderDue(days).Equal(item.Due) {
		return nil
	}
	prev := c.Version
	c.Version++
	if err := tx.UpdateCertification(ctx, c, prev); err != nil {
		return err
	}
	pb := certificationToProto(c, civil.DateOf(item.Due.UTC()))
	if days == 0 {
		return tx.Emit(ctx, c.Name(), &talentv1.CertificationExpired{Certification: pb, Version: c.Version})
	}
	return tx.Emit(ctx, c.Name(), &talentv1.CertificationExpiring{Certification: pb, DaysLeft: int32(days), Version: c.Version})
}
