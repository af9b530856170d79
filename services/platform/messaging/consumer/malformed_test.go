package consumer_test

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestMalformedEventsBecomeDeadLetters publishes events that a careless or hostile publisher
// could put on a stream — names with NUL or bytes that are not UTF-8, a payload that is not
// UTF-8, a handler error longer than a dead letter keeps, cut inside a character — and requires
// each to become a dead letter that the API can return, leaving nothing pending, and the event
// after them to be applied. On PostgreSQL, whose text takes neither NUL nor such bytes, none of
// them could be recorded before: each was delivered again for ever, holding one of the
// consumer's MaxAckPending places.
func TestMalformedEventsBecomeDeadLetters(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		long := strings.Repeat("é", 3000) // 6,000 bytes: cut at 4,000, between two characters
		rt, _ := e.start(t, e.js, fast, func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
			if ev.ID == "long-error" {
				return consumer.Permanent(errors.New(long))
			}
			return recordEffect(ctx, tx, ev)
		})
		type poison struct{ id, header, value string }
		var want []string // the dead letters' event ids, as the API returns them
		for _, p := range []poison{
			{"nul\x00id", "", ""},
			{"latin1\xe9id", "", ""},
			{"nul-type", events.HeaderType, "quarterdeck.budget.v1.\x00"},
			{"latin1-resource", events.HeaderSubject, "costCenters/caf\xe9"},
			{"payload-not-utf8", "", ""},
			{"long-error", "", ""},
		} {
			m := e.event(p.id, "costCenters/"+strconv.Itoa(len(want)), 1)
			m.Header.Set(events.HeaderMsgID, newID(t))
			if p.header != "" {
				m.Header.Set(p.header, p.value)
			}
			if p.id == "payload-not-utf8" {
				m.Data = []byte("{\"version\":\"1\xff\"}")
			}
			e.publish(t, m)
			// An id that is not text is kept quoted, with Go's escapes.
			if utf8.ValidString(p.id) && !strings.ContainsRune(p.id, 0) {
				want = append(want, p.id)
			} else {
				want = append(want, strconv.QuoteToASCII(p.id))
			}
		}
		good := newID(t)
		e.publish(t, e.event(good, "costCenters/good", 1))

		ctx := context.Background()
		var dls []*operationsv1.DeadLetter
		testkit.Eventually(t, 20*time.Second, func() bool {
			resp, err := rt.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/risk"})
			if err != nil {
				t.Fatal(err)
			}
			dls = resp.DeadLetters
			return len(dls) == len(want)
		})
		resp := &operationsv1.ListDeadLettersResponse{DeadLetters: dls}
		if _, err := proto.Marshal(resp); err != nil {
			t.Fatalf("the dead letters cannot be sent: %v", err)
		}
		var got []string
		for _, d := range dls {
			got = append(got, d.EventId)
			switch d.EventId {
			case "long-error":
				if len(d.Error) > 4000 || !strings.HasPrefix(long, d.Error) || len(d.Error) < 3990 {
					t.Errorf("the long error is kept as %d bytes: %.40q…", len(d.Error), d.Error)
				}
			case "payload-not-utf8":
				if d.Payload != "{\"version\":\"1\uFFFD\"}" {
					t.Errorf("payload = %q", d.Payload)
				}
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("dead letters of %q; want %q", got, want)
		}
		testkit.Eventually(t, 10*time.Second, func() bool {
			i := e.consumerInfo(t)
			return i != nil && i.NumAckPending == 0 && i.NumPending == 0
		})
		if c := effects(t, e.db); c.rows != 1 {
			t.Errorf("effects = %d; want the good event's alone", c.rows)
		}
	})
}
