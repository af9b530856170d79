package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
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

// attestationMask follows the field behaviors of the Attestation message.
var attestationMask = fieldmask.FromDescriptor((&vendorsv1.Attestation{}).ProtoReflect().Descriptor(), "name", "etag")

// attestationToProto is a as the API shows it on today, the day that decides its status.
func attestationToProto(a *domain.Attestation, today domain.Date) *vendorsv1.Attestation {
	return &vendorsv1.Attestation{
		Name:             a.Name(),
		Type:             vendorsv1.Attestation_Type(a.Type),
		DisplayName:      a.DisplayName,
		Issuer:           a.Issuer,
		IssueDate:        civil.ToProto(a.IssueDate),
		ExpiryDate:       civil.ToProto(a.ExpiryDate),
		DocumentUri:      a.DocumentURI,
		ScopeDescription: a.ScopeDescription,
		Status:           vendorsv1.Attestation_Status(a.Status(today)),
		CreateTime:       timePB(a.CreateTime),
		UpdateTime:       timePB(a.UpdateTime),
		Etag:             etag.Of(a.Name(), a.Version),
	}
}

// attestationFields takes the writable fields of a request's attestation; prefix is the path of
// the attestation in the request, for the violations of its dates.
func attestationFields(pb *vendorsv1.Attestation, prefix string) (domain.AttestationFields, error) {
	issue, err1 := civil.FromProtoField(pb.GetIssueDate(), prefix+".issue_date")
	expiry, err2 := civil.FromProtoField(pb.GetExpiryDate(), prefix+".expiry_date")
	if err := joinInvalid(err1, err2); err != nil {
		return domain.AttestationFields{}, err
	}
	return domain.AttestationFields{
		Type:             domain.AttestationType(pb.GetType()),
		DisplayName:      pb.GetDisplayName(),
		Issuer:           pb.GetIssuer(),
		IssueDate:        issue,
		ExpiryDate:       expiry,
		DocumentURI:      pb.GetDocumentUri(),
		ScopeDescription: pb.GetScopeDescription(),
	}, nil
}

// joinInvalid returns the first non-nil error, with the field violations of every error.
func joinInvalid(errs ...error) error {
	var vs fault.Violations
	var first error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		fe := fault.As(err)
		if fe == nil || fe.Kind != fault.InvalidArgument {
			return err
		}
		vs = append(vs, fe.Violations...)
	}
	if first == nil || len(vs) < 2 {
		return first
	}
	return fault.Invalid(vs...)
}

// CreateAttestation implements vendorsv1.VendorsServiceServer.
func (s *Server) CreateAttestation(ctx context.Context, req *vendorsv1.CreateAttestationRequest) (*vendorsv1.Attestation, error) {
	vendorID, _ := domain.VendorPattern.Last(req.GetParent())
	fields, err := attestationFields(req.GetAttestation(), "attestation")
	if err != nil {
		return nil, err
	}
	now := s.now()
	a, err := domain.NewAttestation(vendorID, s.id(req.GetAttestationId()), fields, now)
	if err != nil {
		return nil, fault.Prefix("attestation", err)
	}
	today := s.today()
	return idempotency.InTx(ctx, s.store.Within, vendorsv1.VendorsService_CreateAttestation_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*vendorsv1.Attestation, error) {
		if _, err := tx.LockOpenVendor(ctx, vendorID); err != nil {
			return nil, err
		}
		if err := tx.InsertAttestation(ctx, a); err != nil {
			return nil, err
		}
		if err := tx.ScheduleAttestationReminders(ctx, a, now); err != nil {
			return nil, err
		}
		pb := attestationToProto(a, today)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: a.Name(), After: pb,
			Event: &vendorsv1.AttestationRecorded{Attestation: pb, Version: a.Version}})
	})
}

// GetAttestation implements vendorsv1.VendorsServiceServer.
func (s *Server) GetAttestation(ctx context.Context, req *vendorsv1.GetAttestationRequest) (*vendorsv1.Attestation, error) {
	var vendorID, id string
	domain.AttestationPattern.ScanResource(req.GetName(), &vendorID, &id)
	a, err := s.store.GetAttestation(ctx, vendorID, id)
	if err != nil {
		return nil, err
	}
	return attestationToProto(a, s.today()), nil
}

// ListAttestations implements vendorsv1.VendorsServiceServer.
func (s *Server) ListAttestations(ctx context.Context, req *vendorsv1.ListAttestationsRequest) (*vendorsv1.ListAttestationsResponse, error) {
	var vendorID string
	domain.VendorPattern.Scan(req.GetParent(), &vendorID)
	today := s.today()
	page, token, err := listing.List(ctx, req, store.AttestationTable(today),
		func(ctx context.Context, q *listing.Query) ([]*domain.Attestation, error) {
			return s.store.ListAttestations(ctx, vendorID, q)
		},
		listing.Infallible(func(a *domain.Attestation) *vendorsv1.Attestation { return attestationToProto(a, today) }))
	if err != nil {
		return nil, err
	}
	return &vendorsv1.ListAttestationsResponse{Attestations: page, NextPageToken: token}, nil
}

// UpdateAttestation implements vendorsv1.VendorsServiceServer. A new expiry date moves the
// reminders.
func (s *Server) UpdateAttestation(ctx context.Context, req *vendorsv1.UpdateAttestationRequest) (*vendorsv1.Attestation, error) {
	in := req.GetAttestation()
	var vendorID, id string
	if !domain.AttestationPattern.ScanResource(in.GetName(), &vendorID, &id) {
		return nil, domain.AttestationPattern.Invalid("attestation.name")
	}
	paths, err := attestationMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields, err := attestationFields(in, "attestation")
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*vendorsv1.Attestation, error) {
		if _, err := tx.LockOpenVendor(ctx, vendorID); err != nil {
			return nil, err
		}
		a, err := tx.GetAttestation(ctx, vendorID, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), a.Name(), a.Version); err != nil {
			return nil, err
		}
		prev, before := a.Version, attestationToProto(a, today)
		changed, err := a.Apply(paths, fields, now)
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return before, nil
		}
		if err := tx.UpdateAttestation(ctx, a, prev); err != nil {
			return nil, err
		}
		if slices.Contains(changed, domain.AttestationFieldExpiryDate) {
			if err := tx.ScheduleAttestationReminders(ctx, a, now); err != nil {
				return nil, err
			}
		}
		after := attestationToProto(a, today)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: a.Name(), Before: before, After: after,
			Event: &vendorsv1.AttestationUpdated{Attestation: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: a.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("attestation", err)
	}
	return out, nil
}

// DeleteAttestation implements vendorsv1.VendorsServiceServer, with the attestation's reminders.
func (s *Server) DeleteAttestation(ctx context.Context, req *vendorsv1.DeleteAttestationRequest) (*emptypb.Empty, error) {
	var vendorID, id string
	domain.AttestationPattern.ScanResource(req.GetName(), &vendorID, &id)
	today := s.today()
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.LockVendor(ctx, vendorID); err != nil {
			return err
		}
		a, err := tx.GetAttestation(ctx, vendorID, id)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), a.Name(), a.Version); err != nil {
			return err
		}
		if err := tx.DeleteAttestation(ctx, a); err != nil {
			return err
		}
		if err := tx.CancelAttestationReminders(ctx, a.Name()); err != nil {
			return err
		}
		pb := attestationToProto(a, today)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: a.Name(), Before: pb,
			Event: &vendorsv1.AttestationDeleted{Attestation: pb, Version: a.Version + 1}})
	}))
}

// RemindAttestationExpiry fires an attestation's expiry reminder (store.AttestationExpiringKind):
// it publishes vendor.attestation_expiring about the attestation, whose version it moves on so
// that the event is ordered after every earlier one. A reminder of an attestation that is gone,
// or whose expiry date moved (its reminders were rescheduled), does nothing.
func (s *Server) RemindAttestationExpiry(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var vendorID, id string
	if !domain.AttestationPattern.ScanResource(item.Resource, &vendorID, &id) {
		return scheduler.Permanent(fmt.Errorf("reminder %q: not an attestation name", item.Resource))
	}
	days, ok := store.ReminderDays(item.Key)
	if !ok {
		return scheduler.Permanent(fmt.Errorf("reminder %q: no days before expiry in the key", item.Key))
	}
	tx := store.Join(t)
	a, err := tx.GetAttestation(ctx, vendorID, id)
	if fault.As(err) != nil && fault.As(err).Kind == fault.NotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if !a.ReminderDue(days).Equal(item.Due) {
		return nil
	}
	prev := a.Version
	a.Version++
	if err := tx.UpdateAttestation(ctx, a, prev); err != nil {
		return err
	}
	day := civil.DateOf(item.Due.UTC())
	return tx.Emit(ctx, a.Name(), &vendorsv1.VendorAttestationExpiring{
		Attestation: attestationToProto(a, day),
		Vendor:      domain.VendorName(vendorID),
		DaysBefore:  int32(days),
		ExpiryDate:  civil.ToProto(a.ExpiryDate),
		DueTime:     timestamppb.New(item.Due.UTC()),
		FireTime:    timestamppb.New(item.FiredAt.UTC().Truncate(time.Microsecond)),
		Version:     a.Version,
	})
}
