// Package operations implements quarterdeck.operations.v1.OperationsService, which every domain
// service serves about itself: its audit trail (ListAuditRecords, VerifyAuditChain) and the
// events its consumers dead-lettered (ListDeadLetters, ReplayDeadLetter, delegated to the
// consumer runtime). Every request names the service, `services/{domain}`; a request for another
// service is NOT_FOUND here, because the gateway routes each call to the service it names.
package operations

import (
	"context"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/pagetoken"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
)

// DeadLetters serves the dead-letter methods of the service; the consumer runtime implements it.
type DeadLetters interface {
	ListDeadLetters(context.Context, *operationsv1.ListDeadLettersRequest) (*operationsv1.ListDeadLettersResponse, error)
	ReplayDeadLetter(context.Context, *operationsv1.ReplayDeadLetterRequest) (*operationsv1.DeadLetter, error)
}

// ErrServiceNotFound is returned for a request that names another service than this one.
var ErrServiceNotFound = fault.New(fault.NotFound, "SERVICE_NOT_FOUND", "no such service")

// Server implements operationsv1.OperationsServiceServer for one service.
type Server struct {
	operationsv1.UnimplementedOperationsServiceServer

	// DeadLetters serves ListDeadLetters and ReplayDeadLetter; while nil they are UNIMPLEMENTED.
	DeadLetters DeadLetters

	parent string
	audit  *audit.Store
}

// New returns the server of the service domain (e.g. "budget") reading its audit trail from
// records.
func New(domain string, records *audit.Store) *Server {
	return &Server{parent: "services/" + domain, audit: records}
}

// ListAuditRecords implements operationsv1.OperationsServiceServer.
func (s *Server) ListAuditRecords(ctx context.Context, req *operationsv1.ListAuditRecordsRequest) (*operationsv1.ListAuditRecordsResponse, error) {
	if err := s.checkParent(req.GetParent()); err != nil {
		return nil, err
	}
	where, args, err := filter.Compile(req.GetFilter(), audit.RecordSchema, 1)
	if err != nil {
		return nil, err
	}
	q := audit.Query{Where: where, Args: args}
	// The checksum covers the filter: a token is refused with another filter than its own.
	sum := pagetoken.Checksum(req)
	key, err := pagetoken.Decode(req.GetPageToken(), sum, 1)
	if err != nil {
		return nil, err
	}
	if key != nil {
		if q.AfterSequence, err = strconv.ParseInt(key[0], 10, 64); err != nil {
			return nil, badPageToken() // a token we issued always parses
		}
	}
	size := pagetoken.Size(req.GetPageSize())
	// One more than asked tells whether another page exists without a count query.
	q.Limit = size + 1
	rs, err := s.audit.List(ctx, q)
	if err != nil {
		return nil, err
	}
	resp := &operationsv1.ListAuditRecordsResponse{}
	if len(rs) > size {
		rs = rs[:size]
		resp.NextPageToken = pagetoken.Encode(sum, strconv.FormatInt(rs[size-1].Sequence, 10))
	}
	for _, r := range rs {
		resp.AuditRecords = append(resp.AuditRecords, s.toProto(r))
	}
	return resp, nil
}

// VerifyAuditChain implements operationsv1.OperationsServiceServer.
func (s *Server) VerifyAuditChain(ctx context.Context, req *operationsv1.VerifyAuditChainRequest) (*operationsv1.VerifyAuditChainResponse, error) {
	if err := s.checkParent(req.GetParent()); err != nil {
		return nil, err
	}
	v, err := s.audit.Verify(ctx)
	if err != nil {
		return nil, err
	}
	return &operationsv1.VerifyAuditChainResponse{
		Valid:               v.Valid,
		RecordsChecked:      v.Checked,
		FirstBrokenSequence: v.FirstBroken,
		Reason:              v.Reason,
	}, nil
}

// ListDeadLetters implements operationsv1.OperationsServiceServer by delegating to DeadLetters.
func (s *Server) ListDeadLetters(ctx context.Context, req *operationsv1.ListDeadLettersRequest) (*operationsv1.ListDeadLettersResponse, error) {
	if err := s.checkParent(req.GetParent()); err != nil {
		return nil, err
	}
	if s.DeadLetters == nil {
		return nil, noDeadLetters()
	}
	return s.DeadLetters.ListDeadLetters(ctx, req)
}

// ReplayDeadLetter implements operationsv1.OperationsServiceServer by delegating to DeadLetters.
func (s *Server) ReplayDeadLetter(ctx context.Context, req *operationsv1.ReplayDeadLetterRequest) (*operationsv1.DeadLetter, error) {
	if !strings.HasPrefix(req.GetName(), s.parent+"/") {
		return nil, ErrServiceNotFound.With("name", req.GetName()).Withf("dead letter %s is not this service's", req.GetName())
	}
	if s.DeadLetters == nil {
		return nil, noDeadLetters()
	}
	return s.DeadLetters.ReplayDeadLetter(ctx, req)
}

func badPageToken() error {
	e := *pagetoken.ErrInvalid
	e.Violations = []fault.Violation{{Field: "page_token", Reason: e.Reason,
		Description: "use the next_page_token of a previous call with the same parameters"}}
	return &e
}

func noDeadLetters() error {
	return status.Error(codes.Unimplemented, "this service has no event consumers, so no dead letters")
}

func (s *Server) checkParent(parent string) error {
	if parent != s.parent {
		return ErrServiceNotFound.With("parent", parent).Withf("%s is not this service (%s)", parent, s.parent)
	}
	return nil
}

func (s *Server) toProto(r audit.Record) *operationsv1.AuditRecord {
	out := &operationsv1.AuditRecord{
		Name:         s.parent + "/auditRecords/" + strconv.FormatInt(r.Sequence, 10),
		Sequence:     r.Sequence,
		Actor:        r.Actor,
		Method:       r.Method,
		Resource:     r.Resource,
		Action:       r.Action,
		RequestId:    r.RequestID,
		TraceId:      r.TraceID,
		CreateTime:   timestamppb.New(r.CreateTime),
		PreviousHash: r.PreviousHash,
		Hash:         r.Hash,
	}
	for _, c := range r.Changes {
		out.Changes = append(out.Changes, &operationsv1.FieldChange{Path: c.Path, Before: c.Before, After: c.After})
	}
	return out
}
