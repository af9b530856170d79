package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
)

// eventType is the CloudEvents type of an event message.
func eventType(m proto.Message) string {
	s, err := events.SpecOf(m)
	if err != nil {
		panic(err) // the messages below are events
	}
	return s.Type
}

// counts maps a key to how many times it was found.
type counts map[string]int

// query runs a query of (key, count) rows on db.
func query(ctx context.Context, conn *pgx.Conn, sql string, args ...any) (counts, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := counts{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

func scalar(ctx context.Context, conn *pgx.Conn, sql string, args ...any) (int, error) {
	var n int
	err := conn.QueryRow(ctx, sql, args...).Scan(&n)
	return n, err
}

// dbs connects to every service's database.
func (c *cluster) dbs(ctx context.Context) (map[string]*pgx.Conn, func(), error) {
	out := map[string]*pgx.Conn{}
	closeAll := func() {
		for _, conn := range out {
			conn.Close(context.Background())
		}
	}
	for _, d := range domains {
		conn, err := pgx.Connect(ctx, c.dsn[d])
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		out[d] = conn
		// Each service keeps its tables in the schema named after its domain.
		if _, err := conn.Exec(ctx, "SET search_path = "+d); err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	return out, closeAll, nil
}

// pending is what the platform still owes after the load: unpublished outbox rows, and
// activations and assessments whose consumer's effect is not there yet. The run waits for it to
// reach zero before it checks.
func pending(ctx context.Context, db map[string]*pgx.Conn) (int, error) {
	total := 0
	for _, d := range domains {
		n, err := scalar(ctx, db[d], `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`)
		if err != nil {
			return 0, err
		}
		total += n
	}
	activated, err := query(ctx, db["vendors"], `SELECT resource_name, COUNT(*) FROM outbox WHERE event_type = $1 GROUP BY 1`, eventType(&vendorsv1.ContractActivated{}))
	if err != nil {
		return 0, err
	}
	committed, err := query(ctx, db["budget"], `SELECT source_ref, COUNT(*) FROM commitments WHERE source_ref <> '' GROUP BY 1`)
	if err != nil {
		return 0, err
	}
	for k := range activated {
		if committed[k] == 0 {
			total++
		}
	}
	completed, err := query(ctx, db["vendors"], `SELECT resource_name, COUNT(*) FROM outbox WHERE event_type = $1 GROUP BY 1`, eventType(&vendorsv1.AssessmentCompleted{}))
	if err != nil {
		return 0, err
	}
	scored, err := query(ctx, db["risk"], `SELECT cause, COUNT(*) FROM risk_score_changes WHERE cause <> '' GROUP BY 1`)
	if err != nil {
		return 0, err
	}
	for k := range completed {
		if scored[k] == 0 {
			total++
		}
	}
	return total, nil
}

// streamIDs reads every message of a domain's stream and counts its event IDs, and the messages
// that went out in an atomic batch.
func (c *cluster) streamIDs(ctx context.Context, domain string) (counts, int, error) {
	var (
		out     counts
		batched int
	)
	err := c.jetStream(ctx, func(js jetstream.JetStream) error {
		out, batched = counts{}, 0
		s, err := js.Stream(ctx, events.StreamName("quarterdeck", domain))
		if err != nil {
			return err
		}
		total := s.CachedInfo().State.Msgs
		if total == 0 {
			return nil
		}
		cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
		if err != nil {
			return err
		}
		var read uint64
		for read < total {
			batch, err := cons.Fetch(500, jetstream.FetchMaxWait(5*time.Second))
			if err != nil {
				return err
			}
			n := 0
			for m := range batch.Messages() {
				n++
				read++
				out[m.Headers().Get(events.HeaderID)]++
				if m.Headers().Get(events.HeaderBatchID) != "" {
					batched++
				}
			}
			if batch.Error() != nil {
				return batch.Error()
			}
			if n == 0 {
				return fmt.Errorf("stream %s: read %d of %d messages", domain, read, total)
			}
		}
		return nil
	})
	return out, batched, err
}

// check is one verdict.
type check struct {
	name   string
	ok     bool
	detail string
}

// verify compares what the clients were told with the databases, the streams and the consumers'
// effects.
func (c *cluster) verify(ctx context.Context, ack *acked, run string, sum *summary) error {
	db, closeAll, err := c.dbs(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	like := "Proof " + run + "-%"
	add := func(name string, bad []string, detail string) {
		ck := check{name: name, ok: len(bad) == 0, detail: detail}
		if len(bad) > 0 {
			sort.Strings(bad)
			if len(bad) > 5 {
				bad = append(bad[:5], fmt.Sprintf("… %d in all", len(bad)))
			}
			ck.detail += "; " + strings.Join(bad, ", ")
		}
		sum.Checks = append(sum.Checks, ck)
	}

	// 1. Every acknowledged write is present exactly once (and nothing the run wrote is there twice).
	once := func(name string, conn *pgx.Conn, byName, byDisplay string, want map[string]string) error {
		got, err := query(ctx, conn, byName, like)
		if err != nil {
			return err
		}
		display, err := query(ctx, conn, byDisplay, like)
		if err != nil {
			return err
		}
		var bad []string
		for k := range want {
			if got[k] != 1 {
				bad = append(bad, fmt.Sprintf("%s ×%d", k, got[k]))
			}
		}
		for k, n := range display {
			if n > 1 {
				bad = append(bad, fmt.Sprintf("%q written %d times", k, n))
			}
		}
		add(name, bad, fmt.Sprintf("%d acknowledged, %d rows of the run", len(want), sumOf(display)))
		sum.Acked[strings.TrimSuffix(name, " present exactly once")] = len(want)
		return nil
	}
	ack.mu.Lock()
	defer ack.mu.Unlock()
	if err := once("cost centres present exactly once", db["budget"],
		`SELECT 'costCenters/' || id, COUNT(*) FROM cost_centers WHERE display_name LIKE $1 GROUP BY 1`,
		`SELECT display_name, COUNT(*) FROM cost_centers WHERE display_name LIKE $1 GROUP BY 1`, ack.costCenters); err != nil {
		return err
	}
	if err := once("risks present exactly once", db["risk"],
		`SELECT 'risks/' || id, COUNT(*) FROM risks WHERE title LIKE $1 GROUP BY 1`,
		`SELECT title, COUNT(*) FROM risks WHERE title LIKE $1 GROUP BY 1`, ack.risks); err != nil {
		return err
	}
	vendorNames := map[string]string{}
	for v := range ack.assessed {
		vendorNames[v] = v
	}
	if err := once("vendors present exactly once", db["vendors"],
		`SELECT 'vendors/' || id, COUNT(*) FROM vendors WHERE display_name LIKE $1 GROUP BY 1`,
		`SELECT display_name, COUNT(*) FROM vendors WHERE display_name LIKE $1 GROUP BY 1`, vendorNames); err != nil {
		return err
	}
	if err := once("teams present exactly once", db["talent"],
		`SELECT 'teams/' || id, COUNT(*) FROM teams WHERE display_name LIKE $1 GROUP BY 1`,
		`SELECT display_name, COUNT(*) FROM teams WHERE display_name LIKE $1 GROUP BY 1`, ack.teams); err != nil {
		return err
	}
	contracts := map[string]string{}
	for k := range ack.contracts {
		contracts[k] = k
	}
	if err := once("contracts present exactly once", db["vendors"],
		`SELECT 'vendors/' || vendor_id || '/contracts/' || id, COUNT(*) FROM contracts WHERE title LIKE $1 GROUP BY 1`,
		`SELECT title, COUNT(*) FROM contracts WHERE title LIKE $1 GROUP BY 1`, contracts); err != nil {
		return err
	}
	var bad []string

	// 2. Every event exactly once in its stream, and each acknowledged write has its event.
	for _, d := range domains {
		ids, err := query(ctx, db[d], `SELECT event_id, 1 FROM outbox`)
		if err != nil {
			return err
		}
		inStream, batched, err := c.streamIDs(ctx, d)
		if err != nil {
			return err
		}
		var bad []string
		for id := range ids {
			if inStream[id] != 1 {
				bad = append(bad, fmt.Sprintf("%s ×%d", id, inStream[id]))
			}
		}
		for id, n := range inStream {
			if ids[id] == 0 {
				bad = append(bad, fmt.Sprintf("%s in the stream, not in the outbox (×%d)", id, n))
			}
		}
		add(d+": every event exactly once in its stream", bad, fmt.Sprintf("%d events written, %d in the stream, %d of them in atomic batches",
			len(ids), len(inStream), batched))
		sum.Events[d] = len(ids)
	}
	eventOf := func(name string, conn *pgx.Conn, typ string, want map[string]string) error {
		got, err := query(ctx, conn, `SELECT resource_name, COUNT(*) FROM outbox WHERE event_type = $1 GROUP BY 1`, typ)
		if err != nil {
			return err
		}
		var bad []string
		for res := range want {
			if got[res] != 1 {
				bad = append(bad, fmt.Sprintf("%s ×%d", res, got[res]))
			}
		}
		add(name, bad, fmt.Sprintf("%d acknowledged", len(want)))
		return nil
	}
	if err := eventOf("one cost_center.created per cost centre", db["budget"], eventType(&budgetv1.CostCenterCreated{}), ack.costCenters); err != nil {
		return err
	}
	if err := eventOf("one risk.identified per risk", db["risk"], eventType(&riskv1.RiskIdentified{}), ack.risks); err != nil {
		return err
	}
	if err := eventOf("one team.created per team", db["talent"], eventType(&talentv1.TeamCreated{}), ack.teams); err != nil {
		return err
	}
	if err := eventOf("one contract.activated per approval", db["vendors"], eventType(&vendorsv1.ContractActivated{}), contracts); err != nil {
		return err
	}
	assessments := map[string]string{}
	for _, a := range ack.assessed {
		assessments[a] = a
	}
	if err := eventOf("one assessment.completed per completion", db["vendors"], eventType(&vendorsv1.AssessmentCompleted{}), assessments); err != nil {
		return err
	}

	// 3. One effect per event in each consumer: a commitment per activated contract (budget), a
	// vendor risk and one score change per completed assessment (risk).
	activated, err := query(ctx, db["vendors"], `SELECT resource_name, COUNT(*) FROM outbox WHERE event_type = $1 GROUP BY 1`, eventType(&vendorsv1.ContractActivated{}))
	if err != nil {
		return err
	}
	committed, err := query(ctx, db["budget"], `SELECT source_ref, COUNT(*) FROM commitments WHERE source_ref <> '' GROUP BY 1`)
	if err != nil {
		return err
	}
	bad = nil
	for k := range activated {
		if committed[k] != 1 {
			bad = append(bad, fmt.Sprintf("%s: %d commitments", k, committed[k]))
		}
	}
	for k, n := range committed {
		if n > 1 {
			bad = append(bad, fmt.Sprintf("%s: %d commitments", k, n))
		}
	}
	add("budget: one commitment per contract.activated", bad, fmt.Sprintf("%d activations, %d commitments", len(activated), sumOf(committed)))
	sum.Effects["budget commitments"] = sumOf(committed)

	completed, err := query(ctx, db["vendors"], `SELECT resource_name, COUNT(*) FROM outbox WHERE event_type = $1 GROUP BY 1`, eventType(&vendorsv1.AssessmentCompleted{}))
	if err != nil {
		return err
	}
	scored, err := query(ctx, db["risk"], `SELECT cause, COUNT(*) FROM risk_score_changes WHERE cause <> '' GROUP BY 1`)
	if err != nil {
		return err
	}
	risks, err := query(ctx, db["risk"], `SELECT source, COUNT(*) FROM risks WHERE source <> '' GROUP BY 1`)
	if err != nil {
		return err
	}
	bad = nil
	for k := range completed {
		if scored[k] != 1 {
			bad = append(bad, fmt.Sprintf("%s: %d score changes", k, scored[k]))
		}
		vendor, _, _ := strings.Cut(k, "/assessments/")
		if risks[vendor] != 1 {
			bad = append(bad, fmt.Sprintf("%s: %d vendor risks", vendor, risks[vendor]))
		}
	}
	add("risk: one vendor risk and one score change per assessment.completed", bad,
		fmt.Sprintf("%d completions, %d vendor risks, %d score changes", len(completed), sumOf(risks), sumOf(scored)))
	sum.Effects["vendor risks"] = sumOf(risks)

	// 4. Nothing stranded: no unpublished outbox row, no dead letter, no overdue scheduler item.
	bad = nil
	for _, d := range domains {
		for _, q := range []struct{ what, sql string }{
			{"unpublished outbox rows", `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`},
			{"dead letters", `SELECT COUNT(*) FROM consumer_dead_letters`},
			{"overdue scheduler items", `SELECT COUNT(*) FROM scheduled_items WHERE fired_at IS NULL AND failed_at IS NULL AND next_at < now() - interval '30 seconds'`},
		} {
			n, err := scalar(ctx, db[d], q.sql)
			if err != nil && strings.Contains(err.Error(), "does not exist") {
				continue // the service has no such table
			}
			if err != nil {
				return err
			}
			if n > 0 {
				bad = append(bad, fmt.Sprintf("%s: %d %s", d, n, q.what))
			}
		}
	}
	add("nothing stranded (outbox, dead letters, scheduler)", bad, "every service")
	return nil
}

func sumOf(c counts) int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}
