package server

import (
	"context"
	"slices"

	"google.golang.org/protobuf/types/known/emptypb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// evaluationMask follows the field behaviors of the Evaluation message: output-only fields
// (state, ranking, the decision) can never be named in an update_mask.
var evaluationMask = fieldmask.FromDescriptor((&vendorsv1.Evaluation{}).ProtoReflect().Descriptor(), "name", "etag")

// evaluationToProto is e as the API shows it, with its ranking computed from its scores.
func evaluationToProto(e *domain.Evaluation) *vendorsv1.Evaluation {
	pb := &vendorsv1.Evaluation{
		Name:              e.Name(),
		Title:             e.Title,
		Need:              e.Need,
		Owner:             e.Owner,
		State:             vendorsv1.Evaluation_State(e.State),
		Winner:            e.Winner,
		DecisionRationale: e.DecisionRationale,
		Decider:           e.Decider,
		DecideTime:        timePB(e.DecideTime),
		CancelReason:      e.CancelReason,
		CreateTime:        timePB(e.CreateTime),
		UpdateTime:        timePB(e.UpdateTime),
		Etag:              etag.Of(e.Name(), e.Version),
	}
	for _, c := range e.Criteria {
		pb.Criteria = append(pb.Criteria, &vendorsv1.Criterion{Key: c.Key, DisplayName: c.DisplayName, Weight: c.Weight})
	}
	for _, c := range e.Candidates {
		p := &vendorsv1.Candidate{Key: c.Key, DisplayName: c.DisplayName}
		if c.VendorID != "" {
			p.Vendor = domain.VendorName(c.VendorID)
		}
		pb.Candidates = append(pb.Candidates, p)
	}
	for _, s := range e.Scores {
		pb.Scores = append(pb.Scores, &vendorsv1.Score{CriterionKey: s.CriterionKey, CandidateKey: s.CandidateKey,
			Score: s.Score, Rationale: s.Rationale})
	}
	for _, r := range e.Ranking() {
		rc := &vendorsv1.RankedCandidate{CandidateKey: r.CandidateKey, Rank: r.Rank, WeightedTotal: r.WeightedTotal,
			MaxTotal: r.MaxTotal, PercentTenths: r.PercentTenths}
		for _, l := range r.Lines {
			rc.Lines = append(rc.Lines, &vendorsv1.RankingLine{CriterionKey: l.CriterionKey, Weight: l.Weight, Score: l.Score, Points: l.Points})
		}
		pb.Ranking = append(pb.Ranking, rc)
	}
	return pb
}

// evaluationFields takes the writable fields of a request's evaluation. Vendor names were checked
// against their pattern by the request's validation rules.
func evaluationFields(pb *vendorsv1.Evaluation) domain.EvaluationFields {
	f := domain.EvaluationFields{Title: pb.GetTitle(), Need: pb.GetNeed(), Owner: pb.GetOwner()}
	for _, c := range pb.GetCriteria() {
		f.Criteria = append(f.Criteria, domain.Criterion{Key: c.GetKey(), DisplayName: c.GetDisplayName(), Weight: c.GetWeight()})
	}
	for _, c := range pb.GetCandidates() {
		id, _ := domain.VendorPattern.Last(c.GetVendor())
		f.Candidates = append(f.Candidates, domain.Candidate{Key: c.GetKey(), VendorID: id, DisplayName: c.GetDisplayName()})
	}
	for _, s := range pb.GetScores() {
		f.Scores = append(f.Scores, domain.EvaluationScore{CriterionKey: s.GetCriterionKey(), CandidateKey: s.GetCandidateKey(),
			Score: s.GetScore(), Rationale: s.GetRationale()})
	}
	return f
}

// checkCandidateVendors checks that the vendors e's candidates name exist.
func checkCandidateVendors(ctx context.Context, tx store.Tx, e *domain.Evaluation) error {
	missing, err := tx.MissingVendors(ctx, e.CandidateVendorIDs())
	if err != nil {
		return err
	}
	return e.CheckCandidateVendors(missing)
}

// CreateEvaluation implements vendorsv1.VendorsServiceServer.
func (s *Server) CreateEvaluation(ctx context.Context, req *vendorsv1.CreateEvaluationRequest) (*vendorsv1.Evaluation, error) {
	e, err := domain.NewEvaluation(s.id(req.GetEvaluationId()), evaluationFields(req.GetEvaluation()), s.now())
	if err != nil {
		return nil, fault.Prefix("evaluation", err)
	}
	out, err := idempotency.InTx(ctx, s.store.Within, vendorsv1.VendorsService_CreateEvaluation_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*vendorsv1.Evaluation, error) {
		if err := checkCandidateVendors(ctx, tx, e); err != nil {
			return nil, err
		}
		if err := tx.InsertEvaluation(ctx, e); err != nil {
			return nil, err
		}
		pb := evaluationToProto(e)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: e.Name(), After: pb,
			Event: &vendorsv1.EvaluationCreated{Evaluation: pb, Version: e.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("evaluation", err)
	}
	return out, nil
}

// GetEvaluation implements vendorsv1.VendorsServiceServer.
func (s *Server) GetEvaluation(ctx context.Context, req *vendorsv1.GetEvaluationRequest) (*vendorsv1.Evaluation, error) {
	return names.GetAs(ctx, domain.EvaluationPattern, req.GetName(), s.store.GetEvaluation, evaluationToProto)
}

// ListEvaluations implements vendorsv1.VendorsServiceServer.
func (s *Server) ListEvaluations(ctx context.Context, req *vendorsv1.ListEvaluationsRequest) (*vendorsv1.ListEvaluationsResponse, error) {
	page, token, err := listing.List(ctx, req, store.EvaluationTable, s.store.ListEvaluations, listing.Infallible(evaluationToProto))
	if err != nil {
		return nil, err
	}
	return &vendorsv1.ListEvaluationsResponse{Evaluations: page, NextPageToken: token}, nil
}

// UpdateEvaluation implements vendorsv1.VendorsServiceServer. The API defines no event for it:
// the change is audited, and subscribers learn an evaluation's final content from
// evaluation.decided.
func (s *Server) UpdateEvaluation(ctx context.Context, req *vendorsv1.UpdateEvaluationRequest) (*vendorsv1.Evaluation, error) {
	in := req.GetEvaluation()
	if !domain.EvaluationPattern.Match(in.GetName()) {
		return nil, domain.EvaluationPattern.Invalid("evaluation.name")
	}
	paths, err := evaluationMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields := evaluationFields(in)
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*vendorsv1.Evaluation, error) {
		e, err := names.Get(ctx, domain.EvaluationPattern, in.GetName(), tx.GetEvaluation)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), e.Name(), e.Version); err != nil {
			return nil, err
		}
		prev, before := e.Version, evaluationToProto(e)
		changed, err := e.Apply(paths, fields, s.now())
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return before, nil // nothing to write, nothing happened
		}
		if slices.Contains(changed, domain.EvaluationFieldCandidates) {
			if err := checkCandidateVendors(ctx, tx, e); err != nil {
				return nil, err
			}
		}
		if err := tx.UpdateEvaluation(ctx, e, prev); err != nil {
			return nil, err
		}
		after := evaluationToProto(e)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: e.Name(), Before: before, After: after})
	})
	if err != nil {
		return nil, fault.Prefix("evaluation", err)
	}
	return out, nil
}

// DeleteEvaluation implements vendorsv1.VendorsServiceServer. Only a DRAFT is deleted: a decided
// or cancelled evaluation is a record. The API defines no event for it; it is audited.
func (s *Server) DeleteEvaluation(ctx context.Context, req *vendorsv1.DeleteEvaluationRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		e, err := names.Get(ctx, domain.EvaluationPattern, req.GetName(), tx.GetEvaluation)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), e.Name(), e.Version); err != nil {
			return err
		}
		if err := e.CheckDeletable(); err != nil {
			return err
		}
		if err := tx.DeleteEvaluation(ctx, e.ID, e.Version); err != nil {
			return err
		}
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: e.Name(), Before: evaluationToProto(e)})
	}))
}

// evaluationRequest is what DecideEvaluation's and CancelEvaluation's requests have in common.
type evaluationRequest interface {
	idempotency.Request
	GetName() string
	GetEtag() string
}

// concludeEvaluation runs :decide or :cancel: it reads the evaluation named in req, checks the
// etag, lets change conclude it, writes it and records the change with the event event makes of
// the result.
func (s *Server) concludeEvaluation(ctx context.Context, method string, req evaluationRequest,
	change func(e *domain.Evaluation) error, event func(pb *vendorsv1.Evaluation, version int64) sqlstore.Event) (*vendorsv1.Evaluation, error) {
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*vendorsv1.Evaluation, error) {
		e, err := names.Get(ctx, domain.EvaluationPattern, req.GetName(), tx.GetEvaluation)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), e.Name(), e.Version); err != nil {
			return nil, err
		}
		prev, before := e.Version, evaluationToProto(e)
		if err := change(e); err != nil {
			return nil, err
		}
		if err := tx.UpdateEvaluation(ctx, e, prev); err != nil {
			return nil, err
		}
		pb := evaluationToProto(e)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: e.Name(), Before: before, After: pb,
			Event: event(pb, e.Version)})
	})
}

// DecideEvaluation implements vendorsv1.VendorsServiceServer.
func (s *Server) DecideEvaluation(ctx context.Context, req *vendorsv1.DecideEvaluationRequest) (*vendorsv1.Evaluation, error) {
	return s.concludeEvaluation(ctx, vendorsv1.VendorsService_DecideEvaluation_FullMethodName, req,
		func(e *domain.Evaluation) error {
			return e.Decide(req.GetWinner(), req.GetRationale(), identity.Actor(ctx), s.now())
		},
		func(pb *vendorsv1.Evaluation, version int64) sqlstore.Event {
			return &vendorsv1.EvaluationDecided{Evaluation: pb, Version: version}
		})
}

// CancelEvaluation implements vendorsv1.VendorsServiceServer.
func (s *Server) CancelEvaluation(ctx context.Context, req *vendorsv1.CancelEvaluationRequest) (*vendorsv1.Evaluation, error) {
	return s.concludeEvaluation(ctx, vendorsv1.VendorsService_CancelEvaluation_FullMethodName, req,
		func(e *domain.Evaluation) error { return e.Cancel(req.GetReason(), s.now()) },
		func(pb *vendorsv1.Evaluation, version int64) sqlstore.Event {
			return &vendorsv1.EvaluationCancelled{Evaluation: pb, Version: version}
		})
}
