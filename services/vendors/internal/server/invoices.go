package server

import (
	"context"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// invoiceToProto is i as the API shows it.
func invoiceToProto(i *domain.Invoice) *vendorsv1.Invoice {
	return &vendorsv1.Invoice{
		Name:               i.Name(),
		InvoiceNumber:      i.InvoiceNumber,
		Amount:             money.ToProto(i.Amount),
		InvoiceDate:        civil.ToProto(i.InvoiceDate),
		DueDate:            civil.ToProto(i.DueDate),
		ServicePeriodStart: civil.ToProto(i.ServicePeriodStart),
		ServicePeriodEnd:   civil.ToProto(i.ServicePeriodEnd),
		Description:        i.Description,
		Creator:            i.Creator,
		CreateTime:         timePB(i.CreateTime),
		Etag:               etag.Of(i.Name(), i.Version),
	}
}

// invoiceFields takes the fields of a request's invoice; a malformed amount or date fails
// naming its field.
func invoiceFields(pb *vendorsv1.Invoice) (domain.Invoice, error) {
	i := domain.Invoice{InvoiceNumber: pb.GetInvoiceNumber(), Description: pb.GetDescription()}
	var err error
	if i.Amount, err = moneyField(pb.GetAmount(), "invoice.amount"); err != nil {
		return i, err
	}
	if i.InvoiceDate, err = civil.FromProtoField(pb.GetInvoiceDate(), "invoice.invoice_date"); err != nil {
		return i, err
	}
	if i.DueDate, err = civil.FromProtoField(pb.GetDueDate(), "invoice.due_date"); err != nil {
		return i, err
	}
	if i.ServicePeriodStart, err = civil.FromProtoField(pb.GetServicePeriodStart(), "invoice.service_period_start"); err != nil {
		return i, err
	}
	if i.ServicePeriodEnd, err = civil.FromProtoField(pb.GetServicePeriodEnd(), "invoice.service_period_end"); err != nil {
		return i, err
	}
	return i, nil
}

// RecordInvoice implements vendorsv1.VendorsServiceServer. The contract must be ACTIVE or
// RENEWED; its invoiced amount grows by the invoice's in the same transaction, which publishes
// invoice.recorded with the amount, the contract and its budget line.
func (s *Server) RecordInvoice(ctx context.Context, req *vendorsv1.RecordInvoiceRequest) (*vendorsv1.Invoice, error) {
	in, err := invoiceFields(req.GetInvoice())
	if err != nil {
		return nil, err
	}
	id := s.newID()
	creator := identity.Actor(ctx)
	today := s.today()
	return idempotency.InTx(ctx, s.store.Within, vendorsv1.VendorsService_RecordInvoice_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*vendorsv1.Invoice, error) {
		c, err := getContract(ctx, tx.GetContract, req.GetParent())
		if err != nil {
			return nil, err
		}
		if !c.State.InForce() {
			return nil, domain.ErrContractNotInForce.With("name", c.Name()).With("state", c.State.String())
		}
		i, err := domain.NewInvoice(c, id, in, creator, s.now())
		if err != nil {
			return nil, err
		}
		prev, before := c.Version, contractToProto(c)
		if err := c.AddInvoice(i, s.now()); err != nil {
			return nil, err
		}
		if err := tx.InsertInvoice(ctx, i); err != nil {
			return nil, err
		}
		if err := tx.UpdateContract(ctx, c, prev, today); err != nil {
			return nil, err
		}
		pb := invoiceToProto(i)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: i.Name(), After: pb,
			Event: &vendorsv1.InvoiceRecorded{Invoice: pb, Contract: c.Name(), BudgetLine: c.BudgetLine,
				Vendor: domain.VendorName(c.VendorID), Version: i.Version}}); err != nil {
			return nil, err
		}
		// The contract's invoiced amount changed: audited, with no event of its own.
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before,
			After: contractToProto(c)})
	})
}

// GetInvoice implements vendorsv1.VendorsServiceServer.
func (s *Server) GetInvoice(ctx context.Context, req *vendorsv1.GetInvoiceRequest) (*vendorsv1.Invoice, error) {
	var vendorID, contractID, id string
	if !domain.InvoicePattern.Scan(req.GetName(), &vendorID, &contractID, &id) {
		return nil, domain.InvoicePattern.Invalid("name")
	}
	i, err := s.store.GetInvoice(ctx, vendorID, contractID, id)
	if err != nil {
		return nil, fault.Named(err, req.GetName())
	}
	return invoiceToProto(i), nil
}

// ListInvoices implements vendorsv1.VendorsServiceServer. The vendor and the contract may be the
// wildcard "-".
func (s *Server) ListInvoices(ctx context.Context, req *vendorsv1.ListInvoicesRequest) (*vendorsv1.ListInvoicesResponse, error) {
	var vendorID, contractID string
	if !domain.ContractPattern.Scan(req.GetParent(), &vendorID, &contractID) {
		return nil, domain.ContractPattern.Invalid("parent")
	}
	page, token, err := listing.List(ctx, req, store.InvoiceTable, func(ctx context.Context, q *listing.Query) ([]*domain.Invoice, error) {
		return s.store.ListInvoices(ctx, vendorID, contractID, q)
	}, listing.Infallible(invoiceToProto))
	if err != nil {
		return nil, err
	}
	return &vendorsv1.ListInvoicesResponse{Invoices: page, NextPageToken: token}, nil
}
