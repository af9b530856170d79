package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
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
