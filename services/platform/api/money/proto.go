package money

import moneypb "google.golang.org/genproto/googleapis/type/money"

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
