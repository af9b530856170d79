package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
)

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// idOf returns the ID of a name of p, or "" for an empty name (an unset reference). The API's
// validation rules have checked the name's form.
func idOf(p interface{ Last(string) (string, bool) }, name string) string {
	id, _ := p.Last(name)
	return id
}

func teamFields(t *talentv1.Team) domain.TeamFields {
	return domain.TeamFields{
		DisplayName: t.GetDisplayName(),
		ParentID:    idOf(domain.TeamPattern, t.GetParent()),
		ManagerID:   idOf(domain.PersonPattern, t.GetManager()),
		CostCenter:  t.GetCostCenter(),
		Description: t.GetDescription(),
	}
}

func teamToProto(t *domain.Team) *talentv1.Team {
	pb := &talentv1.Team{
		Name:        t.Name(),
		DisplayName: t.DisplayName,
		Parent:      domain.TeamName(t.ParentID),
		CostCenter:  t.CostCenter,
		Description: t.Description,
		CreateTime:  ts(t.CreateTime),
		UpdateTime:  ts(t.UpdateTime),
		Etag:        etag.Of(t.Name(), t.Version),
	}
	if t.ManagerID != "" {
		pb.Manager = domain.PersonPattern.Format(t.ManagerID)
	}
	return pb
}

// personFields converts a request's person; errors name the field under prefix, never its value.
func personFields(p *talentv1.Person, prefix string) (domain.PersonFields, error) {
	f := domain.PersonFields{
		DisplayName: p.GetDisplayName(), Email: p.GetEmail(), Title: p.GetTitle(), Level: p.GetLevel(),
		TeamID: idOf(domain.TeamPattern, p.GetTeam()), Location: p.GetLocation(), Principal: p.GetPrincipal(),
		EmploymentType: domain.EmploymentType(p.GetEmploymentType()),
	}
	var err error
	if p.GetStartDate() != nil {
		if f.StartDate, err = civil.FromProtoField(p.GetStartDate(), prefix+domain.FieldStartDate); err != nil {
			return f, err
		}
	}
	if p.GetLoadedAnnualCost() != nil {
		a, err := money.FromProtoField(p.GetLoadedAnnualCost(), "", prefix+domain.FieldCost)
		if err != nil {
			return f, err
		}
		f.Cost = &a
	}
	return f, nil
}

func personToProto(p *domain.Person) *talentv1.Person {
	pb := &talentv1.Person{
		Name:           p.Name(),
		DisplayName:    p.DisplayName,
		Email:          p.Email,
		Title:          p.Title,
		Level:          p.Level,
		Team:           domain.TeamName(p.TeamID),
		EmploymentType: talentv1.Person_EmploymentType(p.EmploymentType),
		StartDate:      civil.ToProto(p.StartDate),
		Location:       p.Location,
		Principal:      p.Principal,
		State:          talentv1.Person_State(p.State),
		CreateTime:     ts(p.CreateTime),
		UpdateTime:     ts(p.UpdateTime),
		Etag:           etag.Of(p.Name(), p.Version),
	}
	if !p.EndDate.IsZero() {
		pb.EndDate = civil.ToProto(p.EndDate)
	}
	if p.Cost != nil {
		pb.LoadedAnnualCost = money.ToProto(*p.Cost)
	}
	return pb
}
