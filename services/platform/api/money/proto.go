package money

import (
	moneypb "google.golang.org/genproto/googleapis/type/money"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// FromProto converts a request's google.type.Money into an exact amount; an empty currency code
// means fallback (e.g. the currency of the budget or contract the amount belongs to).
func FromProto(m *moneypb.Money, fallback Currency) (Amount, error) {
	return FromParts(m.GetUnits(), m.GetNanos(), m.GetCurrencyCode(), fallback)
}

// ToProto is a as google.type.Money.
func ToProto(a Amount) *moneypb.Money {
	units, nanos, code := a.Money()
	return &moneypb.Money{CurrencyCode: code, Units: units, Nanos: nanos}
}

// FromProtoField is FromProto for a field of a request: an error names field (fault.OnField), so
// the client learns which amount was wrong, e.g. "contract.total_value".
func FromProtoField(m *moneypb.Money, fallback Currency, field string) (Amount, error) {
	a, err := FromProto(m, fallback)
	if err != nil {
		return Amount{}, fault.OnField(err, field)
	}
	return a, nil
}
