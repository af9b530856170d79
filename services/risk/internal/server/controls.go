package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// A control is due for a test at the start (UTC) of its next test's date. The store declares that
// date with every write of the control (store.UpdateControl), in the write's transaction: a test
// or a new frequency moves it, deleting the control cancels it.

// complianceSchedules are the due items of controls: a control's test falling due.
func (s *Server) complianceSchedules() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{store.ControlTestDueKind: s.ControlTestDue}
}

// controlMask follows the field behaviors of the Control message.
var controlMask = fieldmask.FromDescriptor((&riskv1.Control{}).ProtoReflect().Descriptor(), "name", "etag")

// controlToProto is c as the API shows it on today, the day that decides whether a test is due.
func controlToProto(c *domain.Control, today civil.Date) *riskv1.Control {
	pb := &riskv1.Control{
		Name:          c.Name(),
		Title:         c.Title,
		Description:   c.Description,
		Owner:         c.Owner,
		Type:          riskv1.ControlType(c.Type),
		TestFrequency: riskv1.TestFrequency(c.Frequency),
		Requirements:  c.Requirements,
		Risks:         c.Risks,
		LastResult:    riskv1.ControlTestResult(c.LastResult),
		NextTestDate:  civil.ToProto(c.NextTestDate),
		TestDue:       c.TestDue(today),
		CreateTime:    timestamppb.New(c.CreateTime),
		UpdateTime:    timestamppb.New(c.UpdateTime),
		Etag:          etag.Of(c.Name(), c.Version),
	}
	if !c.LastTestDate.IsZero() {
		pb.LastTestDate = civil.ToProto(c.LastTestDate)
	}
	return pb
}

// controlFields takes the writable fields of a request's control.
func controlFields(pb *riskv1.Control) domain.ControlFields {
	return domain.ControlFields{Title: pb.GetTitle(), Description: pb.GetDescription(), Owner: pb.GetOwner(),
		Type: domain.ControlType(pb.GetType()), Frequency: domain.TestFrequency(pb.GetTestFrequency()),
		Requirements: pb.GetRequirements(), Risks: pb.GetRisks()}
}

// testToProto is t as the API shows it.
func testToProto(t *domain.ControlTest) *riskv1.ControlTest {
	return &riskv1.ControlTest{
		Name:          t.Name(),
		TestDate:      civil.ToProto(t.Date),
		Result:        riskv1.ControlTestResult(t.Result),
		EvidenceLinks: t.EvidenceLinks,
		Notes:         t.Notes,
		Tester:        t.Tester,
		RaisedRisks:   t.RaisedRisks,
		CreateTime:    timestamppb.New(t.CreateTime),
	}
}

// CreateControl implements riskv1.ComplianceServiceServer.
func (s *Compliance) CreateControl(ctx context.Context, req *riskv1.CreateControlRequest) (*riskv1.Control, error) {
	now, today := s.now(), s.today()
	c, err := domain.NewControl(s.id(req.GetControlId()), controlFields(req.GetControl()), now)
	if err != nil {
		return nil, err
	}
	if err := s.checkRiskLinks(ctx, c.Risks, nil); err != nil {
		return nil, err
	}
	return idempotency.InTx(ctx, s.store.Within, riskv1.ComplianceService_CreateControl_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.Control, error) {
			if err := checkRequirements(ctx, tx, c.Requirements); err != nil {
				return nil, err
			}
			if err := tx.InsertControl(ctx, c); err != nil {
				return nil, err
			}
			if err := s.relinkRisks(ctx, tx, c.Name(), nil, c.Risks, req.GetControl().GetRisks(), now); err != nil {
				return nil, err
			}
			if err := s.recordPostures(ctx, tx, c.Frameworks()...); err != nil {
				return nil, err
			}
			pb := controlToProto(c, today)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: c.Name(), After: pb,
				Event: &riskv1.ControlCreated{Control: pb, Version: c.Version}})
		})
}

// GetControl implements riskv1.ComplianceServiceServer.
func (s *Compliance) GetControl(ctx context.Context, req *riskv1.GetControlRequest) (*riskv1.Control, error) {
	today := s.today()
	return names.GetAs(ctx, domain.ControlPattern, req.GetName(), s.store.GetControl,
		func(c *domain.Control) *riskv1.Control { return controlToProto(c, today) })
}

// ListControls implements riskv1.ComplianceServiceServer.
func (s *Compliance) ListControls(ctx context.Context, req *riskv1.ListControlsRequest) (*riskv1.ListControlsResponse, error) {
	today := s.today()
	page, token, err := listing.List(ctx, req, store.ControlTable(today), s.store.ListControls,
		listing.Infallible(func(c *domain.Control) *riskv1.Control { return controlToProto(c, today) }))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListControlsResponse{Controls: page, NextPageToken: token}, nil
}

// UpdateControl implements riskv1.ComplianceServiceServer.
func (s *Compliance) UpdateControl(ctx context.Context, req *riskv1.UpdateControlRequest) (*riskv1.Control, error) {
	in := req.GetControl()
	var id string
	if !domain.ControlPattern.Scan(in.GetName(), &id) {
		return nil, domain.ControlPattern.Invalid("control.name")
	}
	paths, err := controlMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	if s.mayWriteRisk != nil && slices.Contains(paths, domain.ControlFieldRisks) {
		// Read before the transaction, as the ownership check is (ADR 0014): the risks linked
		// or unlinked must be the caller's to write.
		c, err := s.store.GetControl(ctx, id)
		if err != nil {
			return nil, err
		}
		next := controlFields(in).Risks
		if err := s.checkRiskLinks(ctx, without(next, c.Risks), without(c.Risks, next)); err != nil {
			return nil, err
		}
	}
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.Control, error) {
		c, err := tx.GetControl(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), c.Name(), c.Version); err != nil {
			return nil, err
		}
		prev, before := c.Version, controlToProto(c, today)
		oldRisks, frameworks := c.Risks, c.Frameworks()
		changed, err := c.Apply(paths, controlFields(in), now)
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if slices.Contains(changed, domain.ControlFieldRequirements) {
			if err := checkRequirements(ctx, tx, c.Requirements); err != nil {
				return nil, err
			}
		}
		if err := tx.UpdateControl(ctx, c, prev); err != nil {
			return nil, err
		}
		if err := s.relinkRisks(ctx, tx, c.Name(), oldRisks, c.Risks, in.GetRisks(), now); err != nil {
			return nil, err
		}
		if err := s.recordPostures(ctx, tx, union(frameworks, c.Frameworks())...); err != nil {
			return nil, err
		}
		after := controlToProto(c, today)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: after,
			Event: &riskv1.ControlUpdated{Control: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: c.Version}})
	})
}

// DeleteControl implements riskv1.ComplianceServiceServer.
func (s *Compliance) DeleteControl(ctx context.Context, req *riskv1.DeleteControlRequest) (*emptypb.Empty, error) {
	now, today := s.now(), s.today()
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		c, err := names.Get(ctx, domain.ControlPattern, req.GetName(), tx.GetControl)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), c.Name(), c.Version); err != nil {
			return err
		}
		before := controlToProto(c, today)
		if err := s.relinkRisks(ctx, tx, c.Name(), c.Risks, nil, nil, now); err != nil {
			return err
		}
		if err := tx.DeleteControl(ctx, c); err != nil {
			return err
		}
		if err := s.recordPostures(ctx, tx, c.Frameworks()...); err != nil {
			return err
		}
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: c.Name(), Before: before,
			Event: &riskv1.ControlDeleted{Control: before, Version: c.Version + 1}})
	}))
}

// checkRequirements refuses, each on its field, the requirements that do not exist.
func checkRequirements(ctx context.Context, tx store.Tx, requirements []string) error {
	var vs fault.Violations
	for i, name := range requirements {
		var f, id string
		domain.RequirementPattern.Scan(name, &f, &id)
		ok, err := tx.RequirementExists(ctx, f, id)
		if err != nil {
			return err
		}
		if !ok {
			vs.Add(fmt.Sprintf("control.requirements[%d]", i), domain.ErrRequirementNotFound.Reason,
				fmt.Sprintf("%s does not exist; import its framework first", name))
		}
	}
	return vs.Err()
}

// relinkRisks moves the link of the control named control from the risks of old to those of
// next, in each risk's controls, where the register keeps it: a risk added must exist and not be
// CLOSED (refused on its field of the request's control.risks, given, the list as the request
// orders it); a risk removed is unlinked even when CLOSED, and one gone is skipped. Each risk
// changed publishes risk.updated.
func (s *Server) relinkRisks(ctx context.Context, tx store.Tx, control string, old, next, given []string, now time.Time) error {
	var vs fault.Violations
	for _, name := range next {
		i := slices.Index(given, name)
		if slices.Contains(old, name) {
			continue
		}
		err := s.changeRiskControls(ctx, tx, name, func(r *domain.Risk) (bool, error) { return r.LinkControl(control, now) })
		if f := fault.As(err); f != nil && (f.Kind == fault.NotFound || f.Kind == fault.FailedPrecondition) {
			vs.Add(fmt.Sprintf("control.risks[%d]", i), f.Reason, fmt.Sprintf("%s: %s", name, f.Message))
		} else if err != nil {
			return err
		}
	}
	if err := vs.Err(); err != nil {
		return err
	}
	for _, name := range old {
		if slices.Contains(next, name) {
			continue
		}
		err := s.changeRiskControls(ctx, tx, name, func(r *domain.Risk) (bool, error) { return r.UnlinkControl(control, now), nil })
		if err != nil && !errors.Is(err, domain.ErrRiskNotFound) {
			return err
		}
	}
	return nil
}

// changeRiskControls applies change to the controls of the risk named name and saves it with a
// risk.updated event when it changed.
func (s *Server) changeRiskControls(ctx context.Context, tx store.Tx, name string, change func(r *domain.Risk) (bool, error)) error {
	var id string
	domain.RiskPattern.Scan(name, &id)
	r, err := tx.GetRisk(ctx, id)
	if err != nil {
		return err
	}
	prev, before := r.Version, riskToProto(r)
	changed, err := change(r)
	if err != nil || !changed {
		return err
	}
	_, err = s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before,
		&riskv1.RiskUpdated{ChangedFields: &fieldmaskpb.FieldMask{Paths: []string{domain.RiskFieldControls}}})
	return err
}

// union is a followed by the elements of b not in a.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// CreateControlTest implements riskv1.ComplianceServiceServer. A test that makes the control
// INEFFECTIVE when it was not raises the residual likelihood of the risks it mitigates, in the
// test's transaction: a control that stays INEFFECTIVE through later tests raises them once.
func (s *Compliance) CreateControlTest(ctx context.Context, req *riskv1.CreateControlTestRequest) (*riskv1.ControlTest, error) {
	var controlID string
	domain.ControlPattern.Scan(req.GetParent(), &controlID)
	in := req.GetControlTest()
	date, err := civil.FromProtoField(in.GetTestDate(), "control_test.test_date")
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	t, err := domain.NewControlTest(controlID, s.id(req.GetControlTestId()), domain.ControlTest{Date: date,
		Result: domain.TestResult(in.GetResult()), EvidenceLinks: in.GetEvidenceLinks(), Notes: in.GetNotes()}, identity.Owner(ctx), now)
	if err != nil {
		return nil, err
	}
	return idempotency.InTx(ctx, s.store.Within, riskv1.ComplianceService_CreateControlTest_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.ControlTest, error) {
			c, err := tx.GetControl(ctx, controlID)
			if err != nil {
				return nil, err
			}
			prev, before, was := c.Version, controlToProto(c, today), c.LastResult
			latest := c.Record(t, now)
			failed := latest && t.Result == domain.Ineffective
			if failed && was != domain.Ineffective {
				if t.RaisedRisks, err = s.raiseMitigatedRisks(ctx, tx, c, t); err != nil {
					return nil, err
				}
			}
			if failed {
				c.Version++ // control.failed follows control.tested
			}
			if err := tx.InsertControlTest(ctx, t); err != nil {
				return nil, err
			}
			if err := tx.UpdateControl(ctx, c, prev); err != nil {
				return nil, err
			}
			if err := s.recordPostures(ctx, tx, c.Frameworks()...); err != nil {
				return nil, err
			}
			pb, after := testToProto(t), controlToProto(c, today)
			tested := &riskv1.ControlTested{Control: after, Test: pb, Version: c.Version}
			if failed {
				tested.Version--
			}
			if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: after,
				Event: tested}); err != nil {
				return nil, err
			}
			if failed {
				return pb, tx.Emit(ctx, c.Name(), &riskv1.ControlFailed{Control: after, Test: pb, RaisedRisks: t.RaisedRisks, Version: c.Version})
			}
			return pb, nil
		})
}

// raiseMitigatedRisks raises the residual likelihood of each risk control c mitigates one step
// (at most to the matrix's top; the inherent score rises with it when it would otherwise be
// below), recorded in its score history with the service as the actor and test t as the cause. A
// risk CLOSED, not scored yet or already at the top is left as it is. It returns the names of the
// risks it raised.
func (s *Server) raiseMitigatedRisks(ctx context.Context, tx store.Tx, c *domain.Control, t *domain.ControlTest) ([]string, error) {
	var raised []string
	for _, name := range c.Risks {
		var id string
		domain.RiskPattern.Scan(name, &id)
		r, err := tx.GetRisk(ctx, id)
		if errors.Is(err, domain.ErrRiskNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if r.State == domain.RiskClosed || !r.Scored() {
			continue
		}
		mat, err := tx.CurrentMatrix(ctx)
		if err != nil {
			return nil, err
		}
		if r.Residual.Likelihood >= int32(len(mat.Likelihood)) {
			continue
		}
		prev, before := r.Version, riskToProto(r)
		pair := domain.Pair{Likelihood: r.Residual.Likelihood + 1, Impact: r.Residual.Impact}
		a := domain.Assessment{Residual: &pair, Actor: domain.ServiceActor, Cause: t.Name(),
			Reason: fmt.Sprintf("Control %s (%s) tested INEFFECTIVE on %s: likelihood raised one step", c.Name(), c.Title, t.Date)}
		if pair.Likelihood*pair.Impact > r.Inherent.Value() {
			a.Inherent = &pair
		}
		events, err := s.Rescore(ctx, tx, r, a)
		if err != nil {
			return nil, err
		}
		if _, err := s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before, events...); err != nil {
			return nil, err
		}
		raised = append(raised, name)
	}
	return raised, nil
}

// GetControlTest implements riskv1.ComplianceServiceServer.
func (s *Compliance) GetControlTest(ctx context.Context, req *riskv1.GetControlTestRequest) (*riskv1.ControlTest, error) {
	var controlID, id string
	domain.ControlTestPattern.ScanResource(req.GetName(), &controlID, &id)
	t, err := s.store.GetControlTest(ctx, controlID, id)
	if err != nil {
		return nil, err
	}
	return testToProto(t), nil
}

// ListControlTests implements riskv1.ComplianceServiceServer: newest first unless the request
// orders otherwise.
func (s *Compliance) ListControlTests(ctx context.Context, req *riskv1.ListControlTestsRequest) (*riskv1.ListControlTestsResponse, error) {
	var controlID string
	domain.ControlPattern.Scan(req.GetParent(), &controlID)
	if req.GetOrderBy() == "" {
		req.OrderBy = "test_date desc"
	}
	page, token, err := listing.List(ctx, req, store.TestTable,
		func(ctx context.Context, q *listing.Query) ([]*domain.ControlTest, error) {
			return s.store.ListControlTests(ctx, controlID, q)
		}, listing.Infallible(testToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListControlTestsResponse{ControlTests: page, NextPageToken: token}, nil
}

// ControlTestDue is the scheduler.Handler of store.ControlTestDueKind: it publishes
// control.test_due about a control at the start of its next test's date. An item left over from
// a date that moved, or of a control that is gone, does nothing.
func (s *Server) ControlTestDue(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var id string
	if !domain.ControlPattern.Scan(item.Resource, &id) {
		return scheduler.Permanent(fmt.Errorf("test-due item %q: not a control name", item.Resource))
	}
	tx := store.Join(t)
	c, err := tx.GetControl(ctx, id)
	if errors.Is(err, domain.ErrControlNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !c.TestDueAt().Equal(item.Due) {
		return nil
	}
	prev := c.Version
	c.Version++ // the event is a change of the control's state: its test is due
	if err := tx.UpdateControl(ctx, c, prev); err != nil {
		return err
	}
	return tx.Emit(ctx, c.Name(), &riskv1.ControlTestDue{
		Control:      controlToProto(c, civil.DateOf(item.Due.UTC())),
		NextTestDate: civil.ToProto(c.NextTestDate),
		DueTime:      timestamppb.New(item.Due.UTC()),
		FireTime:     timestamppb.New(item.FiredAt.UTC().Truncate(time.Microsecond)),
		Version:      c.Version,
	})
}

// without is the elements of a not in b.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
