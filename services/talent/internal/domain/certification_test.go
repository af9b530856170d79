package domain

import (
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

func TestCertificationRules(t *testing.T) {
	today := civil.Date{Year: 2026, Month: time.December, Day: 4}
	now := today.Time().Add(10 * time.Hour)
	ok := CertificationFields{DisplayName: " CKA ", Issuer: "CNCF", ObtainDate: civil.Date{Year: 2025, Month: 1, Day: 1},
		ExpireDate: civil.Date{Year: 2028, Month: 1, Day: 1}}
	for _, c := range []struct {
		name   string
		change func(*CertificationFields)
		fields []string
	}{
		{"valid", func(*CertificationFields) {}, nil},
		{"no expiry", func(f *CertificationFields) { f.ExpireDate = civil.Date{} }, nil},
		{"obtained today", func(f *CertificationFields) { f.ObtainDate = today }, nil},
		{"missing", func(f *CertificationFields) { *f = CertificationFields{} }, []string{"display_name", "issuer", "obtain_date"}},
		{"obtained tomorrow", func(f *CertificationFields) { f.ObtainDate = today.AddDays(1); f.ExpireDate = civil.Date{} }, []string{"obtain_date"}},
		{"expires the day obtained", func(f *CertificationFields) { f.ExpireDate = f.ObtainDate }, []string{"expire_date"}},
	} {
		f := ok
		c.change(&f)
		_, err := NewCertification("ada", "cka", f, today, now)
		var got []string
		if fe := fault.As(err); fe != nil {
			for _, v := range fe.Violations {
				got = append(got, v.Field)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(got, c.fields) {
			t.Errorf("%s: violations on %v; want %v", c.name, got, c.fields)
		}
	}

	cert, err := NewCertification("ada", "cka", ok, today, now)
	if err != nil || cert.DisplayName != "CKA" || cert.Name() != "people/ada/certifications/cka" || cert.Version != 1 {
		t.Fatalf("new = %+v, %v", cert, err)
	}
	// Expired from the start of the expiry date; the reminders are at the start of their days.
	if cert.Expired(civil.Date{Year: 2027, Month: 12, Day: 31}) || !cert.Expired(cert.ExpireDate) {
		t.Error("Expired is wrong around the expiry date")
	}
	if due := cert.ReminderDue(90); !due.Equal(time.Date(2027, 10, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("90-day reminder due %v", due)
	}
	// Apply reports what changed, moves the version only then, and leaves a bad change undone.
	next := ok
	next.ExpireDate = civil.Date{Year: 2029, Month: 1, Day: 1}
	changed, err := cert.Apply([]string{FieldDisplayName, CertFieldExpireDate}, next, today, now)
	if err != nil || !slices.Equal(changed, []string{CertFieldExpireDate}) || cert.Version != 2 {
		t.Errorf("apply = %v, %v, version %d", changed, err, cert.Version)
	}
	if changed, err := cert.Apply([]string{CertFieldExpireDate}, next, today, now); err != nil || changed != nil || cert.Version != 2 {
		t.Errorf("apply of the same values = %v, %v, version %d", changed, err, cert.Version)
	}
	next.ObtainDate = today.AddDays(3)
	_, err = cert.Apply([]string{CertFieldObtainDate}, next, today, now)
	if fe := fault.As(err); fe == nil || fe.Kind != fault.InvalidArgument {
		t.Errorf("apply of a future obtain date = %v", err)
	}
	if cert.ObtainDate != ok.ObtainDate {
		t.Errorf("a refused change was applied: %v", cert.ObtainDate)
	}
}
