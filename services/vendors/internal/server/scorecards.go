package server

import (
	"context"
	"slices"
	"strings"

	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/types/known/timestamppb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/api/pagetoken"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// Scorecards are computed on read from the vendor's invoices, contracts, assessments and
// attestations, and from the incidents and SLA breaches the service keeps from the risk
// service's incident events (incidents.go); nothing about a scorecard itself is stored.

// scorecardSource is what a vendor's scorecards are computed from, read once for a Get or a
// List.
type scorecardSource struct {
	vendor      *domain.Vendor
	invoices    []domain.InvoiceMonthTotal
	contracts   []*domain.Contract
	assessments []*domain.Assessment
	// attestations is the worst status of the vendor's attestations on a day.
	attestations func(day domain.Date) domain.AttestationsStatus
	incidents    []*domain.Incident
	breaches     []domain.SLABreach
}

// scorecardSource reads what the vendor's scorecards are computed from; VENDOR_NOT_FOUND naming
// the vendor when it does not exist.
func (s *Server) scorecardSource(ctx context.Context, vendorID string) (*scorecardSource, error) {
	v, err := s.store.GetVendor(ctx, vendorID)
	if err != nil {
		return nil, err
	}
	src := &scorecardSource{vendor: v}
	if src.invoices, err = s.store.InvoiceMonthTotals(ctx, vendorID); err != nil {
		return nil, err
	}
	if src.contracts, err = s.store.VendorContracts(ctx, vendorID); err != nil {
		return nil, err
	}
	if src.assessments, err = s.store.CompletedAssessments(ctx, vendorID); err != nil {
		return nil, err
	}
	if src.attestations, err = s.attestationsStatus(ctx, vendorID); err != nil {
		return nil, err
	}
	if src.incidents, err = s.store.VendorIncidents(ctx, vendorID); err != nil {
		return nil, err
	}
	if src.breaches, err = s.store.VendorSLABreaches(ctx, vendorID); err != nil {
		return nil, err
	}
	return src, nil
}

// active reports whether the vendor had an invoice dated in quarter q, a contract in force, an
// incident or an SLA breach in it: the quarters ListScorecards lists.
func (src *scorecardSource) active(q domain.Quarter) bool {
	return slices.ContainsFunc(src.invoices, func(t domain.InvoiceMonthTotal) bool {
		return domain.QuarterOf(domain.Date{Year: t.Month.Year, Month: t.Month.Month, Day: 1}) == q
	}) || slices.ContainsFunc(src.contracts, func(c *domain.Contract) bool { return domain.ContractInForce(c, q) }) ||
		slices.ContainsFunc(src.incidents, func(i *domain.Incident) bool { return i.Quarter() == q }) ||
		slices.ContainsFunc(src.breaches, func(b domain.SLABreach) bool { return b.Quarter() == q })
}

// scorecard computes the vendor's scorecard of quarter q on today.
func (s *Server) scorecard(src *scorecardSource, q domain.Quarter, today domain.Date) *domain.Scorecard {
	day := domain.ScorecardDay(q, today)
	w := s.cfg.ScorecardWeights
	inc := domain.QuarterIncidents(src.incidents, src.breaches, q)
	return domain.NewScorecard(src.vendor.ID, q, domain.ScorecardInputs{
		Spend:          domain.QuarterSpend(src.invoices, q),
		ContractValue:  domain.QuarterContractValue(src.contracts, q),
		RiskRating:     domain.RatingOn(src.assessments, day),
		Attestations:   src.attestations(day),
		IncidentCount:  inc.Count(),
		SLABreachCount: int32(len(inc.Breaches)),
		Incidents:      inc,
	}, domain.ScorecardWeights{Assessment: int32(w.Assessment), Attestations: int32(w.Attestations),
		Spend: int32(w.Spend), Incidents: int32(w.Incidents), SLA: int32(w.SLA)})
}

// scorecardToProto is sc as the API shows it. Spend and contract value are filled for every
// caller: the authorization layer hides them from callers without vendors.finance.
func scorecardToProto(sc *domain.Scorecard) *vendorsv1.Scorecard {
	pb := &vendorsv1.Scorecard{
		Name:              sc.Name(),
		Quarter:           sc.Quarter.String(),
		Spend:             amountsPB(sc.Spend),
		ContractValue:     amountsPB(sc.ContractValue),
		RiskRating:        vendorsv1.RiskRating(sc.RiskRating),
		AttestationStatus: vendorsv1.Scorecard_AttestationStatus(sc.Attestations),
		IncidentCount:     sc.IncidentCount,
		SlaBreachCount:    sc.SLABreachCount,
		Score:             sc.Score,
	}
	for _, r := range sc.SpendRatios {
		pb.SpendRatios = append(pb.SpendRatios, &vendorsv1.SpendRatio{CurrencyCode: string(r.Currency), Percent: r.Percent})
	}
	for _, c := range sc.Components {
		pb.Components = append(pb.Components, &vendorsv1.ScorecardComponent{Criterion: c.Criterion, Weight: c.Weight,
			ValueDescription: c.ValueDescription, Points: c.Points, MaxPoints: c.MaxPoints})
	}
	for _, c := range sc.Incidents.BySeverity {
		pb.IncidentsBySeverity = append(pb.IncidentsBySeverity, &vendorsv1.SeverityCount{
			Severity: vendorsv1.ResponseTarget_Severity(c.Severity), Count: c.Count})
	}
	for _, b := range sc.Incidents.Breaches {
		pb.SlaBreaches = append(pb.SlaBreaches, slaBreachToProto(b))
	}
	return pb
}

// slaBreachToProto is b as the API shows it.
func slaBreachToProto(b domain.SLABreach) *vendorsv1.SlaBreach {
	return &vendorsv1.SlaBreach{
		Name: b.Name(), Contract: domain.ContractPattern.Format(b.VendorID, b.ContractID), ServiceLevel: b.ServiceLevel,
		Kind: vendorsv1.SlaBreach_Kind(b.Kind), Incident: b.Incident, Severity: vendorsv1.ResponseTarget_Severity(b.Severity),
		Period: b.Period, Target: b.Target, Measured: b.Measured, BreachTime: timestamppb.New(b.BreachTime),
	}
}

// GetSlaBreach implements vendorsv1.VendorsServiceServer.
func (s *Server) GetSlaBreach(ctx context.Context, req *vendorsv1.GetSlaBreachRequest) (*vendorsv1.SlaBreach, error) {
	var vendorID, id string
	if !domain.SLABreachPattern.Scan(req.GetName(), &vendorID, &id) {
		return nil, domain.SLABreachPattern.Invalid("name")
	}
	b, err := s.store.GetSLABreach(ctx, vendorID, id)
	if err != nil {
		return nil, fault.Named(err, req.GetName())
	}
	return slaBreachToProto(b), nil
}

// defaultSLABreachOrder is the order of a ListSlaBreaches call without order_by: the most recent
// breach first.
const defaultSLABreachOrder = "breach_time desc"

// ListSlaBreaches implements vendorsv1.VendorsServiceServer: the most recent first unless the
// request orders otherwise. The vendor may be the wildcard "-".
func (s *Server) ListSlaBreaches(ctx context.Context, req *vendorsv1.ListSlaBreachesRequest) (*vendorsv1.ListSlaBreachesResponse, error) {
	var vendorID string
	if !domain.VendorPattern.Scan(req.GetParent(), &vendorID) {
		return nil, domain.VendorPattern.Invalid("parent")
	}
	if strings.TrimSpace(req.GetOrderBy()) == "" {
		req.OrderBy = defaultSLABreachOrder
	}
	page, token, err := listing.List(ctx, req, store.SLABreachTable, func(ctx context.Context, q *listing.Query) ([]domain.SLABreach, error) {
		return s.store.ListSLABreaches(ctx, vendorID, q)
	}, listing.Infallible(slaBreachToProto))
	if err != nil {
		return nil, err
	}
	return &vendorsv1.ListSlaBreachesResponse{SlaBreaches: page, NextPageToken: token}, nil
}

func amountsPB(as []money.Amount) []*moneypb.Money {
	var out []*moneypb.Money
	for _, a := range as {
		out = append(out, money.ToProto(a))
	}
	return out
}

// GetScorecard implements vendorsv1.VendorsServiceServer.
func (s *Server) GetScorecard(ctx context.Context, req *vendorsv1.GetScorecardRequest) (*vendorsv1.Scorecard, error) {
	var vendorID, quarter string
	if !domain.ScorecardPattern.Scan(req.GetName(), &vendorID, &quarter) {
		return nil, domain.ScorecardPattern.Invalid("name")
	}
	q, err := domain.ParseQuarter(quarter)
	if err != nil {
		return nil, fault.Field("name", "INVALID_FORMAT", err.Error())
	}
	src, err := s.scorecardSource(ctx, vendorID)
	if err != nil {
		return nil, err
	}
	today := s.today()
	if !slices.Contains(domain.ScorecardQuarters(src.vendor.CreateTime, today), q) {
		return nil, domain.ErrScorecardNotFound.With("name", req.GetName()).
			Withf("scorecard %s not found: vendor %s has scorecards from %s to %s", req.GetName(), src.vendor.Name(),
				domain.QuarterOf(civil.DateOf(src.vendor.CreateTime.UTC())), domain.QuarterOf(today))
	}
	return scorecardToProto(s.scorecard(src, q, today)), nil
}

// ListScorecards implements vendorsv1.VendorsServiceServer: the quarters from the vendor's
// creation to the current one with an invoice dated in them or a contract in force in them,
// newest first. A page token carries the last quarter of its page.
func (s *Server) ListScorecards(ctx context.Context, req *vendorsv1.ListScorecardsRequest) (*vendorsv1.ListScorecardsResponse, error) {
	vendorID, ok := domain.VendorPattern.Last(req.GetParent())
	if !ok {
		return nil, domain.VendorPattern.Invalid("parent")
	}
	sum := pagetoken.Checksum(req)
	key, err := pagetoken.Decode(req.GetPageToken(), sum, 1)
	if err != nil {
		return nil, err
	}
	var after *domain.Quarter
	if key != nil {
		q, err := domain.ParseQuarter(key[0])
		if err != nil {
			return nil, pagetoken.Invalid()
		}
		after = &q
	}
	src, err := s.scorecardSource(ctx, vendorID)
	if err != nil {
		return nil, err
	}
	today := s.today()
	size := pagetoken.Size(req.GetPageSize())
	resp := &vendorsv1.ListScorecardsResponse{}
	for _, q := range domain.ScorecardQuarters(src.vendor.CreateTime, today) {
		if (after != nil && q.Compare(*after) >= 0) || !src.active(q) {
			continue
		}
		if len(resp.Scorecards) == size {
			resp.NextPageToken = pagetoken.Encode(sum, resp.Scorecards[size-1].GetQuarter())
			break
		}
		resp.Scorecards = append(resp.Scorecards, scorecardToProto(s.scorecard(src, q, today)))
	}
	return resp, nil
}

// attestationsStatus returns the worst status of the vendor's attestations on a day, among
// those recorded by then (an attestation deleted since is gone from every quarter).
func (s *Server) attestationsStatus(ctx context.Context, vendorID string) (func(domain.Date) domain.AttestationsStatus, error) {
	as, err := s.store.VendorAttestations(ctx, vendorID)
	if err != nil {
		return nil, err
	}
	return func(day domain.Date) domain.AttestationsStatus {
		var statuses []domain.AttestationsStatus
		for _, a := range as {
			if !day.Before(civil.DateOf(a.CreateTime.UTC())) {
				switch a.Status(day) {
				case domain.AttestationValid:
					statuses = append(statuses, domain.AttestationsValid)
				case domain.AttestationExpiring:
					statuses = append(statuses, domain.AttestationsExpiring)
				default:
					statuses = append(statuses, domain.AttestationsExpired)
				}
			}
		}
		return domain.WorstAttestation(statuses)
	}, nil
}
