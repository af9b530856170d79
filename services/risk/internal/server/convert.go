package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// timePB is t as a Timestamp; nil for the zero time, an event that has not happened.
func timePB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// scorePB is s as the API shows it; nil when unscored.
func scorePB(s domain.Score) *riskv1.RiskScore {
	if s.IsZero() {
		return nil
	}
	return &riskv1.RiskScore{Likelihood: s.Likelihood, Impact: s.Impact, Score: s.Value(), Level: riskv1.RiskLevel(s.Level)}
}

// pairOf is the likelihood and impact a request gives; nil when it gives none.
func pairOf(pb *riskv1.RiskScore) *domain.Pair {
	if pb == nil {
		return nil
	}
	return &domain.Pair{Likelihood: pb.GetLikelihood(), Impact: pb.GetImpact()}
}

// riskToProto is r as the API shows it.
func riskToProto(r *domain.Risk) *riskv1.Risk {
	return &riskv1.Risk{
		Name:            r.Name(),
		Title:           r.Title,
		Description:     r.Description,
		Category:        riskv1.Risk_Category(r.Category),
		Owner:           r.Owner,
		Inherent:        scorePB(r.Inherent),
		Residual:        scorePB(r.Residual),
		MatrixVersion:   r.MatrixVersion,
		Treatment:       riskv1.Risk_Treatment(r.Treatment),
		TreatmentPlan:   r.TreatmentPlan,
		State:           riskv1.Risk_State(r.State),
		StateReason:     r.StateReason,
		StateChangeTime: timePB(r.StateChangeTime),
		NextReviewDate:  civil.ToProto(r.NextReviewDate),
		LastReviewTime:  timePB(r.LastReviewTime),
		AboveAppetite:   r.AboveAppetite,
		Vendors:         r.Vendors,
		Incidents:       r.Incidents,
		Controls:        r.Controls,
		Source:          r.Source,
		Assessor:        r.Assessor,
		AssessTime:      timePB(r.AssessTime),
		CreateTime:      timePB(r.CreateTime),
		UpdateTime:      timePB(r.UpdateTime),
		Etag:            etag.Of(r.Name(), r.Version),
	}
}

// riskFields takes the writable fields of a request's risk. Names were checked against their
// patterns by the request's validation rules.
func riskFields(pb *riskv1.Risk) domain.RiskFields {
	return domain.RiskFields{
		Title:         pb.GetTitle(),
		Description:   pb.GetDescription(),
		Category:      int32(pb.GetCategory()),
		Owner:         pb.GetOwner(),
		Treatment:     int32(pb.GetTreatment()),
		TreatmentPlan: pb.GetTreatmentPlan(),
		Vendors:       pb.GetVendors(),
		Incidents:     pb.GetIncidents(),
		Controls:      pb.GetControls(),
	}
}

// scoreChangeToProto is c as the API shows it.
func scoreChangeToProto(c *domain.ScoreChange) *riskv1.RiskScoreChange {
	return &riskv1.RiskScoreChange{
		Name:              c.Name(),
		Actor:             c.Actor,
		ChangeTime:        timePB(c.Time),
		Reason:            c.Reason,
		Cause:             c.Cause,
		FromInherent:      scorePB(c.FromInherent),
		ToInherent:        scorePB(c.ToInherent),
		FromResidual:      scorePB(c.FromResidual),
		ToResidual:        scorePB(c.ToResidual),
		FromMatrixVersion: c.FromMatrixVersion,
		ToMatrixVersion:   c.ToMatrixVersion,
	}
}

// matrixToProto is m as the API shows it, named name: riskMatrix for the current version,
// riskMatrix/versions/{version} otherwise.
func matrixToProto(m *domain.Matrix, name string) *riskv1.RiskMatrix {
	pb := &riskv1.RiskMatrix{Name: name, Version: m.Version, Description: m.Description, Creator: m.Creator,
		CreateTime: timePB(m.CreateTime), Etag: etag.Of(domain.RiskMatrixName, int64(m.Version))}
	for i, s := range m.Likelihood {
		pb.LikelihoodLevels = append(pb.LikelihoodLevels, &riskv1.AxisLevel{Value: int32(i + 1), Label: s.Label, Description: s.Description})
	}
	for i, s := range m.Impact {
		pb.ImpactLevels = append(pb.ImpactLevels, &riskv1.AxisLevel{Value: int32(i + 1), Label: s.Label, Description: s.Description})
	}
	for _, c := range m.Cells {
		pb.Cells = append(pb.Cells, &riskv1.MatrixCell{Likelihood: c.Likelihood, Impact: c.Impact,
			Level: riskv1.RiskLevel(c.Level), Score: c.Likelihood * c.Impact})
	}
	return pb
}

// matrixFields takes the writable fields of a request's matrix.
func matrixFields(pb *riskv1.RiskMatrix) domain.MatrixFields {
	f := domain.MatrixFields{Description: pb.GetDescription()}
	for _, s := range pb.GetLikelihoodLevels() {
		f.Likelihood = append(f.Likelihood, domain.AxisLevel{Label: s.GetLabel(), Description: s.GetDescription()})
	}
	for _, s := range pb.GetImpactLevels() {
		f.Impact = append(f.Impact, domain.AxisLevel{Label: s.GetLabel(), Description: s.GetDescription()})
	}
	for _, c := range pb.GetCells() {
		f.Cells = append(f.Cells, domain.Cell{Likelihood: c.GetLikelihood(), Impact: c.GetImpact(), Level: domain.Level(c.GetLevel())})
	}
	return f
}

// appetiteToProto is a as the API shows it.
func appetiteToProto(a *domain.Appetite) *riskv1.RiskAppetite {
	pb := &riskv1.RiskAppetite{Name: domain.RiskAppetiteName, DefaultLevel: riskv1.RiskLevel(a.Default),
		Updater: a.Updater, UpdateTime: timePB(a.UpdateTime), Etag: etag.Of(domain.RiskAppetiteName, a.Version)}
	for _, c := range a.Categories {
		pb.Categories = append(pb.Categories, &riskv1.CategoryAppetite{Category: riskv1.Risk_Category(c.Category), Level: riskv1.RiskLevel(c.Level)})
	}
	return pb
}

// appetiteFields takes the writable fields of a request's appetite.
func appetiteFields(pb *riskv1.RiskAppetite) domain.AppetiteFields {
	f := domain.AppetiteFields{Default: domain.Level(pb.GetDefaultLevel())}
	for _, c := range pb.GetCategories() {
		f.Categories = append(f.Categories, domain.CategoryAppetite{Category: int32(c.GetCategory()), Level: domain.Level(c.GetLevel())})
	}
	return f
}
