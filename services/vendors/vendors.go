// Package vendors is the vendors service — third parties and what the organisation agrees with
// them: vendors and their attestations, contracts and invoices, due-diligence assessments,
// quarterly scorecards and evaluations — packaged for the host that runs it, in its own process
// or inside the standalone binary.
package vendors

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/server"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// Domain is the service's domain name.
const Domain = "vendors"

// Settings are the vendors service's own settings (a host.Settings), read from flags and the
// environment by the programs that run it (prefix QUARTERDECK_).
type Settings struct {
	HoldTTL          time.Duration `env:"VENDORS_HOLD_TTL" default:"15m" help:"time to live of the budget hold a contract's approval places (1m to 24h); an approval is refused when its hold would expire within a minute (ADR 0010)"`
	NoticeWindowDays int           `env:"VENDORS_NOTICE_WINDOW_DAYS" default:"60" help:"days before a contract's cancel-by date that its notice window opens (0 to 365), for contracts that set none"`

	ReassessmentMonthsTier1 int `env:"VENDORS_REASSESSMENT_MONTHS_TIER1" default:"12" help:"months a completed assessment of a tier-1 vendor is valid (1 to 120)"`
	ReassessmentMonthsTier2 int `env:"VENDORS_REASSESSMENT_MONTHS_TIER2" default:"24" help:"months a completed assessment of a tier-2 vendor is valid (1 to 120)"`
	ReassessmentMonthsTier3 int `env:"VENDORS_REASSESSMENT_MONTHS_TIER3" default:"36" help:"months a completed assessment of a tier-3 vendor is valid (1 to 120)"`
	ReassessmentMonthsTier4 int `env:"VENDORS_REASSESSMENT_MONTHS_TIER4" default:"36" help:"months a completed assessment of a tier-4 vendor is valid (1 to 120)"`

	ScorecardWeightAssessment   int `env:"VENDORS_SCORECARD_WEIGHT_ASSESSMENT" default:"30" help:"weight of the risk rating in a vendor's scorecard (0 to 100)"`
	ScorecardWeightAttestations int `env:"VENDORS_SCORECARD_WEIGHT_ATTESTATIONS" default:"20" help:"weight of the attestations' status in a vendor's scorecard (0 to 100)"`
	ScorecardWeightSpend        int `env:"VENDORS_SCORECARD_WEIGHT_SPEND" default:"20" help:"weight of spend against contract value in a vendor's scorecard (0 to 100)"`
	ScorecardWeightIncidents    int `env:"VENDORS_SCORECARD_WEIGHT_INCIDENTS" default:"15" help:"weight of incidents in a vendor's scorecard (0 to 100)"`
	ScorecardWeightSLA          int `env:"VENDORS_SCORECARD_WEIGHT_SLA" default:"15" help:"weight of SLA breaches in a vendor's scorecard (0 to 100)"`

	WritePolicy string `env:"VENDORS_WRITE_POLICY" default:"scopes" help:"who may change a vendor (its attestations and contracts) or an evaluation: scopes (any holder of the method's scopes) or owner (its owner principal, the members of its owner team, asked of talent, or a holder of vendors.admin)"`
}

// DefaultSettings are the settings' defaults, as the programs that run the service read them
// when nothing is set.
func DefaultSettings() Settings {
	return Settings{
		HoldTTL:                 15 * time.Minute,
		NoticeWindowDays:        60,
		ReassessmentMonthsTier1: 12, ReassessmentMonthsTier2: 24, ReassessmentMonthsTier3: 36, ReassessmentMonthsTier4: 36,
		ScorecardWeightAssessment: 30, ScorecardWeightAttestations: 20, ScorecardWeightSpend: 20,
		ScorecardWeightIncidents: 15, ScorecardWeightSLA: 15,
		WritePolicy: string(ownership.Scopes),
	}
}

// Validate reports settings out of range, all of them together.
func (s Settings) Validate() error {
	var errs []error
	if s.HoldTTL < time.Minute || s.HoldTTL > 24*time.Hour {
		errs = append(errs, fmt.Errorf("QUARTERDECK_VENDORS_HOLD_TTL is %s; want 1m to 24h (budget keeps holds that long at most)", s.HoldTTL))
	}
	if s.NoticeWindowDays < 0 || s.NoticeWindowDays > 365 {
		errs = append(errs, fmt.Errorf("QUARTERDECK_VENDORS_NOTICE_WINDOW_DAYS is %d; want 0 to 365", s.NoticeWindowDays))
	}
	for i, m := range s.reassessmentMonths() {
		if m < 1 || m > 120 {
			errs = append(errs, fmt.Errorf("QUARTERDECK_VENDORS_REASSESSMENT_MONTHS_TIER%d is %d; want 1 to 120", i+1, m))
		}
	}
	w := s.scorecardWeights()
	sum := 0
	for _, c := range []struct {
		name   string
		weight int
	}{
		{"ASSESSMENT", w.Assessment}, {"ATTESTATIONS", w.Attestations}, {"SPEND", w.Spend},
		{"INCIDENTS", w.Incidents}, {"SLA", w.SLA},
	} {
		if c.weight < 0 || c.weight > 100 {
			errs = append(errs, fmt.Errorf("QUARTERDECK_VENDORS_SCORECARD_WEIGHT_%s is %d; want 0 to 100", c.name, c.weight))
		}
		sum += c.weight
	}
	if sum <= 0 {
		errs = append(errs, errors.New("QUARTERDECK_VENDORS_SCORECARD_WEIGHT_* are all 0; at least one must be positive"))
	}
	if _, err := ownership.ParsePolicy("QUARTERDECK_VENDORS_WRITE_POLICY", s.WritePolicy); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ownershipRules declares who owns what in vendors (ADR 0014): a vendor's owner owns its
// attestations and contracts (with each contract's own owner), an evaluation's owner the
// evaluation. Decisions others make, and the assessor's work, are exempt.
func ownershipRules(owners ownership.Owners) ownership.Rules {
	const decision = "a decision of vendors.approve holders on another principal's vendor or contract (separation of duties)"
	const assessment = "the assessor, who may not be the vendor's owner, runs the assessment"
	return ownership.Rules{
		Service: vendorsv1.File_quarterdeck_vendors_v1_vendors_service_proto.Services().ByName("VendorsService"),
		Owned:   []string{"vendors", "evaluations"},
		Owners:  owners,
		Unowned: map[string]string{
			"assessmentTemplates": "the questionnaires every assessment shares, kept by whoever holds vendors.write",
		},
		Exempt: map[string]string{
			"ActivateVendor":     decision,
			"SuspendVendor":      decision,
			"ReinstateVendor":    decision,
			"OffboardVendor":     decision,
			"ApproveContract":    decision,
			"RejectContract":     decision,
			"DecideEvaluation":   "the decision of vendors.approve holders on an evaluation",
			"CreateAssessment":   assessment,
			"UpdateAssessment":   assessment,
			"CompleteAssessment": assessment,
			"CancelAssessment":   assessment,
			"RecordInvoice":      "accounts payable records the vendor's invoices against any contract",
		},
	}
}

func (s Settings) reassessmentMonths() [4]int {
	return [4]int{s.ReassessmentMonthsTier1, s.ReassessmentMonthsTier2, s.ReassessmentMonthsTier3, s.ReassessmentMonthsTier4}
}

func (s Settings) scorecardWeights() server.ScorecardWeights {
	return server.ScorecardWeights{Assessment: s.ScorecardWeightAssessment, Attestations: s.ScorecardWeightAttestations,
		Spend: s.ScorecardWeightSpend, Incidents: s.ScorecardWeightIncidents, SLA: s.ScorecardWeightSLA}
}

// config is the server's view of the settings.
func (s Settings) config() server.Config {
	return server.Config{HoldTTL: s.HoldTTL, NoticeWindowDays: s.NoticeWindowDays,
		ReassessmentMonths: s.reassessmentMonths(), ScorecardWeights: s.scorecardWeights()}
}

// Service describes the vendors service with default settings to the host.
func Service() host.Service { return Configured(DefaultSettings()) }

// Configured describes the vendors service with cfg, which must be valid, to the host. The
// service calls budget (its peer, at the address the host is given) and reads the time from the
// host's clock (host.Options.Clock); tests pass server options, such as a fixed clock of the
// talentTeams asks talent, the service's peer under the owner write policy, for the caller's
// teams (GetCallerTeams), each answer kept for ownership.TeamsTTL: the members of a team that owns
// a resource write it (ADR 0014).
func talentTeams(talent *peer.Conn) ownership.Teams {
	return ownership.CachedTeams(func(ctx context.Context, _ string) ([]string, error) {
		out, err := talentv1.NewTalentServiceClient(talent).GetCallerTeams(ctx, &talentv1.GetCallerTeamsRequest{})
		return out.GetTeams(), err
	}, ownership.TeamsTTL, time.Now)
}

// server's own. Under the owner write policy it calls talent too, for the members of the teams
// that own vendors and evaluations.
func Configured(cfg Settings, opts ...server.Option) host.Service {
	policy, _ := ownership.ParsePolicy("", cfg.WritePolicy)
	peers := []string{"budget"}
	if policy == ownership.Owner {
		peers = append(peers, "talent")
	}
	newServer := func(deps host.Deps) *server.Server {
		o := []server.Option{server.WithConfig(cfg.config())}
		if deps.Clock != nil {
			o = append(o, server.WithClock(deps.Clock.Now))
		}
		if deps.Logger != nil {
			o = append(o, server.WithLogger(deps.Logger))
		}
		budget := budgetv1.NewBudgetServiceClient(deps.Peers["budget"])
		return server.New(store.New(deps.DB, deps.Events), budget, append(o, opts...)...)
	}
	return host.Service{
		Domain:     Domain,
		Migrations: store.Migrations.For,
		Names:      []string{vendorsv1.VendorsService_ServiceDesc.ServiceName},
		Peers:      peers,
		Settings:   cfg,
		Ownership: func(deps host.Deps) (ownership.Policy, []ownership.Rules) {
			// The server is built at the first look-up: the rules are also read without a
			// database, to list the methods they check.
			srv := sync.OnceValue(func() *server.Server { return newServer(deps) })
			rules := ownershipRules(func(ctx context.Context, name string) ([]string, error) {
				return srv().Owners(ctx, name)
			})
			if policy == ownership.Owner {
				rules.Teams = talentTeams(deps.Peers["talent"])
			}
			return policy, []ownership.Rules{rules}
		},
		Register: func(r grpc.ServiceRegistrar, deps host.Deps) error {
			vendorsv1.RegisterVendorsServiceServer(r, newServer(deps))
			return nil
		},
		// The risk service's incident events: the incidents attributed to vendors, counted in
		// their scorecards and checked against their contracts' service levels
		// (server.ApplyIncidentEvent).
		Consumers: func(deps host.Deps) []consumer.Spec {
			srv, db := newServer(deps), sqlstore.New(deps.DB, deps.Events)
			c := server.IncidentsConsumer
			return []consumer.Spec{{Name: c.Name, Domain: c.Domain, Subjects: []string{c.Subject}, Ignore: c.Ignore,
				Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
					return db.Join(ctx, tx, func(ctx context.Context, t *sqlstore.Tx) error { return srv.ApplyIncidentEvent(ctx, store.Join(t), ev) })
				}}}
		},
		// The handlers of the service's due items, by kind: contract renewals, expiries and
		// notice reminders, attestation expiry reminders, assessments falling due. Each resource
		// adds its kinds here, with a method of newServer(deps) as the handler.
		Schedules: func(deps host.Deps) map[string]scheduler.Handler {
			srv := newServer(deps)
			return map[string]scheduler.Handler{
				store.AssessmentDueKind:        srv.FireAssessmentDue,
				store.ContractNoticeWindowKind: srv.NoticeWindowOpened,
				store.ContractCancelByKind:     srv.CancelByMissed,
				store.ContractTermEndKind:      srv.TermEnded,
				store.AttestationExpiringKind:  srv.RemindAttestationExpiry,
			}
		},
	}
}
