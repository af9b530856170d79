package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// The register reacts to other services' events (DOMAIN.md § risk, "Reactions"): each reaction
// opens or re-scores the one risk the service keeps for what the event is about — its source,
// e.g. vendors/{vendor} — through the path a person's assessment takes (Rescore), with the
// service as the actor and the event's resource as the cause in the score history.
//
// Effects are applied once whatever the delivery. The consumer's inbox drops an event delivered
// again; past it (a replay of the stream into a new durable, an inbox pruned), each reaction
// keeps a position per key (store.Advance) and applies an event only when it moves that position
// forward, in the transaction of its effect: a copy of an applied event, or an older event that
// arrives after a newer one, changes nothing.

// Reaction is one kind of another service's events and what the register does with it.
type Reaction struct {
	// Domain is the producing service's domain, e.g. "vendors".
	Domain string
	// Subject is the event's subject relative to the domain, "<aggregate>.<action>".
	Subject string
	// Apply applies one event within tx, the consumer's transaction.
	Apply func(ctx context.Context, tx store.Tx, ev consumer.Event) error
}

// Reactions is the register's table of reactions, subject → handler. A new reaction is one more
// row and its handler: the host runs a consumer per row (risk.Configured).
func (s *Server) Reactions() []Reaction {
	return []Reaction{
		{Domain: "vendors", Subject: "assessment.completed", Apply: s.vendorAssessed},
		{Domain: "vendors", Subject: "vendor.attestation_expiring", Apply: s.attestationExpiring},
		{Domain: "vendors", Subject: "vendor.offboarded", Apply: s.vendorOffboarded},
		{Domain: "talent", Subject: "skill.key_person_risk", Apply: s.keyPersonRisk},
		{Domain: "talent", Subject: "skill.key_person_risk_cleared", Apply: s.keyPersonCleared},
		{Domain: "talent", Subject: "person.joined", Apply: s.personChanged},
		{Domain: "talent", Subject: "person.updated", Apply: s.personChanged},
		{Domain: "talent", Subject: "person.moved", Apply: s.personChanged},
		{Domain: "talent", Subject: "person.left", Apply: s.personChanged},
		{Domain: "vendors", Subject: "vendor.updated", Apply: s.sourceRenamed},
		{Domain: "talent", Subject: "team.updated", Apply: s.sourceRenamed},
	}
}

// Consumer is the name of the reaction's consumer, e.g. "vendors-assessment-completed". One
// subject per consumer also works with NATS servers before 2.10.
func (r Reaction) Consumer() string {
	return r.Domain + "-" + strings.ReplaceAll(r.Subject, ".", "-")
}

// Handle applies ev. Events that can never be applied (a malformed payload) fail permanently, to
// become dead letters an operator can replay; the others are tried again.
func (r Reaction) Handle(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	err := r.Apply(ctx, tx, ev)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s %s: %w", ev.Type, ev.Resource, err)
	if f := fault.As(err); f != nil && f.Kind == fault.InvalidArgument {
		return consumer.Permanent(err)
	}
	return err
}

// vendorPattern is the name of a vendor, the source of its risk.
const vendorPattern names.Pattern = "vendors/{vendor}"

// Rating steps: a vendor's assessment rating sets the likelihood of its risk, its tier the
// impact, both on a five-step scale stretched to the matrix's axes (scaleStep).
var (
	ratingLikelihood = map[vendorsv1.RiskRating]int32{vendorsv1.RiskRating_LOW: 2, vendorsv1.RiskRating_MEDIUM: 3,
		vendorsv1.RiskRating_HIGH: 4, vendorsv1.RiskRating_CRITICAL: 5}
	tierImpact = map[int32]int32{1: 5, 2: 4, 3: 3, 4: 2}
)

// scaleStep is step of a five-step scale on an axis of n steps: the smallest step whose share of
// the axis is at least step's share of five.
func scaleStep(step int32, n int) int32 {
	return max(1, min(int32(n), (step*int32(n)+4)/5))
}

// vendorPosition is the position of an assessment among its vendor's: its completion time, then
// its name. Fixed-width UTC times compare as text the way they compare as times.
func vendorPosition(completed time.Time, name string) string {
	return completed.UTC().Format("2006-01-02T15:04:05.000000Z") + " " + name
}

// vendorAssessed applies assessment.completed. A HIGH or CRITICAL rating opens the vendor's risk
// (category VENDOR, linked to the vendor, owned by the assessor) or reopens it when it was
// CLOSED; any rating of a vendor with a risk refreshes its scores: likelihood from the rating,
// impact from the vendor's tier. Only the newest assessment of a vendor counts: an older one
// that arrives late, or one applied before, changes nothing.
func (s *Server) vendorAssessed(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	m, ok := ev.Message.(*vendorsv1.AssessmentCompleted)
	if !ok {
		return fault.Field("payload", "UNEXPECTED_TYPE", fmt.Sprintf("want an AssessmentCompleted, got %s", ev.Type))
	}
	vendor, assessment := m.GetVendor(), m.GetAssessment().GetName()
	likelihood, rated := ratingLikelihood[m.GetRiskRating()]
	impact, tiered := tierImpact[m.GetVendorTier()]
	switch {
	case !vendorPattern.Match(vendor):
		return fault.Field("vendor", "INVALID_NAME", fmt.Sprintf("%q is not a vendor name", vendor))
	case !rated:
		return fault.Field("risk_rating", "REQUIRED", "the assessment has no rating")
	case !tiered:
		return fault.Field("vendor_tier", "OUT_OF_RANGE", fmt.Sprintf("tier %d is not 1 to 4", m.GetVendorTier()))
	}
	completed := ev.Time
	if m.GetAssessment().GetCompleteTime() != nil {
		completed = m.GetAssessment().GetCompleteTime().AsTime()
	}
	severe := m.GetRiskRating() >= vendorsv1.RiskRating_HIGH
	r, err := tx.RiskBySource(ctx, vendor)
	switch {
	case errors.Is(err, domain.ErrRiskNotFound):
		if !severe {
			return nil // a vendor without a risk rated LOW or MEDIUM: nothing to open
		}
		r = nil
	case err != nil:
		return err
	case r.State == domain.RiskClosed && !severe:
		return nil
	}
	if moved, err := tx.Advance(ctx, vendor+":assessment", vendorPosition(completed, assessment), s.now()); err != nil || !moved {
		return err
	}
	reason := fmt.Sprintf("Assessment %s of %s, tier %d, rated %s", assessment, labelled(m.GetVendorDisplayName(), vendor), m.GetVendorTier(), m.GetRiskRating())
	mat, err := tx.CurrentMatrix(ctx)
	if err != nil {
		return err
	}
	pair := domain.Pair{Likelihood: scaleStep(likelihood, len(mat.Likelihood)), Impact: scaleStep(impact, len(mat.Impact))}
	now := s.now()
	var (
		prev   int64
		before *riskv1.Risk
		events []sqlstore.Event
	)
	if r == nil {
		if r, err = s.openSourceRisk(ctx, tx, vendor, domain.RiskFields{
			Title:       domain.SourceTitle(vendorTitle, cmp.Or(m.GetVendorDisplayName(), vendor)),
			Description: "Opened by the risk service when " + reason + ".",
			Category:    domain.CategoryVendor,
			Owner:       ownerOr(m.GetAssessment().GetAssessor()),
			Vendors:     []string{vendor},
		}, now); err != nil {
			return err
		}
	} else if r.State == domain.RiskClosed {
		prev, before = r.Version, riskToProto(r)
		if err := r.Reopen(reason, now); err != nil {
			return err
		}
		events = append(events, &riskv1.RiskReopened{})
	}
	if before == nil {
		prev, before = r.Version, riskToProto(r)
	}
	// The assessment measures the vendor as it stands: the residual score. The inherent score
	// rises with it when it would otherwise be below.
	a := domain.Assessment{Residual: &pair, Actor: domain.ServiceActor, Reason: reason, Cause: assessment}
	if !r.Scored() || pair.Likelihood*pair.Impact >= r.Inherent.Value() {
		a.Inherent = &pair
	}
	more, err := s.Rescore(ctx, tx, r, a)
	if err != nil {
		return err
	}
	_, err = s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before, append(events, more...)...)
	return err
}

// attestationExpiring applies vendor.attestation_expiring on the expiry date itself (0 days
// before): the likelihood of the vendor's risk, when it has one that is not CLOSED, rises one
// step (at most to the matrix's top), with the attestation as the cause. Each expiry date of an
// attestation raises it once.
func (s *Server) attestationExpiring(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	m, ok := ev.Message.(*vendorsv1.VendorAttestationExpiring)
	if !ok {
		return fault.Field("payload", "UNEXPECTED_TYPE", fmt.Sprintf("want a VendorAttestationExpiring, got %s", ev.Type))
	}
	if m.GetDaysBefore() != 0 {
		return nil
	}
	vendor, attestation := m.GetVendor(), m.GetAttestation().GetName()
	if !vendorPattern.Match(vendor) {
		return fault.Field("vendor", "INVALID_NAME", fmt.Sprintf("%q is not a vendor name", vendor))
	}
	expiry := m.GetExpiryDate()
	if expiry == nil {
		return fault.Field("expiry_date", "REQUIRED", "the reminder has no expiry date")
	}
	r, err := tx.RiskBySource(ctx, vendor)
	if errors.Is(err, domain.ErrRiskNotFound) {
		return nil
	}
	if err != nil || r.State == domain.RiskClosed || !r.Scored() {
		return err
	}
	day := fmt.Sprintf("%04d-%02d-%02d", expiry.GetYear(), expiry.GetMonth(), expiry.GetDay())
	if moved, err := tx.Advance(ctx, attestation+":expired", day, s.now()); err != nil || !moved {
		return err
	}
	mat, err := tx.CurrentMatrix(ctx)
	if err != nil {
		return err
	}
	top := int32(len(mat.Likelihood))
	if r.Residual.Likelihood >= top {
		return nil // already at the top step: nothing to raise
	}
	pair := domain.Pair{Likelihood: r.Residual.Likelihood + 1, Impact: r.Residual.Impact}
	a := domain.Assessment{Residual: &pair, Actor: domain.ServiceActor, Cause: attestation,
		Reason: fmt.Sprintf("Attestation %s of %s expired on %s: likelihood raised one step", attestation, vendor, day)}
	if pair.Likelihood*pair.Impact > r.Inherent.Value() {
		a.Inherent = &pair
	}
	prev, before := r.Version, riskToProto(r)
	events, err := s.Rescore(ctx, tx, r, a)
	if err != nil {
		return err
	}
	_, err = s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before, events...)
	return err
}

// vendorOffboarded applies vendor.offboarded: the vendor's risk, when it has one that is not
// CLOSED, is closed with the offboarding as the reason (its state reason and the RiskClosed
// event say so). Offboarding ends a vendor's lifecycle (the vendors service allows no way back),
// so nothing reopens the risk but a person or a new severe assessment. Each offboarding of a
// vendor applies once: a copy or a replay after the risk was reopened changes nothing.
func (s *Server) vendorOffboarded(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	m, ok := ev.Message.(*vendorsv1.VendorOffboarded)
	if !ok {
		return fault.Field("payload", "UNEXPECTED_TYPE", fmt.Sprintf("want a VendorOffboarded, got %s", ev.Type))
	}
	vendor := m.GetVendor().GetName()
	if !vendorPattern.Match(vendor) {
		return fault.Field("vendor.name", "INVALID_NAME", fmt.Sprintf("%q is not a vendor name", vendor))
	}
	r, err := tx.RiskBySource(ctx, vendor)
	if errors.Is(err, domain.ErrRiskNotFound) {
		return nil
	}
	if err != nil || r.State == domain.RiskClosed {
		return err
	}
	if moved, err := tx.Advance(ctx, vendor+":offboarded", "offboarded", s.now()); err != nil || !moved {
		return err
	}
	reason := fmt.Sprintf("Vendor %s offboarded", vendor)
	if why := strings.TrimSpace(m.GetVendor().GetStateReason()); why != "" {
		reason += ": " + why
	}
	prev, before := r.Version, riskToProto(r)
	was, err := r.Close(reason, s.now())
	if err != nil {
		return err
	}
	r.MeasureAppetite(domain.DefaultAppetite()) // a closed risk is never above appetite
	_, err = s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before, &riskv1.RiskClosed{PreviousState: riskv1.Risk_State(was)})
	return err
}

// teamPattern is the name of a team, the source of its people risk.
const teamPattern names.Pattern = "teams/{team}"

// keyPersonLikelihood and keyPersonImpact are a team's people risk when it opens, on the
// five-step scale: losing the one person who covers a skill the team requires is possible, and
// would hold the team's work up.
const (
	keyPersonLikelihood = 3
	keyPersonImpact     = 3
)

// keyPersonRisk applies skill.key_person_risk: exactly one of a team's people covers a skill
// it requires, or the one who does changed. The team's people risk (category PEOPLE, linked to
// the team as its source, one per team) opens, scored for a key person, or reopens when it was
// CLOSED. An open one is raised one step (at most to the matrix's top) when the requirement
// enters the key-person state, each further skill held by one person making the loss of one more
// likely; a requirement already in it (its key person changed) changes no score, so that a
// requirement going in and out of the state does not drive the risk up. The score history names
// the requirement as the cause. Each version of a requirement's key-person state applies once: a
// copy, or an older event that arrives after a newer one, changes nothing.
func (s *Server) keyPersonRisk(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	m, ok := ev.Message.(*talentv1.SkillKeyPersonRisk)
	if !ok {
		return fault.Field("payload", "UNEXPECTED_TYPE", fmt.Sprintf("want a SkillKeyPersonRisk, got %s", ev.Type))
	}
	now := s.now()
	if moved, err := advanceKeyPerson(ctx, tx, m, now); err != nil || !moved {
		return err
	}
	cov, requirement := m.GetCoverage(), m.GetSkillRequirement()
	team := cov.GetTeam()
	was, entered, err := tx.KeyPersonRequirement(ctx, requirement)
	if err != nil {
		return err
	}
	state := store.KeyPersonRequirement{Requirement: requirement, Team: team, KeyPerson: cov.GetKeyPerson(), Raised: was.Raised}
	reason := fmt.Sprintf("Only %s covers %s of %s; %d required at proficiency %d or more",
		labelled(m.GetKeyPersonDisplayName(), ownerOr(cov.GetKeyPerson())), labelled(m.GetSkillDisplayName(), cov.GetSkill()),
		labelled(m.GetTeamDisplayName(), team), cov.GetRequiredPeople(), cov.GetMinProficiency())
	mat, err := tx.CurrentMatrix(ctx)
	if err != nil {
		return err
	}
	base := domain.Pair{Likelihood: scaleStep(keyPersonLikelihood, len(mat.Likelihood)), Impact: scaleStep(keyPersonImpact, len(mat.Impact))}
	r, err := tx.RiskBySource(ctx, team)
	var (
		prev   int64
		before *riskv1.Risk
		events []sqlstore.Event
		pair   = base
	)
	switch {
	case errors.Is(err, domain.ErrRiskNotFound):
		if r, err = s.openSourceRisk(ctx, tx, team, domain.RiskFields{
			Title:       domain.SourceTitle(teamTitle, cmp.Or(m.GetTeamDisplayName(), team)),
			Description: "Opened by the risk service when talent reported that one person alone covers a skill the team requires. " + reason + ".",
			Category:    domain.CategoryPeople,
			Owner:       domain.ServiceActor,
		}, now); err != nil {
			return err
		}
		state.Raised = false
	case err != nil:
		return err
	case r.State == domain.RiskClosed:
		prev, before = r.Version, riskToProto(r)
		if err := r.Reopen(reason, now); err != nil {
			return err
		}
		events = append(events, &riskv1.RiskReopened{})
		// Scored afresh: no step of the team's other key people is left to take back.
		if err := tx.ResetKeyPersonRaises(ctx, team); err != nil {
			return err
		}
		state.Raised = false
	case entered:
		// The key person changed, or talent said again what the register knew: nothing to score.
		return tx.PutKeyPersonRequirement(ctx, state, now)
	case r.Scored():
		top := int32(len(mat.Likelihood))
		pair = domain.Pair{Likelihood: min(top, max(r.Residual.Likelihood+1, base.Likelihood)), Impact: max(r.Residual.Impact, base.Impact)}
		state.Raised = pair.Likelihood > r.Residual.Likelihood
	}
	if err := tx.PutKeyPersonRequirement(ctx, state, now); err != nil {
		return err
	}
	if before == nil {
		prev, before = r.Version, riskToProto(r)
	}
	a := domain.Assessment{Residual: &pair, Actor: domain.ServiceActor, Reason: reason, Cause: requirement}
	if !r.Scored() || pair.Likelihood*pair.Impact > r.Inherent.Value() {
		a.Inherent = &pair
	}
	more, err := s.Rescore(ctx, tx, r, a)
	if err != nil {
		return err
	}
	_, err = s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before, append(events, more...)...)
	return err
}

// keyPersonCleared applies skill.key_person_risk_cleared: a team's skill is no longer covered by
// exactly one person (more do, nobody does, or the requirement was deleted). When the
// requirement's entry raised the team's open people risk a step, the step is taken back (not
// below the matrix's lowest); the risk stays open for its owner to review, whatever its causes.
// A requirement the register did not know in the key-person state (learnt before it kept them)
// changes no score. Each version applies once, in order with the key_person_risk events of the
// same requirement.
func (s *Server) keyPersonCleared(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	m, ok := ev.Message.(*talentv1.SkillKeyPersonRiskCleared)
	if !ok {
		return fault.Field("payload", "UNEXPECTED_TYPE", fmt.Sprintf("want a SkillKeyPersonRiskCleared, got %s", ev.Type))
	}
	now := s.now()
	if moved, err := advanceKeyPerson(ctx, tx, m, now); err != nil || !moved {
		return err
	}
	cov, requirement := m.GetCoverage(), m.GetSkillRequirement()
	team := cov.GetTeam()
	// The team's risk is locked before the requirement's row, in the order keyPersonRisk takes
	// them, so that the two reactions never wait on each other's locks.
	r, err := tx.RiskBySource(ctx, team)
	if err != nil && !errors.Is(err, domain.ErrRiskNotFound) {
		return err
	}
	was, known, err := tx.DeleteKeyPersonRequirement(ctx, requirement)
	if err != nil || !known || !was.Raised || r == nil || r.State == domain.RiskClosed || !r.Scored() || r.Residual.Likelihood <= 1 {
		return err
	}
	pair := domain.Pair{Likelihood: r.Residual.Likelihood - 1, Impact: r.Residual.Impact}
	a := domain.Assessment{Residual: &pair, Actor: domain.ServiceActor, Cause: requirement,
		Reason: fmt.Sprintf("%s of %s is no longer covered by one person only (%d cover it, %d required): likelihood lowered one step",
			cov.GetSkill(), team, cov.GetCoveredPeople(), cov.GetRequiredPeople())}
	prev, before := r.Version, riskToProto(r)
	events, err := s.Rescore(ctx, tx, r, a)
	if err != nil {
		return err
	}
	_, err = s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before, events...)
	return err
}

// keyPersonEvent is either event of a requirement's key-person state.
type keyPersonEvent interface {
	GetCoverage() *talentv1.SkillCoverage
	GetSkillRequirement() string
	GetVersion() int64
}

// advanceKeyPerson checks the names of m and moves its requirement's position to its version,
// shared by both events of the state so that they apply in the requirement's order; it reports
// whether it moved.
func advanceKeyPerson(ctx context.Context, tx store.Tx, m keyPersonEvent, now time.Time) (bool, error) {
	team, requirement := m.GetCoverage().GetTeam(), m.GetSkillRequirement()
	switch {
	case !teamPattern.Match(team):
		return false, fault.Field("coverage.team", "INVALID_NAME", fmt.Sprintf("%q is not a team name", team))
	case requirement == "":
		return false, fault.Field("skill_requirement", "REQUIRED", "the event names no requirement")
	}
	return tx.Advance(ctx, requirement+":key_person", fmt.Sprintf("%020d", m.GetVersion()), now)
}

// labelled is a resource's display name with its name, "Platform (teams/platform)", or its name
// alone when the display name is not known.
func labelled(display, name string) string {
	if display == "" {
		return name
	}
	return display + " (" + name + ")"
}

// Titles of the risks the service opens, before the source's display name (domain.SourceTitle).
const (
	vendorTitle = "Third-party risk: "
	teamTitle   = "Key-person risk: "
)

// openSourceRisk creates the risk the service keeps for source, identified at now, and records
// its identification and the title it gave it.
func (s *Server) openSourceRisk(ctx context.Context, tx store.Tx, source string, f domain.RiskFields, now time.Time) (*domain.Risk, error) {
	r, err := domain.NewRisk(s.newID(), f, now)
	if err != nil {
		return nil, err
	}
	r.Source = source
	r.PlanReview(s.cfg.ReviewDays)
	if err := tx.InsertRisk(ctx, r); err != nil {
		return nil, err
	}
	if err := tx.PutSourceTitle(ctx, source, r.Title, now); err != nil {
		return nil, err
	}
	pb := riskToProto(r)
	return r, tx.Record(ctx, sqlstore.Change{Action: audit.Create, Resource: r.Name(), After: pb,
		Event: &riskv1.RiskIdentified{Risk: pb, Version: r.Version}})
}

// ownerOr is the owner of a risk the service opens: the person who gave the cause (the
// assessor), else the service.
func ownerOr(person string) string {
	if person == "" {
		return domain.ServiceActor
	}
	return person
}

// sourceRenamed applies vendor.updated and team.updated that change the source's display name:
// the risk the service keeps for the vendor or the team is retitled with the new name while its
// title is still the one the service gave it — a title a person changed stays — and while it is
// not CLOSED. Each version of a source's name applies once, in order: a copy or an older update
// that arrives late changes nothing.
func (s *Server) sourceRenamed(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	var (
		source, display, prefix string
		version                 int64
		changed                 []string
	)
	switch m := ev.Message.(type) {
	case *vendorsv1.VendorUpdated:
		source, display, prefix = m.GetVendor().GetName(), m.GetVendor().GetDisplayName(), vendorTitle
		version, changed = m.GetVersion(), m.GetChangedFields().GetPaths()
		if !vendorPattern.Match(source) {
			return fault.Field("vendor.name", "INVALID_NAME", fmt.Sprintf("%q is not a vendor's name", source))
		}
	case *talentv1.TeamUpdated:
		source, display, prefix = m.GetTeam().GetName(), m.GetTeam().GetDisplayName(), teamTitle
		version, changed = m.GetVersion(), m.GetChangedFields().GetPaths()
		if !teamPattern.Match(source) {
			return fault.Field("team.name", "INVALID_NAME", fmt.Sprintf("%q is not a team's name", source))
		}
	default:
		return fault.Field("payload", "UNEXPECTED_TYPE", fmt.Sprintf("want a vendor's or a team's update, got %s", ev.Type))
	}
	if !slices.Contains(changed, "display_name") || display == "" {
		return nil
	}
	given, ok, err := tx.SourceTitle(ctx, source)
	if err != nil || !ok {
		return err
	}
	r, err := tx.RiskBySource(ctx, source)
	if errors.Is(err, domain.ErrRiskNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	now := s.now()
	if moved, err := tx.Advance(ctx, source+":name", fmt.Sprintf("%020d", version), now); err != nil || !moved {
		return err
	}
	title := domain.SourceTitle(prefix, display)
	if r.State == domain.RiskClosed || r.Title != given || r.Title == title {
		return nil
	}
	prev, before := r.Version, riskToProto(r)
	fields, err := r.Apply([]string{domain.RiskFieldTitle}, domain.RiskFields{Title: title}, now)
	if err != nil || len(fields) == 0 {
		return err
	}
	if err := tx.PutSourceTitle(ctx, source, title, now); err != nil {
		return err
	}
	_, err = s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before,
		&riskv1.RiskUpdated{ChangedFields: &fieldmaskpb.FieldMask{Paths: fields}})
	return err
}
