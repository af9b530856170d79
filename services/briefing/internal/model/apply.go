package model

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
)

// Apply writes ev, an event of domain's stream, into the model within tx and records it as the
// stream's last applied event. The consumer runtime calls it once per event (its inbox drops
// copies) and never with an older version of a resource than one applied (it skips stale ones),
// so an event's full state of its resource simply replaces what the model held. An event the
// briefing does not use, or whose type the binary does not know, only moves the freshness.
func Apply(ctx context.Context, tx *sql.Tx, domain string, ev consumer.Event) error {
	if ev.Message != nil {
		if err := apply(ctx, tx, ev.Message); err != nil {
			return fmt.Errorf("apply %s %s: %w", ev.Type, ev.ID, err)
		}
	}
	return recordStream(ctx, tx, domain, ev)
}

func apply(ctx context.Context, tx *sql.Tx, m proto.Message) error {
	switch e := m.(type) {
	// budget
	case *budgetv1.CostCenterCreated:
		return putCostCenter(ctx, tx, e.GetCostCenter())
	case *budgetv1.CostCenterUpdated:
		return putCostCenter(ctx, tx, e.GetCostCenter())
	case *budgetv1.CostCenterDeleted:
		return del(ctx, tx, "briefing_cost_centers", e.GetCostCenter().GetName())
	case *budgetv1.BudgetCreated:
		return putBudget(ctx, tx, e.GetBudget())
	case *budgetv1.BudgetUpdated:
		return putBudget(ctx, tx, e.GetBudget())
	case *budgetv1.BudgetSubmitted:
		return putBudget(ctx, tx, e.GetBudget())
	case *budgetv1.BudgetApproved:
		// The revision it supersedes publishes nothing of its own.
		if e.GetSuperseded() != "" {
			const q = `UPDATE briefing_budgets SET state = $2 WHERE name = $1`
			if _, err := tx.ExecContext(ctx, q, e.GetSuperseded(), int32(budgetv1.Budget_SUPERSEDED)); err != nil {
				return err
			}
		}
		return putBudget(ctx, tx, e.GetBudget())
	case *budgetv1.BudgetRejected:
		return putBudget(ctx, tx, e.GetBudget())
	case *budgetv1.BudgetClosed:
		return putBudget(ctx, tx, e.GetBudget())
	case *budgetv1.BudgetRevised:
		return putBudget(ctx, tx, e.GetBudget())
	case *budgetv1.BudgetDeleted:
		return del(ctx, tx, "briefing_budgets", e.GetBudget().GetName())
	case *budgetv1.ActualRecorded:
		return addActual(ctx, tx, e.GetActual())
	case *budgetv1.CommitmentRecorded:
		return putCommitment(ctx, tx, e.GetCommitment())
	case *budgetv1.CommitmentReleased:
		return putCommitment(ctx, tx, e.GetCommitment())
	case *budgetv1.CommitmentRevalued:
		return putCommitment(ctx, tx, e.GetCommitment())

	// vendors
	case *vendorsv1.VendorCreated:
		return putVendor(ctx, tx, e.GetVendor())
	case *vendorsv1.VendorUpdated:
		return putVendor(ctx, tx, e.GetVendor())
	case *vendorsv1.VendorOnboardingStarted:
		return putVendor(ctx, tx, e.GetVendor())
	case *vendorsv1.VendorOnboarded:
		return putVendor(ctx, tx, e.GetVendor())
	case *vendorsv1.VendorSuspended:
		return putVendor(ctx, tx, e.GetVendor())
	case *vendorsv1.VendorReinstated:
		return putVendor(ctx, tx, e.GetVendor())
	case *vendorsv1.VendorOffboarded:
		return putVendor(ctx, tx, e.GetVendor())
	case *vendorsv1.VendorDeleted:
		// A vendor with contracts cannot be deleted, so one with breaches neither; its breaches
		// would go with it.
		const q = `DELETE FROM briefing_sla_breaches WHERE vendor = $1`
		if _, err := tx.ExecContext(ctx, q, e.GetVendor().GetName()); err != nil {
			return err
		}
		return del(ctx, tx, "briefing_vendors", e.GetVendor().GetName())
	case *vendorsv1.VendorSlaBreached:
		return putSLABreach(ctx, tx, e)
	case *vendorsv1.ContractCreated:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractUpdated:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractSubmitted:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractRejected:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractActivated:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractTerminated:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractExpired:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractAutoRenewed:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractNoticeWindowOpened:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractCancelByMissed:
		return putContract(ctx, tx, e.GetContract())
	case *vendorsv1.ContractDeleted:
		return del(ctx, tx, "briefing_contracts", e.GetContract().GetName())

	// talent
	case *talentv1.TeamCreated:
		return putNamed(ctx, tx, "briefing_teams", e.GetTeam().GetName(), e.GetTeam().GetDisplayName())
	case *talentv1.TeamUpdated:
		return putNamed(ctx, tx, "briefing_teams", e.GetTeam().GetName(), e.GetTeam().GetDisplayName())
	case *talentv1.TeamDeleted:
		return del(ctx, tx, "briefing_teams", e.GetTeam().GetName())
	case *talentv1.SkillCreated:
		return putNamed(ctx, tx, "briefing_skills", e.GetSkill().GetName(), e.GetSkill().GetDisplayName())
	case *talentv1.SkillUpdated:
		return putNamed(ctx, tx, "briefing_skills", e.GetSkill().GetName(), e.GetSkill().GetDisplayName())
	case *talentv1.SkillDeleted:
		return del(ctx, tx, "briefing_skills", e.GetSkill().GetName())
	case *talentv1.PersonJoined:
		return putPerson(ctx, tx, e.GetPerson())
	case *talentv1.PersonUpdated:
		return putPerson(ctx, tx, e.GetPerson())
	case *talentv1.PersonMoved:
		return putPerson(ctx, tx, e.GetPerson())
	case *talentv1.PersonLeft:
		return putPerson(ctx, tx, e.GetPerson())
	case *talentv1.PositionApproved:
		return putPosition(ctx, tx, e.GetPosition())
	case *talentv1.PositionOpened:
		return putPosition(ctx, tx, e.GetPosition())
	case *talentv1.PositionFilled:
		return putPosition(ctx, tx, e.GetPosition())
	case *talentv1.PositionCancelled:
		return putPosition(ctx, tx, e.GetPosition())
	case *talentv1.SkillCoverageGap:
		return putCoverage(ctx, tx, e.GetSkillRequirement(), e.GetCoverage())
	case *talentv1.SkillCoverageRestored:
		return putCoverage(ctx, tx, e.GetSkillRequirement(), e.GetCoverage())
	case *talentv1.SkillKeyPersonRisk:
		return putCoverage(ctx, tx, e.GetSkillRequirement(), e.GetCoverage())
	case *talentv1.SkillKeyPersonRiskCleared:
		return putCoverage(ctx, tx, e.GetSkillRequirement(), e.GetCoverage())
	case *talentv1.HeadcountPlanCreated:
		return putPlan(ctx, tx, e.GetHeadcountPlan())
	case *talentv1.HeadcountPlanUpdated:
		return putPlan(ctx, tx, e.GetHeadcountPlan())
	case *talentv1.HeadcountScenarioAdopted:
		return putPlan(ctx, tx, e.GetHeadcountPlan())
	case *talentv1.SkillRequirementDeleted:
		const q = `DELETE FROM briefing_coverage WHERE requirement = $1`
		_, err := tx.ExecContext(ctx, q, e.GetSkillRequirement().GetName())
		return err

	// risk: compliance
	case *riskv1.FrameworkPostureChanged:
		return putPosture(ctx, tx, e)
	case *riskv1.FrameworkImported:
		const q = `UPDATE briefing_frameworks SET title = $2 WHERE name = $1`
		_, err := tx.ExecContext(ctx, q, e.GetFramework().GetName(), e.GetFramework().GetTitle())
		return err
	case *riskv1.ControlDeleted:
		return del(ctx, tx, "briefing_controls", e.GetControl().GetName())
	case interface{ GetControl() *riskv1.Control }:
		// Every other event of a control carries the control after the change: created, updated,
		// tested, failed, test_due.
		return putControl(ctx, tx, e.GetControl())

	// risk: policies
	case *riskv1.PolicyDeleted:
		const q = `DELETE FROM briefing_policy_acknowledgements WHERE policy = $1`
		if _, err := tx.ExecContext(ctx, q, e.GetPolicy().GetName()); err != nil {
			return err
		}
		return del(ctx, tx, "briefing_policies", e.GetPolicy().GetName())
	case *riskv1.PolicyVersionPublished:
		return putPolicy(ctx, tx, e.GetPolicy(), e.GetPolicyVersion())
	case *riskv1.PolicyAcknowledged:
		return putPolicyAcknowledgement(ctx, tx, e.GetPolicy(), e.GetAcknowledgement())
	case interface{ GetPolicy() *riskv1.Policy }:
		// Every other event of a policy carries the policy after the change: created, updated,
		// acknowledgement_overdue.
		return putPolicy(ctx, tx, e.GetPolicy(), nil)

	// risk: continuity
	case *riskv1.ContinuityPlanDeleted:
		return del(ctx, tx, "briefing_continuity_plans", e.GetPlan().GetName())
	case interface{ GetPlan() *riskv1.ContinuityPlan }:
		// Every other event of a plan carries the plan after the change: created, updated,
		// exercise_recorded, target_missed, exercise_overdue.
		return putContinuityPlan(ctx, tx, e.GetPlan())

	// risk
	case *riskv1.RiskMatrixUpdated:
		return putMatrix(ctx, tx, e.GetRiskMatrix())
	case *riskv1.RiskDeleted:
		return del(ctx, tx, "briefing_risks", e.GetRisk().GetName())
	case interface{ GetIncident() *riskv1.Incident }:
		// Every event of an incident carries the incident after the change.
		return putIncident(ctx, tx, e.GetIncident())
	case interface{ GetRisk() *riskv1.Risk }:
		// Every other event of a risk carries the risk after the change.
		return putRisk(ctx, tx, e.GetRisk())
	}
	return nil
}

func del(ctx context.Context, tx *sql.Tx, table, name string) error {
	_, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE name = $1", name)
	return err
}

func putCostCenter(ctx context.Context, tx *sql.Tx, c *budgetv1.CostCenter) error {
	const q = `INSERT INTO briefing_cost_centers (name, display_name) VALUES ($1, $2)
	ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name`
	_, err := tx.ExecContext(ctx, q, c.GetName(), c.GetDisplayName())
	return err
}

func putBudget(ctx context.Context, tx *sql.Tx, b *budgetv1.Budget) error {
	planned, err := minor(b.GetPlannedAmount(), money.Currency(b.GetCurrencyCode()))
	if err != nil {
		return consumer.Permanent(fmt.Errorf("budget %s: planned amount: %w", b.GetName(), err))
	}
	const q = `INSERT INTO briefing_budgets
	(name, cost_center, fiscal_year, currency_code, start_date, display_name, state, planned_minor)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (name) DO UPDATE SET cost_center = excluded.cost_center, fiscal_year = excluded.fiscal_year,
		currency_code = excluded.currency_code, start_date = excluded.start_date,
		display_name = excluded.display_name, state = excluded.state, planned_minor = excluded.planned_minor`
	_, err = tx.ExecContext(ctx, q, b.GetName(), b.GetCostCenter(), b.GetFiscalYear(), b.GetCurrencyCode(),
		dateText(b.GetFiscalYearStartDate()), b.GetDisplayName(), int32(b.GetState()), planned)
	return err
}

// addActual adds an actual, in the budget's currency, to its revision's period. Actuals never
// change, and the inbox applies each once, so the sum is kept rather than every actual.
func addActual(ctx context.Context, tx *sql.Tx, a *budgetv1.Actual) error {
	budget, ok := parent(a.GetName(), "/lines/")
	period, perr := periodOf(a.GetPeriod())
	if !ok || perr != nil {
		return consumer.Permanent(fmt.Errorf("actual %q of period %q: not a budget's actual", a.GetName(), a.GetPeriod()))
	}
	amount := a.GetConvertedAmount()
	if amount == nil {
		amount = a.GetAmount()
	}
	add, err := minor(amount, "")
	if err != nil {
		return consumer.Permanent(fmt.Errorf("actual %s: %w", a.GetName(), err))
	}
	var sum int64
	const get = `SELECT amount_minor FROM briefing_actuals WHERE budget = $1 AND period = $2`
	switch err := tx.QueryRowContext(ctx, get, budget, period).Scan(&sum); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	}
	if sum, err = money.AddMinor(sum, add); err != nil {
		return consumer.Permanent(fmt.Errorf("actual %s: the period's sum: %w", a.GetName(), err))
	}
	const put = `INSERT INTO briefing_actuals (budget, period, amount_minor) VALUES ($1, $2, $3)
	ON CONFLICT (budget, period) DO UPDATE SET amount_minor = excluded.amount_minor`
	_, err = tx.ExecContext(ctx, put, budget, period, sum)
	return err
}

func putCommitment(ctx context.Context, tx *sql.Tx, c *budgetv1.Commitment) error {
	budget, ok := parent(c.GetName(), "/lines/")
	if !ok {
		return consumer.Permanent(fmt.Errorf("commitment %q: not a budget's commitment", c.GetName()))
	}
	remaining, err := minor(c.GetRemainingAmount(), "")
	if err != nil {
		return consumer.Permanent(fmt.Errorf("commitment %s: %w", c.GetName(), err))
	}
	const q = `INSERT INTO briefing_commitments (name, budget, remaining_minor) VALUES ($1, $2, $3)
	ON CONFLICT (name) DO UPDATE SET remaining_minor = excluded.remaining_minor`
	_, err = tx.ExecContext(ctx, q, c.GetName(), budget, remaining)
	return err
}

func putVendor(ctx context.Context, tx *sql.Tx, v *vendorsv1.Vendor) error {
	const q = `INSERT INTO briefing_vendors (name, display_name) VALUES ($1, $2)
	ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name`
	_, err := tx.ExecContext(ctx, q, v.GetName(), v.GetDisplayName())
	return err
}

func putContract(ctx context.Context, tx *sql.Tx, c *vendorsv1.Contract) error {
	vendor, ok := parent(c.GetName(), "/contracts/")
	if !ok {
		return consumer.Permanent(fmt.Errorf("contract %q: not a vendor's contract", c.GetName()))
	}
	annual, err := minor(c.GetAnnualValue(), "")
	if err != nil {
		return consumer.Permanent(fmt.Errorf("contract %s: annual value: %w", c.GetName(), err))
	}
	const q = `INSERT INTO briefing_contracts (name, vendor, title, owner, state, end_date, auto_renew,
		renewal_term_months, cancel_by_date, notice_window_open_date, annual_value_minor, currency_code)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
	ON CONFLICT (name) DO UPDATE SET title = excluded.title, owner = excluded.owner, state = excluded.state,
		end_date = excluded.end_date, auto_renew = excluded.auto_renew,
		renewal_term_months = excluded.renewal_term_months, cancel_by_date = excluded.cancel_by_date,
		notice_window_open_date = excluded.notice_window_open_date,
		annual_value_minor = excluded.annual_value_minor, currency_code = excluded.currency_code`
	_, err = tx.ExecContext(ctx, q, c.GetName(), vendor, c.GetTitle(), c.GetOwner(), int32(c.GetState()),
		dateText(c.GetEndDate()), c.GetAutoRenew(), c.GetRenewalTermMonths(), dateText(c.GetCancelByDate()),
		dateText(c.GetNoticeWindowOpenDate()), annual, c.GetAnnualValue().GetCurrencyCode())
	return err
}

// putSLABreach keeps what the briefing counts of a breach: whose, of which contract and
// incident, what it broke and when. A breach never changes; its event is applied once, and a copy
// only writes the same row again.
func putSLABreach(ctx context.Context, tx *sql.Tx, e *vendorsv1.VendorSlaBreached) error {
	b := e.GetSlaBreach()
	vendor := e.GetVendor()
	if vendor == "" {
		vendor, _ = parent(b.GetName(), "/slaBreaches/")
	}
	if b.GetName() == "" || vendor == "" || b.GetBreachTime() == nil {
		return consumer.Permanent(fmt.Errorf("an sla_breached event without its breach, vendor or breach time: %v", e))
	}
	const q = `INSERT INTO briefing_sla_breaches (name, vendor, contract, kind, incident, breach_time)
	VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (name) DO UPDATE SET vendor = excluded.vendor, contract = excluded.contract, kind = excluded.kind,
		incident = excluded.incident, breach_time = excluded.breach_time`
	_, err := tx.ExecContext(ctx, q, b.GetName(), vendor, b.GetContract(), int32(b.GetKind()), b.GetIncident(),
		instant(b.GetBreachTime()))
	return err
}

func putRisk(ctx context.Context, tx *sql.Tx, r *riskv1.Risk) error {
	if r.GetName() == "" {
		return nil
	}
	res := r.GetResidual()
	const q = `INSERT INTO briefing_risks (name, title, category, owner, state, likelihood, impact, score, level, above_appetite)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
	ON CONFLICT (name) DO UPDATE SET title = excluded.title, category = excluded.category, owner = excluded.owner,
		state = excluded.state, likelihood = excluded.likelihood, impact = excluded.impact, score = excluded.score,
		level = excluded.level, above_appetite = excluded.above_appetite`
	_, err := tx.ExecContext(ctx, q, r.GetName(), r.GetTitle(), int32(r.GetCategory()), r.GetOwner(), int32(r.GetState()),
		res.GetLikelihood(), res.GetImpact(), res.GetScore(), int32(res.GetLevel()), r.GetAboveAppetite())
	return err
}

func putIncident(ctx context.Context, tx *sql.Tx, i *riskv1.Incident) error {
	if i.GetName() == "" {
		return nil
	}
	const q = `INSERT INTO briefing_incidents (name, title, type, severity, state, detect_time, acknowledge_time, resolve_time)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (name) DO UPDATE SET title = excluded.title, type = excluded.type, severity = excluded.severity,
		state = excluded.state, detect_time = excluded.detect_time, acknowledge_time = excluded.acknowledge_time,
		resolve_time = excluded.resolve_time`
	_, err := tx.ExecContext(ctx, q, i.GetName(), i.GetTitle(), int32(i.GetType()), int32(i.GetSeverity()),
		int32(i.GetState()), instant(i.GetDetectTime()), instant(i.GetAcknowledgeTime()), instant(i.GetResolveTime()))
	return err
}

// putPosture keeps a framework's posture as its latest posture_changed event says.
func putPosture(ctx context.Context, tx *sql.Tx, e *riskv1.FrameworkPostureChanged) error {
	if e.GetFramework() == "" {
		return consumer.Permanent(fmt.Errorf("a posture_changed event without its framework: %v", e))
	}
	p := e.GetPosture()
	const q = `INSERT INTO briefing_frameworks
	(name, title, requirement_count, covered_count, partial_count, not_covered_count, change_time)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (name) DO UPDATE SET title = excluded.title, requirement_count = excluded.requirement_count,
		covered_count = excluded.covered_count, partial_count = excluded.partial_count,
		not_covered_count = excluded.not_covered_count, change_time = excluded.change_time`
	_, err := tx.ExecContext(ctx, q, e.GetFramework(), e.GetTitle(), p.GetRequirementCount(), p.GetCoveredCount(),
		p.GetPartialCount(), p.GetNotCoveredCount(), instant(p.GetComputeTime()))
	return err
}

// putControl keeps what the briefing shows of a control: whose it is and when its test is due.
func putControl(ctx context.Context, tx *sql.Tx, c *riskv1.Control) error {
	if c.GetName() == "" {
		return nil
	}
	const q = `INSERT INTO briefing_controls (name, title, owner, test_frequency, next_test_date, last_result, last_test_date)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (name) DO UPDATE SET title = excluded.title, owner = excluded.owner,
		test_frequency = excluded.test_frequency, next_test_date = excluded.next_test_date,
		last_result = excluded.last_result, last_test_date = excluded.last_test_date`
	_, err := tx.ExecContext(ctx, q, c.GetName(), c.GetTitle(), c.GetOwner(), int32(c.GetTestFrequency()),
		dateText(c.GetNextTestDate()), int32(c.GetLastResult()), dateText(c.GetLastTestDate()))
	return err
}

// putContinuityPlan keeps what the briefing shows of a continuity plan: whose it is and when its
// next exercise is due.
func putContinuityPlan(ctx context.Context, tx *sql.Tx, p *riskv1.ContinuityPlan) error {
	if p.GetName() == "" {
		return nil
	}
	const q = `INSERT INTO briefing_continuity_plans
	(name, title, service, owner, cadence_months, cadence_days, next_exercise_date, last_exercise_date)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (name) DO UPDATE SET title = excluded.title, service = excluded.service, owner = excluded.owner,
		cadence_months = excluded.cadence_months, cadence_days = excluded.cadence_days,
		next_exercise_date = excluded.next_exercise_date, last_exercise_date = excluded.last_exercise_date`
	_, err := tx.ExecContext(ctx, q, p.GetName(), p.GetTitle(), p.GetService(), p.GetOwner(), p.GetExerciseCadence().GetMonths(),
		p.GetExerciseCadence().GetDays(), dateText(p.GetNextExerciseDate()), dateText(p.GetLastExerciseDate()))
	return err
}

// putPolicy keeps what the briefing counts of a policy: whom it asks and its current version.
// published, when the event published a version, is that version: a major one (which asks for
// acknowledgement) sets the day acknowledgements are due and drops those of earlier major
// versions; otherwise the due date stays.
func putPolicy(ctx context.Context, tx *sql.Tx, p *riskv1.Policy, published *riskv1.PolicyVersion) error {
	if p.GetName() == "" {
		return nil
	}
	major, minor, err := versionNumbers(p.GetCurrentVersion())
	if err != nil {
		return consumer.Permanent(fmt.Errorf("policy %s: %w", p.GetName(), err))
	}
	const q = `INSERT INTO briefing_policies (name, title, everyone, teams, major, minor, due_date)
	VALUES ($1, $2, $3, $4, $5, $6, '')
	ON CONFLICT (name) DO UPDATE SET title = excluded.title, everyone = excluded.everyone, teams = excluded.teams,
		major = excluded.major, minor = excluded.minor`
	if _, err := tx.ExecContext(ctx, q, p.GetName(), p.GetTitle(), p.GetEveryone(), strings.Join(p.GetTeams(), "\n"), major, minor); err != nil {
		return err
	}
	if !published.GetRequiresAcknowledgement() {
		return nil
	}
	const due = `UPDATE briefing_policies SET due_date = $2 WHERE name = $1`
	if _, err := tx.ExecContext(ctx, due, p.GetName(), dateText(published.GetAcknowledgementDueDate())); err != nil {
		return err
	}
	const older = `DELETE FROM briefing_policy_acknowledgements WHERE policy = $1 AND major < $2`
	_, err = tx.ExecContext(ctx, older, p.GetName(), major)
	return err
}

// putPolicyAcknowledgement keeps that a person acknowledged a policy's major version.
func putPolicyAcknowledgement(ctx context.Context, tx *sql.Tx, policy string, a *riskv1.PolicyAcknowledgement) error {
	major, _, err := versionNumbers(a.GetVersion())
	if err != nil || major == 0 {
		return consumer.Permanent(fmt.Errorf("acknowledgement of %s by %s: version %q", policy, a.GetPerson(), a.GetVersion()))
	}
	const q = `INSERT INTO briefing_policy_acknowledgements (policy, person, major) VALUES ($1, $2, $3)
	ON CONFLICT (policy, person, major) DO NOTHING`
	_, err = tx.ExecContext(ctx, q, policy, a.GetPerson(), major)
	return err
}

// versionNumbers reads a policy's version, "MAJOR.MINOR"; "" is 0.0, a policy without a version.
func versionNumbers(v string) (major, minor int32, err error) {
	if v == "" {
		return 0, 0, nil
	}
	ma, mi, ok := strings.Cut(v, ".")
	x, err1 := strconv.ParseInt(ma, 10, 32)
	y, err2 := strconv.ParseInt(mi, 10, 32)
	if !ok || err1 != nil || err2 != nil || x < 0 || y < 0 {
		return 0, 0, fmt.Errorf("version %q is not MAJOR.MINOR", v)
	}
	return int32(x), int32(y), nil
}

// instant is a timestamp for a nullable column: nil when unset, UTC to the microsecond both
// engines keep.
func instant(t *timestamppb.Timestamp) any {
	if t == nil {
		return nil
	}
	return t.AsTime().UTC().Truncate(time.Microsecond)
}

// putNamed keeps the display name of a resource of table.
func putNamed(ctx context.Context, tx *sql.Tx, table, name, displayName string) error {
	if name == "" {
		return nil
	}
	q := `INSERT INTO ` + table + ` (name, display_name) VALUES ($1, $2)
	ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name`
	_, err := tx.ExecContext(ctx, q, name, displayName)
	return err
}

func putPerson(ctx context.Context, tx *sql.Tx, p *talentv1.Person) error {
	if p.GetName() == "" {
		return nil
	}
	// Only what the briefing shows: never the person's pay.
	const q = `INSERT INTO briefing_people (name, display_name, team, state, start_date, end_date) VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (name) DO UPDATE SET display_name = excluded.display_name, team = excluded.team, state = excluded.state,
		start_date = excluded.start_date, end_date = excluded.end_date`
	_, err := tx.ExecContext(ctx, q, p.GetName(), p.GetDisplayName(), p.GetTeam(), int32(p.GetState()),
		dateText(p.GetStartDate()), dateText(p.GetEndDate()))
	return err
}

func putPosition(ctx context.Context, tx *sql.Tx, p *talentv1.Position) error {
	if p.GetName() == "" {
		return nil
	}
	const q = `INSERT INTO briefing_positions (name, title, team, state, open_time, fill_time, target_start_date)
	VALUES ($1, $2, $3, $4, $5, $6, $7)
	ON CONFLICT (name) DO UPDATE SET title = excluded.title, team = excluded.team, state = excluded.state,
		open_time = excluded.open_time, fill_time = excluded.fill_time, target_start_date = excluded.target_start_date`
	_, err := tx.ExecContext(ctx, q, p.GetName(), p.GetTitle(), p.GetTeam(), int32(p.GetState()),
		instant(p.GetOpenTime()), instant(p.GetFillTime()), dateText(p.GetTargetStartDate()))
	return err
}

// putPlan keeps a headcount plan's quarters as its latest event says: the planned headcount and
// the quarter's dates, never its cost. A quarter without dates (an event published before the
// talent service placed them) is placed on the default fiscal calendar, years from 1 January.
func putPlan(ctx context.Context, tx *sql.Tx, p *talentv1.HeadcountPlan) error {
	team, year, ok := strings.Cut(p.GetName(), "/headcountPlans/")
	fy, err := strconv.Atoi(year)
	if !ok || err != nil || !strings.HasPrefix(team, "teams/") {
		return consumer.Permanent(fmt.Errorf("a headcount plan named %q: want teams/{team}/headcountPlans/{fiscal_year}", p.GetName()))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM briefing_headcount_quarters WHERE plan = $1`, p.GetName()); err != nil {
		return err
	}
	for _, q := range p.GetQuarters() {
		n := q.GetQuarter()
		if n < 1 || n > 4 {
			return consumer.Permanent(fmt.Errorf("headcount plan %s: quarter %d, want 1 to 4", p.GetName(), n))
		}
		first, last := dateText(q.GetStartDate()), dateText(q.GetEndDate())
		if first == "" || last == "" {
			from := civil.Date{Year: fy, Month: time.January, Day: 1}.AddMonths(3 * int(n-1))
			first, last = from.String(), from.AddMonths(3).AddDays(-1).String()
		}
		const ins = `INSERT INTO briefing_headcount_quarters
		(plan, quarter, team, fiscal_year, start_date, end_date, planned_headcount) VALUES ($1, $2, $3, $4, $5, $6, $7)`
		if _, err := tx.ExecContext(ctx, ins, p.GetName(), n, team, fy, first, last, q.GetPlannedHeadcount()); err != nil {
			return err
		}
	}
	return nil
}

// putCoverage keeps a requirement's coverage as its latest event says.
func putCoverage(ctx context.Context, tx *sql.Tx, requirement string, c *talentv1.SkillCoverage) error {
	if requirement == "" {
		// The requirement is named after its team and skill: teams/{team}/skillRequirements/{skill}.
		_, skill, ok := strings.Cut(c.GetSkill(), "/")
		if c.GetTeam() == "" || !ok {
			return consumer.Permanent(fmt.Errorf("a coverage event without its requirement, team or skill: %v", c))
		}
		requirement = c.GetTeam() + "/skillRequirements/" + skill
	}
	const q = `INSERT INTO briefing_coverage
	(requirement, team, skill, required_people, covered_people, shortfall, gap, key_person_risk, key_person)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (requirement) DO UPDATE SET team = excluded.team, skill = excluded.skill,
		required_people = excluded.required_people, covered_people = excluded.covered_people,
		shortfall = excluded.shortfall, gap = excluded.gap, key_person_risk = excluded.key_person_risk,
		key_person = excluded.key_person`
	_, err := tx.ExecContext(ctx, q, requirement, c.GetTeam(), c.GetSkill(), c.GetRequiredPeople(), c.GetCoveredPeople(),
		c.GetShortfall(), c.GetGap(), c.GetKeyPersonRisk(), c.GetKeyPerson())
	return err
}

// Facts kept about whole domains.
const (
	factLikelihoodSteps = "risk.matrix.likelihood_steps"
	factImpactSteps     = "risk.matrix.impact_steps"
)

func putMatrix(ctx context.Context, tx *sql.Tx, m *riskv1.RiskMatrix) error {
	for fact, v := range map[string]int{
		factLikelihoodSteps: len(m.GetLikelihoodLevels()), factImpactSteps: len(m.GetImpactLevels()),
	} {
		const q = `INSERT INTO briefing_facts (fact, value) VALUES ($1, $2)
		ON CONFLICT (fact) DO UPDATE SET value = excluded.value`
		if _, err := tx.ExecContext(ctx, q, fact, v); err != nil {
			return err
		}
	}
	return nil
}

// recordStream records ev as the last event applied from domain's stream.
func recordStream(ctx context.Context, tx *sql.Tx, domain string, ev consumer.Event) error {
	var evTime any
	if !ev.Time.IsZero() {
		evTime = ev.Time.UTC()
	}
	const q = `INSERT INTO briefing_streams
	(domain, last_event_id, last_event_type, last_event_time, apply_time, stream_sequence, applied_count)
	VALUES ($1, $2, $3, $4, $5, $6, 1)
	ON CONFLICT (domain) DO UPDATE SET last_event_id = excluded.last_event_id,
		last_event_type = excluded.last_event_type, last_event_time = excluded.last_event_time,
		apply_time = excluded.apply_time, stream_sequence = excluded.stream_sequence,
		applied_count = briefing_streams.applied_count + 1`
	_, err := tx.ExecContext(ctx, q, domain, ev.ID, ev.Type, evTime, time.Now().UTC(), int64(ev.Sequence))
	return err
}

// minor returns m in minor units of its currency (or of fallback when m has none); an unset m is 0.
func minor(m *moneypb.Money, fallback money.Currency) (int64, error) {
	if m == nil {
		return 0, nil
	}
	a, err := money.FromProto(m, fallback)
	if err != nil {
		return 0, err
	}
	return a.Minor, nil
}

// parent returns the part of name before sep: the budget of budgets/b/lines/l/actuals/a.
func parent(name, sep string) (string, bool) {
	i := strings.Index(name, sep)
	if i <= 0 {
		return "", false
	}
	return name[:i], true
}

// periodOf reads the period number of a fiscal period label, FY2027-P03 → 3.
func periodOf(label string) (int, error) {
	_, p, ok := strings.Cut(label, "-P")
	if !ok {
		return 0, fmt.Errorf("period %q: want FY<year>-P<nn>", label)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 12 {
		return 0, fmt.Errorf("period %q: want FY<year>-P01 to P12", label)
	}
	return n, nil
}

// dateText is d as YYYY-MM-DD, or "" when unset.
func dateText(d *date.Date) string {
	if d == nil || (d.GetYear() == 0 && d.GetMonth() == 0 && d.GetDay() == 0) {
		return ""
	}
	return civil.FromProto(d).String()
}
