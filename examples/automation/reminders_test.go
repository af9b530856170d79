package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestRemindersOncePerEvent checks the file's two jobs: a second reminder of one event is not
// written, in the same run or after a restart, and a line cut short by a crash is dropped so that
// its event, redelivered, is written whole.
func TestRemindersOncePerEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reminders.jsonl")
	r, err := openReminders(path)
	if err != nil {
		t.Fatal(err)
	}
	a := Reminder{EventID: "a", Contract: "vendors/v/contracts/c", CancelBy: "2027-01-03"}
	for i, want := range []bool{true, false} {
		if wrote, err := r.Add(a); err != nil || wrote != want {
			t.Fatalf("add %d: wrote %v, %v; want %v", i, wrote, err, want)
		}
	}
	r.Close()

	// A crash in the middle of the next line.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"eventId":"b","contr`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	r, err = openReminders(path)
	if err != nil {
		t.Fatalf("reopen after a torn line: %v", err)
	}
	defer r.Close()
	if wrote, err := r.Add(a); err != nil || wrote {
		t.Errorf("event a after a restart: wrote %v, %v; want no second reminder", wrote, err)
	}
	if wrote, err := r.Add(Reminder{EventID: "b"}); err != nil || !wrote {
		t.Errorf("event b, whose line was torn: wrote %v, %v; want it written", wrote, err)
	}
	if got := readReminders(t, path); len(got) != 2 || got[0] != a || got[1].EventID != "b" {
		t.Errorf("file holds %+v; want a then b", got)
	}
}
