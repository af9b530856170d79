package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
)

// PersonPattern is the name of a person of the talent service, which an incident's roles may
// hold. A role holding anything else — an e-mail address, a handle — is a free name, as before
// talent existed.
const PersonPattern names.Pattern = "people/{person}"

// personPrefix marks a role's value as meant to be a person's name.
const personPrefix = "people/"

// personName is a well-formed person's name, as talent's API accepts it.
var personName = regexp.MustCompile(`^people/[a-z0-9][a-z0-9-]{0,62}$`)

// Errors about the people an incident's roles name; each is reported on the role's field.
var (
	ErrRolePersonNotFound = fault.New(fault.InvalidArgument, "PERSON_NOT_FOUND", "the role names a person the talent service does not know")
	ErrRolePersonLeft     = fault.New(fault.InvalidArgument, "PERSON_LEFT", "the role names a person who has left the organisation")
)

// RolePerson is a role's value that names a person, with the field that holds it
// ("roles.commander", "roles.responders[2]").
type RolePerson struct {
	Field, Name string
}

// RolePeople returns the values of the roles among paths (an update's paths, or every role for
// a new incident) that name a person (people/…), in field order, except those that held already
// (in held), which were checked when they were set. A value that starts with people/ but is no
// person's name is INVALID_ARGUMENT on its field.
func RolePeople(paths []string, r Roles, held Roles) ([]RolePerson, error) {
	paths = expandRoles(paths)
	before := []string{held.Commander, held.CommunicationsLead, held.Scribe}
	before = append(before, held.Responders...)
	var out []RolePerson
	var vs fault.Violations
	add := func(field, v string) {
		v = strings.TrimSpace(v)
		if !strings.HasPrefix(v, personPrefix) || slices.Contains(before, v) {
			return
		}
		if !personName.MatchString(v) {
			vs = append(vs, PersonPattern.Violation(field))
			return
		}
		out = append(out, RolePerson{Field: field, Name: v})
	}
	for _, f := range []struct{ path, value string }{
		{IncidentFieldCommander, r.Commander}, {IncidentFieldCommunicationsLead, r.CommunicationsLead}, {IncidentFieldScribe, r.Scribe},
	} {
		if slices.Contains(paths, f.path) {
			add(f.path, f.value)
		}
	}
	if slices.Contains(paths, IncidentFieldResponders) {
		for n, v := range r.Responders {
			add(fmt.Sprintf("%s[%d]", IncidentFieldResponders, n), v)
		}
	}
	if len(vs) > 0 {
		return nil, fault.Invalid(vs...)
	}
	return out, nil
}
