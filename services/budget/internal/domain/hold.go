package domain

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Time to live of a hold.
const (
	MinHoldTTL     = time.Minute
	MaxHoldTTL     = 24 * time.Hour
	DefaultHoldTTL = 15 * time.Minute
)

// HoldState is the lifecycle of a hold: HELD → CONVERTED | RELEASED | EXPIRED, and EXPIRED →
// CONVERTED for a conversion that arrives after the hold lapsed.
type HoldState int

// The hold states.
const (
	HoldHeld HoldState = iota + 1
	HoldConverted
	HoldReleased
	HoldExpired
)

var holdStateNames = map[HoldState]string{HoldHeld: "HELD", HoldConverted: "CONVERTED", HoldReleased: "RELEASED", HoldExpired: "EXPIRED"}

// String is the API name of the state.
func (s HoldState) String() string {
	if n, ok := holdStateNames[s]; ok {
		return n
	}
	return "STATE_UNSPECIFIED"
}

// Hold reserves money on a line for a short time, until a commitment is recorded from it
// (ADR 0010). While HELD, HeldMinor counts in the line's held figure.
type Hold struct {
	ID       string
	BudgetID string // the revision the hold was placed under; its parent
	ChainID  string
	LineID   string
	// Amount is the whole value, in its own currency; PartMinor is the part of it (same
	// currency) that falls in the fiscal year, and HeldMinor that part in the budget currency.
	Amount       Amount
	PartMinor    int64
	HeldMinor    int64
	Rate         *RateUse
	ServiceStart Date
	ServiceEnd   Date
	// Date is the first day of the service period in the fiscal year: its month's rate converts
	// the part, its period is the hold's, and the commitment recorded from the hold expects its
	// money then.
	Date        Date
	Period      int
	Description string
	Source      CommitmentSource
	SourceRef   string
	ExpireTime  time.Time
	State       HoldState
	// CommitmentID and CommitmentBudgetID name the commitment recorded from the hold, once
	// CONVERTED.
	CommitmentID       string
	CommitmentBudgetID string
	Creator            string
	CreateTime         time.Time
	UpdateTime         time.Time
	Version            int64
}

// HoldInput is what a client places as a hold. A zero TTL means DefaultHoldTTL.
type HoldInput struct {
	LineID       string
	Amount       Amount
	ServiceStart Date
	ServiceEnd   Date
	Description  string
	Source       CommitmentSource
	SourceRef    string
	TTL          time.Duration
}

// Term is the share of a value for a service period that falls in a fiscal year.
type Term struct {
	// Part is the value's share, in the value's currency: value × days of the period inside the
	// year / days of the period, rounded half to even once.
	Part Amount
	// First is the period's first day inside the year, Period its fiscal period.
	First  Date
	Period int
}

// FiscalShare returns the share of value for the service period start–end (both days included)
// that falls in fiscal year fy of cal. Field names the request's message ("hold") for errors:
// the dates must be valid, the end not before the start, and the period must overlap the year
// (DATE_OUTSIDE_FISCAL_YEAR otherwise).
func FiscalShare(cal Calendar, fy int32, value Amount, start, end Date, field string) (Term, error) {
	var vs fault.Violations
	requireDate(&vs, field+".service_start_date", start)
	requireDate(&vs, field+".service_end_date", end)
	if err := vs.Err(); err != nil {
		return Term{}, err
	}
	if end.Before(start) {
		return Term{}, fault.Field(field+".service_end_date", "END_BEFORE_START", "service_end_date is before service_start_date")
	}
	first, last := cal.Bounds(fy)
	from, to := start, end
	if from.Before(first) {
		from = first
	}
	if last.Before(to) {
		to = last
	}
	if to.Before(from) {
		_, err := cal.CheckDate(fy, start, field+".service_start_date")
		if err == nil { // the period ends before the year starts
			_, err = cal.CheckDate(fy, end, field+".service_end_date")
		}
		return Term{}, err
	}
	period, err := cal.CheckDate(fy, from, field+".service_start_date")
	if err != nil {
		return Term{}, err
	}
	total, inside := days(start, end), days(from, to)
	part := value
	if inside != total {
		n := new(big.Int).Mul(big.NewInt(value.Minor), big.NewInt(inside))
		part.Minor = money.Saturate(money.RoundHalfEven(n, big.NewInt(total)))
	}
	return Term{Part: part, First: from, Period: period}, nil
}

// days is the number of days from a to b, both included.
func days(a, b Date) int64 { return int64(b.Time().Sub(a.Time())/(24*time.Hour)) + 1 }

// NewHold returns a HELD hold on the in-force revision b, placed at now. rate returns the
// exchange rate that converts the amount on a date (nil when none exists or none is needed):
// the date, the first day of the service period in the fiscal year, is known only here. The
// funds check under BLOCK is the caller's (CheckCommitFunds), as for a commitment.
func NewHold(id string, b *Budget, in HoldInput, rate func(Amount, Date) (*ExchangeRate, error), creator string, now time.Time) (*Hold, error) {
	if err := b.CheckSpendable(); err != nil {
		return nil, err
	}
	var vs fault.Violations
	if in.Amount.Minor <= 0 {
		vs.Add("hold.amount", "AMOUNT_NOT_POSITIVE", "amount must be positive")
	}
	if !in.Amount.Currency.Supported() {
		vs.Add("hold.amount", ErrCurrencyUnsupported.Reason, "the currency is not supported")
	}
	if in.Source == 0 {
		in.Source = CommitmentOther // the API's default, as for a commitment
	}
	if in.Source < CommitmentContract || in.Source > CommitmentOther {
		vs.Add("hold.source", "INVALID_VALUE", "source is not one of the defined values")
	}
	if in.TTL == 0 {
		in.TTL = DefaultHoldTTL
	}
	if in.TTL < MinHoldTTL || in.TTL > MaxHoldTTL {
		vs.Add("hold.ttl", "TTL_OUT_OF_RANGE", fmt.Sprintf("ttl must be from %s to %s", MinHoldTTL, MaxHoldTTL))
	}
	limitText(&vs, "hold.source_reference", in.SourceRef, maxExternalRef)
	limitText(&vs, "hold.description", in.Description, maxDescription)
	requireDate(&vs, "hold.service_start_date", in.ServiceStart)
	requireDate(&vs, "hold.service_end_date", in.ServiceEnd)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	term, err := FiscalShare(b.Calendar(), b.FiscalYear, in.Amount, in.ServiceStart, in.ServiceEnd, "hold")
	if err != nil {
		return nil, err
	}
	r, err := rate(term.Part, term.First)
	if err != nil {
		return nil, err
	}
	held, use, err := ConvertAt(term.Part, term.First, b.Currency, r)
	if err != nil {
		return nil, fault.OnField(err, "hold.amount")
	}
	now = now.UTC().Truncate(time.Microsecond)
	return &Hold{
		ID: id, BudgetID: b.ID, ChainID: b.ChainID, LineID: in.LineID, Amount: in.Amount, PartMinor: term.Part.Minor,
		HeldMinor: held, Rate: use, ServiceStart: in.ServiceStart, ServiceEnd: in.ServiceEnd, Date: term.First,
		Period: term.Period, Description: in.Description, Source: in.Source, SourceRef: strings.TrimSpace(in.SourceRef),
		ExpireTime: now.Add(in.TTL), State: HoldHeld, Creator: creator, CreateTime: now, UpdateTime: now, Version: 1,
	}, nil
}

// Holding reports whether the hold holds money: whether it counts in the line's held figure.
func (h *Hold) Holding() bool { return h.State == HoldHeld }

func (h *Hold) moveTo(s HoldState, now time.Time) {
	h.State = s
	h.Version++
	h.UpdateTime = now.UTC().Truncate(time.Microsecond)
}

func (h *Hold) notHeld(transition string) error {
	return ErrHoldNotHeld.With("hold", h.Name()).With("state", h.State.String()).With("transition", transition).
		Withf("cannot %s a hold in state %s", transition, h.State)
}

// Revalue converts a HELD hold's part in the fiscal year again with rate, a correction of the
// rate it was converted with, and returns the change of its held amount (minor units of the
// budget currency). changed is false, and nothing changes, when the hold is not held, was
// converted with another rate, or with the same value.
func (h *Hold) Revalue(rate *ExchangeRate, now time.Time) (delta int64, changed bool, err error) {
	if h.State != HoldHeld || !revalues(h.Rate, rate) {
		return 0, false, nil
	}
	held, use, err := ConvertWith(Amount{Minor: h.PartMinor, Currency: h.Amount.Currency}, rate.Use())
	if err != nil {
		return 0, false, err
	}
	delta = held - h.HeldMinor
	h.HeldMinor, h.Rate = held, use
	h.UpdateTime = now.UTC().Truncate(time.Microsecond)
	h.Version++
	return delta, true, nil
}

// Release releases a HELD hold: its money is available again.
func (h *Hold) Release(now time.Time) error {
	if h.State != HoldHeld {
		return h.notHeld("release")
	}
	h.moveTo(HoldReleased, now)
	return nil
}

// Expire lets a HELD hold lapse at now and reports whether it did; a hold in any other state
// stays as it is (it ended before its expiry).
func (h *Hold) Expire(now time.Time) bool {
	if h.State != HoldHeld {
		return false
	}
	h.moveTo(HoldExpired, now)
	return true
}

// Convert records that commitment commitmentID, recorded under revision budgetID, was made from
// the hold. A HELD hold converts, and so does an EXPIRED one: the change it was held for was
// committed before it lapsed, and its commitment must exist (ADR 0010).
func (h *Hold) Convert(budgetID, commitmentID string, now time.Time) error {
	if h.State != HoldHeld && h.State != HoldExpired {
		return h.notHeld("convert")
	}
	h.CommitmentBudgetID, h.CommitmentID = budgetID, commitmentID
	h.moveTo(HoldConverted, now)
	return nil
}

// Commitment returns the OPEN commitment recorded from the hold on the in-force revision b (the
// hold's chain): the hold's part of the amount, converted as the hold was, expected on its
// date. Convert the hold with the commitment's ID.
func (h *Hold) Commitment(id string, b *Budget, creator string, now time.Time) *Commitment {
	now = now.UTC().Truncate(time.Microsecond)
	return &Commitment{
		ID: id, BudgetID: b.ID, ChainID: h.ChainID, LineID: h.LineID,
		Amount: Amount{Minor: h.PartMinor, Currency: h.Amount.Currency}, ConvertedMinor: h.HeldMinor,
		RemainingMinor: h.HeldMinor, Rate: cloneRate(h.Rate), Date: h.Date, Period: h.Period,
		Description: h.Description, Source: h.Source, SourceRef: h.SourceRef, State: CommitmentOpen,
		HoldID: h.ID, HoldBudgetID: h.BudgetID, Creator: creator, CreateTime: now, UpdateTime: now, Version: 1,
	}
}
