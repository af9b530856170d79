package server

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// checkRolePeople asks talent, for the caller and before any transaction, about each person the
// roles name (domain.RolePeople): one talent does not know, or one who left, is INVALID_ARGUMENT
// on the role's field under prefix ("incident."). Talent down is UNAVAILABLE and any other
// refusal (the caller may not read talent) FAILED_PRECONDITION, PEER_REFUSED: either way the
// incident is not changed. Each person is asked about once.
func (s *Server) checkRolePeople(ctx context.Context, prefix string, people []domain.RolePerson) error {
	if len(people) == 0 {
		return nil
	}
	asked := map[string]error{}
	for _, rp := range people {
		err, ok := asked[rp.Name]
		if !ok {
			err = s.askTalent(ctx, rp.Name)
			asked[rp.Name] = err
		}
		switch {
		case errors.Is(err, domain.ErrRolePersonNotFound):
			return domain.ErrRolePersonNotFound.OnField(prefix+rp.Field, "").With("person", rp.Name)
		case errors.Is(err, domain.ErrRolePersonLeft):
			return domain.ErrRolePersonLeft.OnField(prefix+rp.Field, "").With("person", rp.Name)
		case err != nil:
			return err
		}
	}
	return nil
}

// askTalent returns nil when talent knows the person named name and they have not left,
// domain.ErrRolePersonNotFound or domain.ErrRolePersonLeft when not, or the failure of the call.
func (s *Server) askTalent(ctx context.Context, name string) error {
	p, err := s.talent.GetPerson(ctx, &talentv1.GetPersonRequest{Name: name})
	var pe *peer.Error
	switch {
	case errors.As(err, &pe) && pe.Code() == codes.NotFound:
		return domain.ErrRolePersonNotFound
	case err != nil:
		return peer.WithFacts(err)
	case p.GetState() == talentv1.Person_LEFT:
		return domain.ErrRolePersonLeft
	}
	return nil
}
