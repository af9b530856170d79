package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
)

// reminders is the automation's effect and its memory at once: a JSON Lines file where each
// reminder carries the id of the event it came from. Writing the line is the one step that both
// applies an event and records it as applied, so they cannot disagree — the file-sized version
// of writing the effect and the event id in one database transaction.
type reminders struct {
	mu   sync.Mutex
	f    *os.File
	seen map[string]bool // event ids already reminded of
}

// openReminders opens the file, creating it, and reads the event ids it holds. A last line cut
// short by a crash during its write is removed: its event was not acknowledged and comes again.
func openReminders(path string) (*reminders, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("reminders: %w", err)
	}
	r := &reminders{f: f, seen: map[string]bool{}}
	if err := r.load(); err != nil {
		f.Close()
		return nil, fmt.Errorf("reminders %s: %w", path, err)
	}
	return r, nil
}

func (r *reminders) load() error {
	var whole int64 // bytes up to the end of the last complete line
	br := bufio.NewReader(r.f)
	for {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			break // line, if any, is incomplete
		}
		if err != nil {
			return err
		}
		var rem Reminder
		if err := json.Unmarshal(bytes.TrimSpace(line), &rem); err != nil || rem.EventID == "" {
			return fmt.Errorf("line at byte %d is not a reminder", whole)
		}
		r.seen[rem.EventID] = true
		whole += int64(len(line))
	}
	if err := r.f.Truncate(whole); err != nil {
		return err
	}
	_, err := r.f.Seek(whole, io.SeekStart)
	return err
}

// Add appends rem and flushes it to disk, unless a reminder of the same event is already there.
// It reports whether it wrote.
func (r *reminders) Add(rem Reminder) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[rem.EventID] {
		return false, nil
	}
	line, err := json.Marshal(rem)
	if err != nil {
		return false, err
	}
	end, err := r.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return false, err
	}
	_, err = r.f.Write(append(line, '\n'))
	if err == nil {
		err = r.f.Sync()
	}
	if err != nil {
		// Take back a line that may be half written, so that the next one starts clean.
		_ = r.f.Truncate(end)
		_, _ = r.f.Seek(end, io.SeekStart)
		return false, err
	}
	r.seen[rem.EventID] = true
	return true, nil
}

// Close closes the file.
func (r *reminders) Close() error { return r.f.Close() }
