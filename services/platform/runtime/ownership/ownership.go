// Package ownership is the object-level authorization of writes (ADR 0014): scopes say what kind
// of change a caller may make, ownership says to which resources. With a service's write policy
// set to `owner`, a caller may change a resource — update, delete, a state transition or
// custom method, a child created under it — only when it is one of the resource's owners, or when
// it holds the service's admin scope (declared beside the API with the
// quarterdeck.auth.v1.ownership option). Under the default policy, `scopes`, nothing is checked
// here: scopes alone decide, as before.
//
// Which resource a method changes is read from its HTTP binding: the first path variable names it
// (`/v1/{budget.name=budgets/*}`, `/v1/{parent=budgets/*}/lines`), and its first segment is the
// collection. A service declares each of its collections owned or not (with the reason), and
// exempts the methods of owned collections that the owner must not be the only one to call (an
// approval by someone else). Every other method of an owned collection is checked, so that a
// method added later is checked without anyone remembering to.
package ownership

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	authv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/auth/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// Policy is a service's write policy.
type Policy string

const (
	// Scopes lets every caller holding a method's scopes write every resource (the default).
	Scopes Policy = "scopes"
	// Owner lets only a resource's owners, and holders of the admin scope, write it.
	Owner Policy = "owner"
)

// ParsePolicy reads a write policy setting; setting names the setting for the error.
func ParsePolicy(setting, value string) (Policy, error) {
	switch p := Policy(value); p {
	case Scopes, Owner:
		return p, nil
	case "":
		return Scopes, nil
	}
	return "", fmt.Errorf("%s is %q; want %q or %q", setting, value, Scopes, Owner)
}

// Reasons of the errors Check returns (ErrorInfo.reason, or a field violation's reason).
const (
	// ReasonNotOwner: the caller neither owns the resource nor holds the admin scope; metadata
	// `resource` names the resource and `scope` the admin scope.
	ReasonNotOwner = "NOT_OWNER"
	// ReasonOwnerNotPrincipal: an owner field names no principal (under the owner policy an
	// owner must be one: `principals/{id}`, `users/{sub}` or `apiKeys/{id}`).
	ReasonOwnerNotPrincipal = "OWNER_NOT_PRINCIPAL"
	// ReasonTeamsUnavailable: a resource is owned by a team and the caller's teams could not be
	// looked up (talent is down or refused): the write is refused with UNAVAILABLE, never allowed.
	ReasonTeamsUnavailable = "TEAMS_UNAVAILABLE"
)

// principal matches the names of principals (see the iam API): platform principals, OIDC
// users, and keys that are their own principal.
var principal = regexp.MustCompile(`^(principals/[a-z0-9][a-z0-9-]{0,62}|users/[!-~]{1,255}|apiKeys/[A-Za-z0-9][A-Za-z0-9_-]{0,62})$`)

// IsPrincipal reports whether name names a principal.
func IsPrincipal(name string) bool { return principal.MatchString(name) }

// team matches the names of talent's teams.
var team = regexp.MustCompile(`^teams/[a-z0-9][a-z0-9-]{0,62}$`)

// IsTeam reports whether name names a team of talent (`teams/{id}`).
func IsTeam(name string) bool { return team.MatchString(name) }

// Teams returns the teams (`teams/{id}`) whose member principal is — the team of the ACTIVE
// person of talent linked to it — asking talent as the caller of ctx, whose principal it is.
type Teams func(ctx context.Context, principal string) ([]string, error)

// TeamsTTL is how long CachedTeams keeps a principal's teams: a principal moved out of a team may
// write what the team owns for that long after the move, on each replica.
const TeamsTTL = 5 * time.Second

// maxCachedTeams bounds the principals CachedTeams keeps; past it, expired entries are dropped,
// and all of them when none has expired.
const maxCachedTeams = 10000

// CachedTeams returns lookup with its answers kept per principal for ttl by the clock now. A
// failed look-up is not kept: the next write asks again.
func CachedTeams(lookup Teams, ttl time.Duration, now func() time.Time) Teams {
	type entry struct {
		teams   []string
		expires time.Time
	}
	var (
		mu    sync.Mutex
		cache = map[string]entry{}
	)
	return func(ctx context.Context, principal string) ([]string, error) {
		mu.Lock()
		e, ok := cache[principal]
		mu.Unlock()
		if ok && now().Before(e.expires) {
			return e.teams, nil
		}
		teams, err := lookup(ctx, principal)
		if err != nil {
			return nil, err
		}
		t := now()
		mu.Lock()
		defer mu.Unlock()
		if len(cache) >= maxCachedTeams {
			for p, e := range cache {
				if !t.Before(e.expires) {
					delete(cache, p)
				}
			}
			if len(cache) >= maxCachedTeams {
				clear(cache)
			}
		}
		cache[principal] = entry{teams: teams, expires: t.Add(ttl)}
		return teams, nil
	}
}

// Owners returns the principals who own the resource name or the owned resource it belongs to
// (a budget's owner for `budgets/b/lines/l`), in any order, or the error of looking it up
// (NOT_FOUND for a resource that does not exist). A name it does not own nobody may write but
// holders of the admin scope, so an owner field holding something else than a principal (an
// e-mail address, from before the owner policy) makes the resource the admins' alone.
type Owners func(ctx context.Context, name string) ([]string, error)

// Rules declares the ownership of one gRPC service.
type Rules struct {
	// Service is the service's descriptor, e.g. budgetv1.File_quarterdeck_budget_v1_budget_service_proto.Services().Get(0).
	Service protoreflect.ServiceDescriptor
	// Owned are the collections whose resources have owners, by their first name segment
	// (`budgets`); every write under them is checked, but those of Exempt.
	Owned []string
	// Owners looks up the owners of a resource of Owned or one of its children.
	Owners Owners
	// Unowned are the service's other collections, each with why its resources have no owner.
	Unowned map[string]string
	// Exempt are the methods of owned collections that are not checked, by name
	// (`ApproveBudget`), each with why.
	Exempt map[string]string
	// Teams looks up the caller's teams, for resources owned by a team (`teams/{id}`), whose
	// members write them. Nil: a team is no owner, and an owner field naming one is refused
	// (OWNER_NOT_PRINCIPAL).
	Teams Teams
}

// Kind is what the guard does with a method.
type Kind int

const (
	// Read: the method changes nothing (an HTTP GET binding, or exempt as a read).
	Read Kind = iota
	// Checked: the caller must own the resource the method names.
	Checked
	// Create: the method creates a resource of an owned collection with no parent; its owner
	// field, when it has one, is set to the caller when empty.
	Create
	// NotOwned: the method writes a resource of an unowned collection, or is exempt.
	NotOwned
)

// Method is how the guard treats one method.
type Method struct {
	Kind Kind
	// Why is the declared reason of a NotOwned method.
	Why string
	// name is the path of the request field naming the resource (Checked).
	name []protoreflect.FieldDescriptor
	// owner is the path of the resource's owner field in the request, if it has one.
	owner []protoreflect.FieldDescriptor
	// mask is the request's update mask field, if it has one.
	mask protoreflect.FieldDescriptor
	// creates is true for a method creating a resource (Create, or Checked with a `parent`):
	// its owner field, when empty, becomes the caller.
	creates bool
	// teams is true when an owner may be a team (the service's Rules.Teams is set).
	teams bool
}

// Guard checks the writes of a set of services against their owners.
type Guard struct {
	policy  Policy
	methods map[string]*Method // "/package.Service/Method" → its treatment
	admin   map[string]string  // "/package.Service/Method" → the admin scope of its service
	owners  map[string]Owners  // "/package.Service/Method" → its service's Owners
	teams   map[string]Teams   // "/package.Service/Method" → its service's Teams, if any
}

// New compiles the rules of services under policy. It fails when a rule is inconsistent with its
// service: a write method whose collection is neither owned nor unowned, an owned service that
// declares no admin scope, an exemption of a method that does not exist. Under the scopes policy
// the guard checks nothing, but the rules are still compiled, so that a service with a gap fails
// its tests whatever the policy.
func New(policy Policy, rules ...Rules) (*Guard, error) {
	g := &Guard{policy: policy, methods: map[string]*Method{}, admin: map[string]string{}, owners: map[string]Owners{},
		teams: map[string]Teams{}}
	var errs []string
	for _, r := range rules {
		ms, admin, err := Classify(r)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for name, m := range ms {
			full := "/" + string(r.Service.FullName()) + "/" + name
			g.methods[full], g.admin[full], g.owners[full], g.teams[full] = m, admin, r.Owners, r.Teams
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("ownership: %s", strings.Join(errs, "; "))
	}
	return g, nil
}

// Classify returns how the guard treats every method of r's service, by method name, and the
// service's admin scope. A service's test asserts it, so that the classification of every
// write is a decision someone made.
func Classify(r Rules) (map[string]*Method, string, error) {
	sd := r.Service
	admin := AdminScope(sd)
	var errs []string
	if len(r.Owned) > 0 && admin == "" {
		errs = append(errs, fmt.Sprintf("%s owns %v but declares no (quarterdeck.auth.v1.ownership) admin scope", sd.FullName(), r.Owned))
	}
	if len(r.Owned) > 0 && r.Owners == nil {
		errs = append(errs, fmt.Sprintf("%s owns %v but has no Owners", sd.FullName(), r.Owned))
	}
	for name := range r.Exempt {
		if sd.Methods().ByName(protoreflect.Name(name)) == nil {
			errs = append(errs, fmt.Sprintf("%s exempts %s, which it does not have", sd.FullName(), name))
		}
	}
	out := map[string]*Method{}
	methods := sd.Methods()
	for i := range methods.Len() {
		md := methods.Get(i)
		m, err := classify(md, r)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		out[string(md.Name())] = m
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, "", fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, admin, nil
}

func classify(md protoreflect.MethodDescriptor, r Rules) (*Method, error) {
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule == nil {
		return nil, fmt.Errorf("%s has no HTTP binding to tell what it writes", md.FullName())
	}
	if rule.GetGet() != "" {
		return &Method{Kind: Read}, nil
	}
	if why, ok := r.Exempt[string(md.Name())]; ok {
		return &Method{Kind: NotOwned, Why: why}, nil
	}
	var tmpl string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Post:
		tmpl = p.Post
	case *annotations.HttpRule_Patch:
		tmpl = p.Patch
	case *annotations.HttpRule_Put:
		tmpl = p.Put
	case *annotations.HttpRule_Delete:
		tmpl = p.Delete
	default:
		return nil, fmt.Errorf("%s has an HTTP binding the guard does not read", md.FullName())
	}
	field, collection := parseTemplate(tmpl)
	if why, ok := r.Unowned[collection]; ok {
		return &Method{Kind: NotOwned, Why: why}, nil
	}
	if !slices.Contains(r.Owned, collection) {
		return nil, fmt.Errorf("%s writes %q, which is neither owned nor unowned; declare it, or exempt the method", md.FullName(), collection)
	}
	m := &Method{Kind: Create, creates: field == "" || field == "parent", teams: r.Teams != nil}
	in := md.Input()
	if field != "" {
		m.Kind = Checked
		path, err := fieldPath(in, field)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", md.FullName(), err)
		}
		m.name = path
	}
	// The resource in the body (`budget` of UpdateBudgetRequest) and its owner field, if any.
	if body := rule.GetBody(); body != "" && body != "*" {
		if bfd := in.Fields().ByName(protoreflect.Name(body)); bfd != nil && bfd.Message() != nil {
			if ofd := bfd.Message().Fields().ByName("owner"); ofd != nil && ofd.Kind() == protoreflect.StringKind && !ofd.IsList() {
				m.owner = []protoreflect.FieldDescriptor{bfd, ofd}
			}
		}
	}
	if mfd := in.Fields().ByName("update_mask"); mfd != nil && mfd.Message() != nil &&
		mfd.Message().FullName() == (&fieldmaskpb.FieldMask{}).ProtoReflect().Descriptor().FullName() {
		m.mask = mfd
	}
	return m, nil
}

// parseTemplate returns the field of the first variable of an HTTP path template and the
// collection it names (the first segment of the variable's pattern), or, without a variable,
// no field and the first segment after the version (`/v1/costCenters` → costCenters).
func parseTemplate(tmpl string) (field, collection string) {
	if i := strings.IndexByte(tmpl, '{'); i >= 0 {
		v := tmpl[i+1:]
		if j := strings.IndexByte(v, '}'); j >= 0 {
			v = v[:j]
		}
		field, pattern, _ := strings.Cut(v, "=")
		collection, _, _ = strings.Cut(pattern, "/")
		return field, collection
	}
	segs := strings.Split(strings.Trim(tmpl, "/"), "/")
	if len(segs) > 1 {
		collection = segs[1]
	}
	collection, _, _ = strings.Cut(collection, ":")
	return "", collection
}

func fieldPath(md protoreflect.MessageDescriptor, path string) ([]protoreflect.FieldDescriptor, error) {
	var out []protoreflect.FieldDescriptor
	for _, seg := range strings.Split(path, ".") {
		if md == nil {
			return nil, fmt.Errorf("no field %s", path)
		}
		fd := md.Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			return nil, fmt.Errorf("no field %s", path)
		}
		out = append(out, fd)
		md = fd.Message()
	}
	if last := out[len(out)-1]; last.Kind() != protoreflect.StringKind || last.IsList() {
		return nil, fmt.Errorf("field %s is no resource name", path)
	}
	return out, nil
}

// AdminScope returns the admin scope sd declares with the quarterdeck.auth.v1.ownership option,
// or "".
func AdminScope(sd protoreflect.ServiceDescriptor) string {
	opts := sd.Options()
	if opts == nil || !proto.HasExtension(opts, authv1.E_Ownership) {
		return ""
	}
	o, _ := proto.GetExtension(opts, authv1.E_Ownership).(*authv1.Ownership)
	return o.GetAdminScope()
}

// Policy returns the guard's write policy.
func (g *Guard) Policy() Policy { return g.policy }

// Method returns how the guard treats fullMethod ("/package.Service/Method"), or nil for a
// method of a service it has no rules for.
func (g *Guard) Method(fullMethod string) *Method { return g.methods[fullMethod] }

// Check authorizes a call of fullMethod with req by the caller of ctx under the owner policy:
// for a checked method, the caller must own the resource the request names (or the owned
// resource it belongs to) or hold the service's admin scope, else PERMISSION_DENIED with reason
// NOT_OWNER; an owner field the request sets must name a principal (INVALID_ARGUMENT,
// OWNER_NOT_PRINCIPAL), and a resource created without one (top-level or under a parent) is
// the caller's. It runs before the
// handler, so that a refused call changes nothing. A nil guard, the scopes policy and methods
// the guard has no rules for pass.
func (g *Guard) Check(ctx context.Context, fullMethod string, req proto.Message) error {
	if g == nil || g.policy != Owner || req == nil {
		return nil
	}
	m := g.methods[fullMethod]
	if m == nil || (m.Kind != Checked && m.Kind != Create) {
		return nil
	}
	caller := identity.Owner(ctx)
	if m.Kind == Checked {
		if err := g.owns(ctx, fullMethod, m, req, caller); err != nil {
			return err
		}
	}
	// The owner field is settled once the caller may write at all, so that a refused request
	// learns nothing about it and is left as it came.
	return m.settleOwner(req.ProtoReflect(), caller)
}

// owns refuses the call unless caller owns the resource m names in req or holds the admin
// scope.
func (g *Guard) owns(ctx context.Context, fullMethod string, m *Method, req proto.Message, caller string) error {
	return Authorize(ctx, get(req.ProtoReflect(), m.name), g.admin[fullMethod], g.owners[fullMethod], g.teams[fullMethod])
}

// Authorize refuses the caller of ctx a write of the resource name unless it holds the admin
// scope, is one of the owners owners returns, or is a member of a team among them (asked of
// teams, when not nil): PERMISSION_DENIED, NOT_OWNER, or UNAVAILABLE, TEAMS_UNAVAILABLE, when
// the caller's teams cannot be looked up. Guard.Check runs it for the methods it checks; a service
// runs it for a write its bindings do not name, such as linking a control to a risk.
func Authorize(ctx context.Context, name, admin string, owners Owners, teams Teams) error {
	caller := identity.Owner(ctx)
	if p, ok := identity.FromContext(ctx); ok && admin != "" && p.Has(admin) {
		return nil
	}
	of, err := owners(ctx, name)
	if err != nil {
		return err
	}
	if caller == identity.System {
		return notOwner(name, admin)
	}
	if slices.Contains(of, caller) {
		return nil
	}
	// A team's members write what it owns: the caller's teams are asked only when a team owns
	// the resource, and a failed look-up refuses the write (fail closed).
	if teams != nil && slices.ContainsFunc(of, IsTeam) {
		mine, err := teams(ctx, caller)
		if err != nil {
			return fault.New(fault.Unavailable, ReasonTeamsUnavailable,
				name+" is owned by a team and the caller's teams cannot be looked up now; try again").
				With("resource", name)
		}
		if slices.ContainsFunc(of, func(o string) bool { return IsTeam(o) && slices.Contains(mine, o) }) {
			return nil
		}
	}
	return notOwner(name, admin)
}

// notOwner is the refusal of a write of name to a caller who owns it not, admin being the scope
// that would allow it.
func notOwner(name, admin string) error {
	return fault.New(fault.PermissionDenied, ReasonNotOwner,
		"the caller does not own "+name+"; its owner, or a caller holding "+admin+", may change it").
		With("resource", name).With("scope", admin)
}

// settleOwner checks the owner field a request sets and gives a created resource without one
// the caller.
func (m *Method) settleOwner(req protoreflect.Message, caller string) error {
	if m.owner == nil {
		return nil
	}
	res, ofd := m.owner[0], m.owner[1]
	path := string(res.Name()) + "." + string(ofd.Name())
	if !req.Has(res) {
		return nil
	}
	msg := req.Get(res).Message()
	owner := msg.Get(ofd).String()
	switch {
	case owner != "" && !IsPrincipal(owner) && !(m.teams && IsTeam(owner)):
		if m.teams {
			return fault.Field(path, ReasonOwnerNotPrincipal,
				"the owner must name a principal (principals/{id}, users/{sub} or apiKeys/{id}) or a team (teams/{id}) under the owner write policy")
		}
		return fault.Field(path, ReasonOwnerNotPrincipal,
			"the owner must name a principal (principals/{id}, users/{sub} or apiKeys/{id}) under the owner write policy")
	case owner != "":
		return nil
	case m.creates && caller != identity.System:
		req.Mutable(res).Message().Set(ofd, protoreflect.ValueOfString(caller))
		return nil
	case m.Kind == Checked && m.mask != nil && req.Has(m.mask):
		for _, p := range req.Get(m.mask).Message().Interface().(*fieldmaskpb.FieldMask).GetPaths() {
			if p == "owner" || p == "*" {
				return fault.Field(path, ReasonOwnerNotPrincipal,
					"the owner cannot be cleared under the owner write policy; name a principal")
			}
		}
	}
	return nil
}

func get(m protoreflect.Message, path []protoreflect.FieldDescriptor) string {
	for _, fd := range path[:len(path)-1] {
		if !m.Has(fd) {
			return ""
		}
		m = m.Get(fd).Message()
	}
	return m.Get(path[len(path)-1]).String()
}

// Ancestor returns the prefix of name that names a resource of collection, e.g.
// Ancestor("budgets/b/lines/l", "budgets") = "budgets/b", and whether name is under it.
func Ancestor(name, collection string) (string, bool) {
	rest, ok := strings.CutPrefix(name, collection+"/")
	if !ok || rest == "" {
		return "", false
	}
	id, _, _ := strings.Cut(rest, "/")
	return collection + "/" + id, true
}
