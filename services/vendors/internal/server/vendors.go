package server

import (
	"context"
	"fmt"
	"slices"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
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

// vendorMask follows the field behaviors of the Vendor message: output-only fields can never be
// named in an update_mask.
var vendorMask = fieldmask.FromDescriptor((&vendorsv1.Vendor{}).ProtoReflect().Descriptor(), "name", "etag")

// vendorToProto is v as the API shows it on today, the day that decides its risk rating.
func vendorToProto(v *domain.Vendor, today domain.Date) *vendorsv1.Vendor {
	pb := &vendorsv1.Vendor{
		Name:                 v.Name(),
		DisplayName:          v.DisplayName,
		LegalName:            v.LegalName,
		Category:             vendorsv1.Vendor_Category(v.Category),
		Tier:                 v.Tier,
		DataAccess:           vendorsv1.DataAccess(v.DataAccess),
		Country:              v.Country,
		Website:              v.Website,
		Description:          v.Description,
		Owner:                v.Owner,
		State:                vendorsv1.Vendor_State(v.State),
		StateReason:          v.StateReason,
		StateChangeTime:      timePB(v.StateChangeTime),
		RiskRating:           vendorsv1.RiskRating(v.RiskRating(today)),
		AssessmentValidUntil: civil.ToProto(v.AssessmentValidUntil),
		CreateTime:           timePB(v.CreateTime),
		UpdateTime:           timePB(v.UpdateTime),
		Etag:                 etag.Of(v.Name(), v.Version),
	}
	if v.ParentID != "" {
		pb.ParentVendor = domain.VendorName(v.ParentID)
	}
	if v.LatestAssessmentID != "" {
		pb.LatestAssessment = domain.AssessmentPattern.Format(v.ID, v.LatestAssessmentID)
	}
	for _, c := range v.Contacts {
		pb.Contacts = append(pb.Contacts, &vendorsv1.Contact{DisplayName: c.DisplayName, Email: c.Email, Phone: c.Phone, Role: c.Role})
	}
	for _, sp := range v.SubProcessors {
		p := &vendorsv1.SubProcessor{DisplayName: sp.DisplayName, Service: sp.Service, Country: sp.Country,
			DataAccess: vendorsv1.DataAccess(sp.DataAccess)}
		if sp.VendorID != "" {
			p.Vendor = domain.VendorName(sp.VendorID)
		}
		pb.SubProcessors = append(pb.SubProcessors, p)
	}
	return pb
}

// vendorFields takes the writable fields of a request's vendor. Names were checked against their
// pattern by the request's validation rules.
func vendorFields(pb *vendorsv1.Vendor) domain.VendorFields {
	f := domain.VendorFields{
		DisplayName: pb.GetDisplayName(),
		LegalName:   pb.GetLegalName(),
		Category:    int32(pb.GetCategory()),
		Tier:        pb.GetTier(),
		DataAccess:  int32(pb.GetDataAccess()),
		Country:     pb.GetCountry(),
		Website:     pb.GetWebsite(),
		Description: pb.GetDescription(),
		Owner:       pb.GetOwner(),
	}
	f.ParentID, _ = domain.VendorPattern.Last(pb.GetParentVendor())
	for _, c := range pb.GetContacts() {
		f.Contacts = append(f.Contacts, domain.Contact{DisplayName: c.GetDisplayName(), Email: c.GetEmail(), Phone: c.GetPhone(), Role: c.GetRole()})
	}
	for _, sp := range pb.GetSubProcessors() {
		id, _ := domain.VendorPattern.Last(sp.GetVendor())
		f.SubProcessors = append(f.SubProcessors, domain.SubProcessor{VendorID: id, DisplayName: sp.GetDisplayName(),
			Service: sp.GetService(), Country: sp.GetCountry(), DataAccess: int32(sp.GetDataAccess())})
	}
	return f
}

// checkVendorRefs checks the vendors v refers to, for the fields in changed: the parent exists
// and is neither v nor one of its subsidiaries, and each sub-processor that is a vendor exists.
func checkVendorRefs(ctx context.Context, tx store.Tx, v *domain.Vendor, changed []string) error {
	if slices.Contains(changed, domain.VendorFieldParent) && v.ParentID != "" {
		if ok, err := tx.VendorExists(ctx, v.ParentID); err != nil {
			return err
		} else if !ok {
			return domain.ErrParentVendorNotFound.With("parent_vendor", domain.VendorName(v.ParentID))
		}
		ancestors, err := tx.VendorAncestors(ctx, v.ParentID)
		if err != nil {
			return err
		}
		if err := v.CheckAncestry(ancestors); err != nil {
			return err
		}
	}
	if slices.Contains(changed, domain.VendorFieldSubProcessors) {
		missing, err := tx.MissingVendors(ctx, v.SubProcessorVendorIDs())
		if err != nil {
			return err
		}
		var vs fault.Violations
		for i, sp := range v.SubProcessors {
			if sp.VendorID != "" && slices.Contains(missing, sp.VendorID) {
				vs.Add(fmt.Sprintf("%s[%d].vendor", domain.VendorFieldSubProcessors, i), domain.ErrSubProcessorNotFound.Reason,
					fmt.Sprintf("vendor %s does not exist", domain.VendorName(sp.VendorID)))
			}
		}
		if err := vs.Err(); err != nil {
			return err
		}
	}
	return nil
}

// CreateVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) CreateVendor(ctx context.Context, req *vendorsv1.CreateVendorRequest) (*vendorsv1.Vendor, error) {
	v, err := domain.NewVendor(s.id(req.GetVendorId()), vendorFields(req.GetVendor()), s.now())
	if err != nil {
		return nil, fault.Prefix("vendor", err)
	}
	today := s.today()
	out, err := idempotency.InTx(ctx, s.store.Within, vendorsv1.VendorsService_CreateVendor_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*vendorsv1.Vendor, error) {
		if v.ParentID != "" {
			// Taken before the parent is read, as every change of a parent does.
			if err := tx.LockVendorHierarchy(ctx); err != nil {
				return nil, err
			}
		}
		// A new vendor has no subsidiaries: any existing parent is fine.
		if err := checkVendorRefs(ctx, tx, v, domain.VendorWritableFields); err != nil {
			return nil, err
		}
		if err := tx.InsertVendor(ctx, v); err != nil {
			return nil, err
		}
		pb := vendorToProto(v, today)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: v.Name(), After: pb,
			Event: &vendorsv1.VendorCreated{Vendor: pb, Version: v.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("vendor", err)
	}
	return out, nil
}

// GetVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) GetVendor(ctx context.Context, req *vendorsv1.GetVendorRequest) (*vendorsv1.Vendor, error) {
	today := s.today()
	return names.GetAs(ctx, domain.VendorPattern, req.GetName(), s.store.GetVendor,
		func(v *domain.Vendor) *vendorsv1.Vendor { return vendorToProto(v, today) })
}

// ListVendors implements vendorsv1.VendorsServiceServer.
func (s *Server) ListVendors(ctx context.Context, req *vendorsv1.ListVendorsRequest) (*vendorsv1.ListVendorsResponse, error) {
	today := s.today()
	page, token, err := listing.List(ctx, req, store.VendorTable(today), s.store.ListVendors,
		listing.Infallible(func(v *domain.Vendor) *vendorsv1.Vendor { return vendorToProto(v, today) }))
	if err != nil {
		return nil, err
	}
	return &vendorsv1.ListVendorsResponse{Vendors: page, NextPageToken: token}, nil
}

// UpdateVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) UpdateVendor(ctx context.Context, req *vendorsv1.UpdateVendorRequest) (*vendorsv1.Vendor, error) {
	in := req.GetVendor()
	if !domain.VendorPattern.Match(in.GetName()) {
		return nil, domain.VendorPattern.Invalid("vendor.name")
	}
	paths, err := vendorMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields := vendorFields(in)
	today := s.today()
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*vendorsv1.Vendor, error) {
		if slices.Contains(paths, domain.VendorFieldParent) {
			// Taken before any row lock, in the same order by every mover, so that two moves
			// cannot deadlock or build a cycle together.
			if err := tx.LockVendorHierarchy(ctx); err != nil {
				return nil, err
			}
		}
		v, err := names.Get(ctx, domain.VendorPattern, in.GetName(), tx.GetVendor)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), v.Name(), v.Version); err != nil {
			return nil, err
		}
		prev, before := v.Version, vendorToProto(v, today)
		changed, err := v.Apply(paths, fields, s.now())
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return before, nil // nothing to write, nothing happened
		}
		if err := checkVendorRefs(ctx, tx, v, changed); err != nil {
			return nil, err
		}
		if err := tx.UpdateVendor(ctx, v, prev); err != nil {
			return nil, err
		}
		after := vendorToProto(v, today)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: v.Name(), Before: before, After: after,
			Event: &vendorsv1.VendorUpdated{Vendor: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: v.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("vendor", err)
	}
	return out, nil
}

// DeleteVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) DeleteVendor(ctx context.Context, req *vendorsv1.DeleteVendorRequest) (*emptypb.Empty, error) {
	today := s.today()
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		v, err := names.Get(ctx, domain.VendorPattern, req.GetName(), tx.GetVendor)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), v.Name(), v.Version); err != nil {
			return err
		}
		if err := v.CheckDeletable(); err != nil {
			return err
		}
		if err := tx.CheckVendorUnreferenced(ctx, v.ID); err != nil {
			return err
		}
		if err := tx.CancelVendorReminders(ctx, v.ID); err != nil {
			return err
		}
		if err := tx.CancelAssessmentDue(ctx, v.ID); err != nil {
			return err
		}
		if err := tx.DeleteVendor(ctx, v.ID, v.Version); err != nil {
			return err
		}
		pb := vendorToProto(v, today)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: v.Name(), Before: pb,
			Event: &vendorsv1.VendorDeleted{Vendor: pb, Version: v.Version + 1}})
	}))
}

// lifecycleRequest is what the lifecycle methods' requests have in common.
type lifecycleRequest interface {
	idempotency.Request
	GetName() string
	GetEtag() string
	GetReason() string
}

// transition runs one lifecycle method: it reads the vendor named in req, checks the etag, lets
// change move it, writes it and records the change with the event event makes of the result.
// after, when set, runs in the transaction once the vendor is written (offboarding cancels the
// attestations' reminders).
func (s *Server) transition(ctx context.Context, method string, req lifecycleRequest,
	change func(v *domain.Vendor) error, event func(pb *vendorsv1.Vendor, version int64) sqlstore.Event,
	after func(ctx context.Context, tx store.Tx, v *domain.Vendor) error) (*vendorsv1.Vendor, error) {
	today := s.today()
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*vendorsv1.Vendor, error) {
		v, err := names.Get(ctx, domain.VendorPattern, req.GetName(), tx.GetVendor)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), v.Name(), v.Version); err != nil {
			return nil, err
		}
		prev, before := v.Version, vendorToProto(v, today)
		if err := change(v); err != nil {
			return nil, err
		}
		if err := tx.UpdateVendor(ctx, v, prev); err != nil {
			return nil, err
		}
		if after != nil {
			if err := after(ctx, tx, v); err != nil {
				return nil, err
			}
		}
		pb := vendorToProto(v, today)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: v.Name(), Before: before, After: pb,
			Event: event(pb, v.Version)})
	})
}

// StartVendorOnboarding implements vendorsv1.VendorsServiceServer.
func (s *Server) StartVendorOnboarding(ctx context.Context, req *vendorsv1.StartVendorOnboardingRequest) (*vendorsv1.Vendor, error) {
	return s.transition(ctx, vendorsv1.VendorsService_StartVendorOnboarding_FullMethodName, req,
		func(v *domain.Vendor) error { return v.StartOnboarding(req.GetReason(), s.now()) },
		func(pb *vendorsv1.Vendor, version int64) sqlstore.Event {
			return &vendorsv1.VendorOnboardingStarted{Vendor: pb, Version: version}
		}, nil)
}

// ActivateVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) ActivateVendor(ctx context.Context, req *vendorsv1.ActivateVendorRequest) (*vendorsv1.Vendor, error) {
	return s.transition(ctx, vendorsv1.VendorsService_ActivateVendor_FullMethodName, req,
		func(v *domain.Vendor) error { return v.Activate(req.GetReason(), s.today(), s.now()) },
		func(pb *vendorsv1.Vendor, version int64) sqlstore.Event {
			return &vendorsv1.VendorOnboarded{Vendor: pb, Version: version}
		}, nil)
}

// SuspendVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) SuspendVendor(ctx context.Context, req *vendorsv1.SuspendVendorRequest) (*vendorsv1.Vendor, error) {
	return s.transition(ctx, vendorsv1.VendorsService_SuspendVendor_FullMethodName, req,
		func(v *domain.Vendor) error { return v.Suspend(req.GetReason(), s.now()) },
		func(pb *vendorsv1.Vendor, version int64) sqlstore.Event {
			return &vendorsv1.VendorSuspended{Vendor: pb, Version: version}
		}, nil)
}

// ReinstateVendor implements vendorsv1.VendorsServiceServer.
func (s *Server) ReinstateVendor(ctx context.Context, req *vendorsv1.ReinstateVendorRequest) (*vendorsv1.Vendor, error) {
	return s.transition(ctx, vendorsv1.VendorsService_ReinstateVendor_FullMethodName, req,
		func(v *domain.Vendor) error { return v.Reinstate(req.GetReason(), s.now()) },
		func(pb *vendorsv1.Vendor, version int64) sqlstore.Event {
			return &vendorsv1.VendorReinstated{Vendor: pb, Version: version}
		}, nil)
}

// OffboardVendor implements vendorsv1.VendorsServiceServer. The vendor's attestations stay, but
// their expiry reminders are cancelled, and so is its reassessment: nobody renews the
// attestations or reassesses the vendor of an ended relationship.
func (s *Server) OffboardVendor(ctx context.Context, req *vendorsv1.OffboardVendorRequest) (*vendorsv1.Vendor, error) {
	return s.transition(ctx, vendorsv1.VendorsService_OffboardVendor_FullMethodName, req,
		func(v *domain.Vendor) error { return v.Offboard(req.GetReason(), s.now()) },
		func(pb *vendorsv1.Vendor, version int64) sqlstore.Event {
			return &vendorsv1.VendorOffboarded{Vendor: pb, Version: version}
		},
		func(ctx context.Context, tx store.Tx, v *domain.Vendor) error {
			if err := tx.CancelVendorReminders(ctx, v.ID); err != nil {
				return err
			}
			return tx.CancelAssessmentDue(ctx, v.ID)
		})
}
