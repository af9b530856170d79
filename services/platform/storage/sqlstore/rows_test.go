package sqlstore_test

import (
	"database/sql"
	"slices"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

func TestDatesAndListsRoundTrip(t *testing.T) {
	t.Parallel()
	d := civil.Date{Year: 2027, Month: 3, Day: 9}
	stored := sqlstore.NullDate(d)
	if !stored.Valid || stored.String != "2027-03-09" {
		t.Errorf("NullDate(%v) = %+v", d, stored)
	}
	if got, err := sqlstore.DateOf(stored); err != nil || got != d {
		t.Errorf("DateOf(%+v) = %v, %v", stored, got, err)
	}
	if sqlstore.NullDate(civil.Date{}).Valid {
		t.Error("the zero date is stored as a value; want NULL")
	}
	if got, err := sqlstore.DateOf(sql.NullString{}); err != nil || !got.IsZero() {
		t.Errorf("DateOf(NULL) = %v, %v", got, err)
	}
	if _, err := sqlstore.DateOf(sql.NullString{String: "2027-02-30", Valid: true}); err == nil {
		t.Error("DateOf(2027-02-30) succeeded")
	}

	s, err := sqlstore.JSONList[string](nil)
	if err != nil || s != "[]" {
		t.Errorf("JSONList(nil) = %q, %v", s, err)
	}
	s, _ = sqlstore.JSONList([]string{"vendors/acme", "vendors/globex"})
	back, err := sqlstore.ListOf[string](s)
	if err != nil || !slices.Equal(back, []string{"vendors/acme", "vendors/globex"}) {
		t.Errorf("ListOf(%q) = %v, %v", s, back, err)
	}
	if back, err := sqlstore.ListOf[string]("[]"); err != nil || back != nil {
		t.Errorf(`ListOf("[]") = %#v, %v; want nil`, back, err)
	}
	if _, err := sqlstore.ListOf[string]("{"); err == nil {
		t.Error("ListOf of broken JSON succeeded")
	}
}
