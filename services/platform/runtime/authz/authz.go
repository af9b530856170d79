// Package authz decides what an authenticated caller may do, from the declarations beside the
// API: the quarterdeck.auth.v1.policy option of each RPC method (the scopes a caller needs) and
// the quarterdeck.auth.v1.sensitive option of fields (the scopes needed to read or write them).
// The rpc package enforces it on every call; the declarations, not code in each handler, are
// the single source of truth, so a new method is refused until someone decides who may call it.
package authz

import (
	"sort"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	authv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/auth/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// Reasons of the errors Authorize and CheckWrites return (ErrorInfo.reason).
const (
	// ReasonMissingScope: the caller lacks a scope the method needs; metadata `scope` names it.
	ReasonMissingScope = "MISSING_SCOPE"
	// ReasonUndeclared: the method declares no policy, so nobody may call it.
	ReasonUndeclared = "METHOD_NOT_DECLARED"
	// ReasonFieldWrite: the request sets a sensitive field the caller may not write; metadata
	// `field` and `scope` name it and the scope needed.
	ReasonFieldWrite = "FIELD_WRITE_DENIED"
)

// Authorizer looks up the declarations of methods and messages and caches them.
type Authorizer struct {
	files    *protoregistry.Files
	methods  sync.Map // full method name → *authv1.Policy of the declared methods
	messages sync.Map // message full name → bool: whether it or a nested message has a sensitive field
}

// New returns an authorizer reading the declarations of files (nil: every file linked into the
// binary, protoregistry.GlobalFiles).
func New(files *protoregistry.Files) *Authorizer {
	if files == nil {
		files = protoregistry.GlobalFiles
	}
	return &Authorizer{files: files}
}

// Policy returns the policy of a gRPC method given as "/package.Service/Method", or nil when it
// declares none.
func (a *Authorizer) Policy(fullMethod string) *authv1.Policy {
	if p, ok := a.methods.Load(fullMethod); ok {
		return p.(*authv1.Policy)
	}
	p := a.lookup(fullMethod)
	// Only declared methods are cached: the set of names a caller can send is unbounded.
	if p != nil {
		a.methods.Store(fullMethod, p)
	}
	return p
}

func (a *Authorizer) lookup(fullMethod string) *authv1.Policy {
	svc, method, ok := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if !ok {
		return nil
	}
	d, err := a.files.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil
	}
	md := sd.Methods().ByName(protoreflect.Name(method))
	if md == nil {
		return nil
	}
	return MethodPolicy(md)
}

// MethodPolicy returns the policy declared on md, or nil. A policy that neither names scopes
// nor is public counts as none.
func MethodPolicy(md protoreflect.MethodDescriptor) *authv1.Policy {
	opts := md.Options()
	if opts == nil || !proto.HasExtension(opts, authv1.E_Policy) {
		return nil
	}
	p, _ := proto.GetExtension(opts, authv1.E_Policy).(*authv1.Policy)
	if p == nil || (len(p.GetScopes()) == 0 && !p.GetPublic()) {
		return nil
	}
	return p
}

// serviceOwnership returns the ownership declared on sd, or nil.
func serviceOwnership(sd protoreflect.ServiceDescriptor) *authv1.Ownership {
	opts := sd.Options()
	if opts == nil || !proto.HasExtension(opts, authv1.E_Ownership) {
		return nil
	}
	o, _ := proto.GetExtension(opts, authv1.E_Ownership).(*authv1.Ownership)
	return o
}

// FieldPolicy returns the sensitivity declared on fd, or nil.
func FieldPolicy(fd protoreflect.FieldDescriptor) *authv1.Sensitive {
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, authv1.E_Sensitive) {
		return nil
	}
	s, _ := proto.GetExtension(opts, authv1.E_Sensitive).(*authv1.Sensitive)
	return s
}

// Authorize decides whether p may call fullMethod: it needs every scope of the method's policy.
// A method without a policy is refused to everyone (deny by default).
func (a *Authorizer) Authorize(p identity.Principal, fullMethod string) error {
	pol := a.Policy(fullMethod)
	if pol == nil {
		return fault.New(fault.PermissionDenied, ReasonUndeclared,
			"the method declares no authorization policy, so it cannot be called").With("method", fullMethod)
	}
	for _, s := range pol.GetScopes() {
		if !p.Has(s) {
			return fault.New(fault.PermissionDenied, ReasonMissingScope,
				"the caller lacks the scope "+s).With("scope", s).With("method", fullMethod)
		}
	}
	return nil
}

// CheckWrites refuses a request that sets a sensitive field whose write scope p lacks.
func (a *Authorizer) CheckWrites(p identity.Principal, req proto.Message) error {
	if req == nil {
		return nil
	}
	m := req.ProtoReflect()
	if !a.sensitive(m.Descriptor()) {
		return nil
	}
	var denied error
	a.walk(m, "", func(m protoreflect.Message, fd protoreflect.FieldDescriptor, path string, s *authv1.Sensitive) bool {
		if w := s.GetWriteScope(); w != "" && !p.Has(w) {
			denied = fault.New(fault.PermissionDenied, ReasonFieldWrite,
				"the caller may not set "+path+" without the scope "+w).With("field", path).With("scope", w)
			return false
		}
		return true
	})
	return denied
}

// Redact removes from resp every sensitive field whose read scope p lacks, in place.
func (a *Authorizer) Redact(p identity.Principal, resp proto.Message) {
	if resp == nil {
		return
	}
	m := resp.ProtoReflect()
	if !m.IsValid() || !a.sensitive(m.Descriptor()) {
		return
	}
	a.walk(m, "", func(m protoreflect.Message, fd protoreflect.FieldDescriptor, _ string, s *authv1.Sensitive) bool {
		if r := s.GetReadScope(); r != "" && !p.Has(r) {
			m.Clear(fd)
		}
		return true
	})
}

// walk calls fn for every populated sensitive field of m and of the messages nested in it,
// depth first, until fn returns false. path is the field's path in snake_case, e.g.
// `contract.value`, with list indexes and map keys, e.g. `lines[2].cost`.
func (a *Authorizer) walk(m protoreflect.Message, prefix string, fn func(protoreflect.Message, protoreflect.FieldDescriptor, string, *authv1.Sensitive) bool) bool {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		path := prefix + string(fd.Name())
		if s := FieldPolicy(fd); s != nil {
			if !fn(m, fd, path, s) {
				return false
			}
			if !m.Has(fd) { // cleared by fn
				continue
			}
		}
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind || !a.sensitive(fd.MapValue().Message()) {
				continue
			}
			ok := true
			m.Get(fd).Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				ok = a.walk(v.Message(), path+"["+k.String()+"].", fn)
				return ok
			})
			if !ok {
				return false
			}
		case fd.IsList():
			if fd.Kind() != protoreflect.MessageKind || !a.sensitive(fd.Message()) {
				continue
			}
			l := m.Get(fd).List()
			for j := range l.Len() {
				if !a.walk(l.Get(j).Message(), path+"["+strconv.Itoa(j)+"].", fn) {
					return false
				}
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			if a.sensitive(fd.Message()) && !a.walk(m.Get(fd).Message(), path+".", fn) {
				return false
			}
		}
	}
	return true
}

// sensitive reports whether md or a message reachable from it has a sensitive field, so that
// the walk is skipped for the (many) messages that have none.
func (a *Authorizer) sensitive(md protoreflect.MessageDescriptor) bool {
	if v, ok := a.messages.Load(md.FullName()); ok {
		return v.(bool)
	}
	v := hasSensitive(md, map[protoreflect.FullName]bool{})
	a.messages.Store(md.FullName(), v)
	return v
}

func hasSensitive(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if FieldPolicy(fd) != nil {
			return true
		}
		if fd.IsMap() {
			fd = fd.MapValue()
		}
		if fd.Message() != nil && hasSensitive(fd.Message(), seen) {
			return true
		}
	}
	return false
}

// Declaration is one entry of the scope catalogue: a method, a sensitive field or a service's
// ownership, and the scopes guarding it.
type Declaration struct {
	// Element is the full name of the method or field, e.g. quarterdeck.budget.v1.BudgetService.GetCostCenter.
	Element string
	// Scopes are the method's scopes; for a field, its read and then its write scope.
	Scopes []string
	// Field is true for a sensitive field, false for a method.
	Field bool
	// Public is true for a public method.
	Public bool
	// Ownership is true for a service's admin scope (the quarterdeck.auth.v1.ownership option):
	// the scope that lets a caller write resources it does not own, under the owner write policy.
	Ownership bool
}

// Catalogue lists every declaration in files (nil: protoregistry.GlobalFiles) whose full name
// starts with prefix (e.g. "quarterdeck."), sorted by element, and the sorted set of scopes they
// use. Undeclared methods are listed with no scopes, so that a catalogue shows them too.
func Catalogue(files *protoregistry.Files, prefix string) (decls []Declaration, scopes []string) {
	if files == nil {
		files = protoregistry.GlobalFiles
	}
	set := map[string]bool{}
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), prefix) {
			return true
		}
		svcs := fd.Services()
		for i := range svcs.Len() {
			if o := serviceOwnership(svcs.Get(i)); o.GetAdminScope() != "" {
				decls = append(decls, Declaration{Element: string(svcs.Get(i).FullName()),
					Scopes: []string{o.GetAdminScope()}, Ownership: true})
				set[o.GetAdminScope()] = true
			}
			methods := svcs.Get(i).Methods()
			for j := range methods.Len() {
				md := methods.Get(j)
				d := Declaration{Element: string(md.FullName())}
				if p := MethodPolicy(md); p != nil {
					d.Scopes, d.Public = p.GetScopes(), p.GetPublic()
				}
				for _, s := range d.Scopes {
					set[s] = true
				}
				decls = append(decls, d)
			}
		}
		var msgs func(protoreflect.MessageDescriptors)
		msgs = func(ms protoreflect.MessageDescriptors) {
			for i := range ms.Len() {
				m := ms.Get(i)
				fields := m.Fields()
				for j := range fields.Len() {
					if s := FieldPolicy(fields.Get(j)); s != nil {
						decls = append(decls, Declaration{Element: string(fields.Get(j).FullName()), Field: true,
							Scopes: []string{s.GetReadScope(), s.GetWriteScope()}})
						for _, sc := range []string{s.GetReadScope(), s.GetWriteScope()} {
							if sc != "" {
								set[sc] = true
							}
						}
					}
				}
				msgs(m.Messages())
			}
		}
		msgs(fd.Messages())
		return true
	})
	sort.Slice(decls, func(i, j int) bool { return decls[i].Element < decls[j].Element })
	for s := range set {
		scopes = append(scopes, s)
	}
	sort.Strings(scopes)
	return decls, scopes
}

// anonymous redacts for no one: a principal without scopes.
var anonymous = &Authorizer{}

// Public returns m as whoever may read it without any scope sees it: m itself when no field
// reachable from it has a read scope, else a copy without those fields, at any depth. A service
// passes what leaves it with no caller to authorize through it when consumers must not see such
// a field (the talent service's events and audit records: a person's pay).
func Public[M proto.Message](m M) M {
	pm := m.ProtoReflect()
	if !pm.IsValid() || !anonymous.sensitive(pm.Descriptor()) {
		return m
	}
	c := proto.Clone(m).(M)
	anonymous.Redact(identity.Principal{}, c)
	return c
}
