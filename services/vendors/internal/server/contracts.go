package server

import (
	"context"

	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// contractMask follows the field behaviors of the Contract message: output-only fields can never
// be named in an update_mask.
var contractMask = fieldmask.FromDescriptor((&vendorsv1.Contract{}).ProtoReflect().Descriptor(), "name", "etag")

// contractToProto is c as the API shows it.
func contractToProto(c *domain.Contract) *vendorsv1.Contract {
	pb := &vendorsv1.Contract{
		Name:                     c.Name(),
		Title:                    c.Title,
		Description:              c.Description,
		TotalValue:               moneyPB(c.TotalValue),
		AnnualValue:              moneyPB(c.AnnualValue),
		BillingFrequency:         vendorsv1.Contract_BillingFrequency(c.BillingFrequency),
		StartDate:                civil.ToProto(c.StartDate),
		EndDate:                  civil.ToProto(c.EndDate),
		AutoRenew:                c.AutoRenew,
		RenewalTermMonths:        c.RenewalTermMonths,
		MinimumTermMonths:        c.MinimumTermMonths,
		NoticePeriodDays:         c.NoticePeriodDays,
		DecisionBufferDays:       c.DecisionBufferDays,
		NoticeWindowDays:         c.NoticeWindowDays,
		CancelByDate:             civil.ToProto(c.CancelByDate),
		NoticeWindowOpenDate:     civil.ToProto(c.NoticeWindowOpenDate),
		BudgetLine:               c.BudgetLine,
		Owner:                    c.Owner,
		State:                    vendorsv1.Contract_State(c.State),
		Submitter:                c.Submitter,
		SubmitTime:               timePB(c.SubmitTime),
		Approver:                 c.Approver,
		ActivateTime:             timePB(c.ActivateTime),
		Hold:                     c.Hold,
		RenewalCount:             c.RenewalCount,
		TerminateTime:            timePB(c.TerminateTime),
		TerminationReason:        c.TerminationReason,
		TerminationEffectiveDate: civil.ToProto(c.TerminationEffectiveDate),
		RejectionReason:          c.RejectionReason,
		CreateTime:               timePB(c.CreateTime),
		UpdateTime:               timePB(c.UpdateTime),
		Etag:                     etag.Of(c.Name(), c.Version),
	}
	if c.TotalValue.Currency != "" {
		pb.InvoicedAmount = money.ToProto(c.Invoiced())
	}
	for _, l := range c.SLAs {
		sl := &vendorsv1.ServiceLevel{DisplayName: l.DisplayName, AvailabilityTargetPercent: l.AvailabilityTargetPercent,
			MeasurementPeriod: vendorsv1.ServiceLevel_MeasurementPeriod(l.MeasurementPeriod), ServiceCreditPercent: l.ServiceCreditPercent}
		for _, t := range l.ResponseTargets {
			rt := &vendorsv1.ResponseTarget{Severity: vendorsv1.ResponseTarget_Severity(t.Severity)}
			if t.ResponseTime > 0 {
				rt.ResponseTime = durationpb.New(t.ResponseTime)
			}
			if t.ResolutionTime > 0 {
				rt.ResolutionTime = durationpb.New(t.ResolutionTime)
			}
			sl.ResponseTargets = append(sl.ResponseTargets, rt)
		}
		pb.Slas = append(pb.Slas, sl)
	}
	return pb
}

// moneyPB is a as google.type.Money; nil when unset.
func moneyPB(a money.Amount) *moneypb.Money {
	if a.Currency == "" {
		return nil
	}
	return money.ToProto(a)
}

// moneyField is the amount in a field of a request: unset when the field is.
func moneyField(m *moneypb.Money, field string) (money.Amount, error) {
	if m == nil {
		return money.Amount{}, nil
	}
	return money.FromProtoField(m, "", field)
}

// contractFields takes the writable fields of a request's contract; a malformed amount or date
// fails naming its field (contract.total_value).
func contractFields(pb *vendorsv1.Contract) (domain.ContractFields, error) {
	f := domain.ContractFields{
		Title:              pb.GetTitle(),
		Description:        pb.GetDescription(),
		BillingFrequency:   int32(pb.GetBillingFrequency()),
		AutoRenew:          pb.GetAutoRenew(),
		RenewalTermMonths:  pb.GetRenewalTermMonths(),
		MinimumTermMonths:  pb.GetMinimumTermMonths(),
		NoticePeriodDays:   pb.GetNoticePeriodDays(),
		DecisionBufferDays: pb.GetDecisionBufferDays(),
		NoticeWindowDays:   pb.GetNoticeWindowDays(),
		BudgetLine:         pb.GetBudgetLine(),
		Owner:              pb.GetOwner(),
	}
	var errs []error
	var err error
	if f.TotalValue, err = moneyField(pb.GetTotalValue(), "contract.total_value"); err != nil {
		errs = append(errs, err)
	}
	if f.AnnualValue, err = moneyField(pb.GetAnnualValue(), "contract.annual_value"); err != nil {
		errs = append(errs, err)
	}
	if f.StartDate, err = civil.FromProtoField(pb.GetStartDate(), "contract.start_date"); err != nil {
		errs = append(errs, err)
	}
	if f.EndDate, err = civil.FromProtoField(pb.GetEndDate(), "contract.end_date"); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return f, errs[0]
	}
	for _, sl := range pb.GetSlas() {
		l := domain.ServiceLevel{DisplayName: sl.GetDisplayName(), AvailabilityTargetPercent: sl.GetAvailabilityTargetPercent(),
			MeasurementPeriod: int32(sl.GetMeasurementPeriod()), ServiceCreditPercent: sl.GetServiceCreditPercent()}
		for _, t := range sl.GetResponseTargets() {
			l.ResponseTargets = append(l.ResponseTargets, domain.ResponseTarget{Severity: int32(t.GetSeverity()),
				ResponseTime: t.GetResponseTime().AsDuration(), ResolutionTime: t.GetResolutionTime().AsDuration()})
		}
		f.SLAs = append(f.SLAs, l)
	}
	return f, nil
}

// defaultWindow is the service's notice window in days, for contracts that set none.
func (s *Server) defaultWindow() int32 { return int32(s.cfg.NoticeWindowDays) }

// CreateContract implements vendorsv1.VendorsServiceServer. The vendor must exist and not be
// OFFBOARDED.
func (s *Server) CreateContract(ctx context.Context, req *vendorsv1.CreateContractRequest) (*vendorsv1.Contract, error) {
	vendorID, _ := domain.VendorPattern.Last(req.GetParent())
	f, err := contractFields(req.GetContract())
	if err != nil {
		return nil, err
	}
	c, err := domain.NewContract(vendorID, s.id(req.GetContractId()), f, s.defaultWindow(), s.now())
	if err != nil {
		return nil, fault.Prefix("contract", err)
	}
	return idempotency.InTx(ctx, s.store.Within, vendorsv1.VendorsService_CreateContract_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*vendorsv1.Contract, error) {
		if _, err := tx.LockOpenVendor(ctx, vendorID); err != nil {
			return nil, err
		}
		if err := tx.InsertContract(ctx, c); err != nil {
			return nil, err
		}
		pb := contractToProto(c)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: c.Name(), After: pb,
			Event: &vendorsv1.ContractCreated{Contract: pb, Version: c.Version}})
	})
}

// GetContract implements vendorsv1.VendorsServiceServer.
func (s *Server) GetContract(ctx context.Context, req *vendorsv1.GetContractRequest) (*vendorsv1.Contract, error) {
	c, err := getContract(ctx, s.store.GetContract, req.GetName())
	if err != nil {
		return nil, err
	}
	return contractToProto(c), nil
}

// getContract reads the contract named name with get, NOT_FOUND naming it when it does not
// exist.
func getContract(ctx context.Context, get func(ctx context.Context, vendorID, id string) (*domain.Contract, error), name string) (*domain.Contract, error) {
	var vendorID, id string
	if !domain.ContractPattern.Scan(name, &vendorID, &id) {
		return nil, domain.ContractPattern.Invalid("name")
	}
	c, err := get(ctx, vendorID, id)
	if err != nil {
		return nil, fault.Named(err, name)
	}
	return c, nil
}

// ListContracts implements vendorsv1.VendorsServiceServer. The vendor may be the wildcard "-".
func (s *Server) ListContracts(ctx context.Context, req *vendorsv1.ListContractsRequest) (*vendorsv1.ListContractsResponse, error) {
	var vendorID string
	if !domain.VendorPattern.Scan(req.GetParent(), &vendorID) {
		return nil, domain.VendorPattern.Invalid("parent")
	}
	page, token, err := listing.List(ctx, req, store.ContractTable, func(ctx context.Context, q *listing.Query) ([]*domain.Contract, error) {
		return s.store.ListContracts(ctx, vendorID, q)
	}, listing.Infallible(contractToProto))
	if err != nil {
		return nil, err
	}
	return &vendorsv1.ListContractsResponse{Contracts: page, NextPageToken: token}, nil
}

// UpdateContract implements vendorsv1.VendorsServiceServer.
func (s *Server) UpdateContract(ctx context.Context, req *vendorsv1.UpdateContractRequest) (*vendorsv1.Contract, error) {
	in := req.GetContract()
	if !domain.ContractPattern.Match(in.GetName()) {
		return nil, domain.ContractPattern.Invalid("contract.name")
	}
	paths, err := contractMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields, err := contractFields(in)
	if err != nil {
		return nil, err
	}
	today := s.today()
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*vendorsv1.Contract, error) {
		c, err := getContract(ctx, tx.GetContract, in.GetName())
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), c.Name(), c.Version); err != nil {
			return nil, err
		}
		prev, before := c.Version, contractToProto(c)
		changed, err := c.Apply(paths, fields, s.defaultWindow(), s.now())
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return before, nil // nothing to write, nothing happened
		}
		if err := tx.UpdateContract(ctx, c, prev, today); err != nil {
			return nil, err
		}
		after := contractToProto(c)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: after,
			Event: &vendorsv1.ContractUpdated{Contract: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: c.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("contract", err)
	}
	return out, nil
}

// DeleteContract implements vendorsv1.VendorsServiceServer. Only a DRAFT contract can be deleted.
func (s *Server) DeleteContract(ctx context.Context, req *vendorsv1.DeleteContractRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := getContract(ctx, tx.GetContract, req.GetName())
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), c.Name(), c.Version); err != nil {
			return err
		}
		if err := c.CheckDeletable(); err != nil {
			return err
		}
		if err := tx.DeleteContract(ctx, c); err != nil {
			return err
		}
		pb := contractToProto(c)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: c.Name(), Before: pb,
			Event: &vendorsv1.ContractDeleted{Contract: pb, Version: c.Version + 1}})
	}))
}

// contractRequest is a request of a lifecycle method of a contract.
type contractRequest interface {
	idempotency.Request
	GetName() string
	GetEtag() string
}

// changeContract runs a lifecycle method: in one transaction at most once per request ID, it
// reads the contract the request names, checks its etag, lets change change it, stores it (and
// its due items) and records the change with the event event makes of the contract as it is
// after.
func (s *Server) changeContract(ctx context.Context, method string, req contractRequest,
	change func(ctx context.Context, tx store.Tx, c *domain.Contract) error,
	event func(c *domain.Contract, pb *vendorsv1.Contract) sqlstore.Event) (*vendorsv1.Contract, error) {
	today := s.today()
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*vendorsv1.Contract, error) {
		c, err := getContract(ctx, tx.GetContract, req.GetName())
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), c.Name(), c.Version); err != nil {
			return nil, err
		}
		prev, before := c.Version, contractToProto(c)
		if err := change(ctx, tx, c); err != nil {
			return nil, err
		}
		if err := tx.UpdateContract(ctx, c, prev, today); err != nil {
			return nil, err
		}
		after := contractToProto(c)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: after,
			Event: event(c, after)})
	})
}

// SubmitContract implements vendorsv1.VendorsServiceServer. The vendor must not be SUSPENDED or
// OFFBOARDED.
func (s *Server) SubmitContract(ctx context.Context, req *vendorsv1.SubmitContractRequest) (*vendorsv1.Contract, error) {
	return s.changeContract(ctx, vendorsv1.VendorsService_SubmitContract_FullMethodName, req,
		func(ctx context.Context, tx store.Tx, c *domain.Contract) error {
			v, err := tx.LockVendor(ctx, c.VendorID)
			if err != nil {
				return err
			}
			if v.State == domain.VendorSuspended || v.State == domain.VendorOffboarded {
				return domain.ErrContractVendorNotOpen.With("vendor", v.Name()).With("vendor_state", v.State.String())
			}
			return c.Submit(identity.Owner(ctx), s.now())
		},
		func(c *domain.Contract, pb *vendorsv1.Contract) sqlstore.Event {
			return &vendorsv1.ContractSubmitted{Contract: pb, Version: c.Version}
		})
}

// RejectContract implements vendorsv1.VendorsServiceServer.
func (s *Server) RejectContract(ctx context.Context, req *vendorsv1.RejectContractRequest) (*vendorsv1.Contract, error) {
	return s.changeContract(ctx, vendorsv1.VendorsService_RejectContract_FullMethodName, req,
		func(_ context.Context, _ store.Tx, c *domain.Contract) error {
			return c.Reject(req.GetReason(), s.now())
		},
		func(c *domain.Contract, pb *vendorsv1.Contract) sqlstore.Event {
			return &vendorsv1.ContractRejected{Contract: pb, Version: c.Version}
		})
}

// TerminateContract implements vendorsv1.VendorsServiceServer. The contract is TERMINATED at
// once, with the last day it is in force as its termination_effective_date; its due items are
// cancelled in the same transaction.
func (s *Server) TerminateContract(ctx context.Context, req *vendorsv1.TerminateContractRequest) (*vendorsv1.Contract, error) {
	effective, err := civil.FromProtoField(req.GetEffectiveDate(), "effective_date")
	if err != nil {
		return nil, err
	}
	today := s.today()
	return s.changeContract(ctx, vendorsv1.VendorsService_TerminateContract_FullMethodName, req,
		func(_ context.Context, _ store.Tx, c *domain.Contract) error {
			return c.Terminate(req.GetReason(), effective, today, s.now())
		},
		func(c *domain.Contract, pb *vendorsv1.Contract) sqlstore.Event {
			return &vendorsv1.ContractTerminated{Contract: pb, BudgetLine: c.BudgetLine,
				EffectiveDate: civil.ToProto(c.TerminationEffectiveDate), Version: c.Version}
		})
}
