//go:build unix

package briefing

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	briefingv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/briefing/v1"
	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/briefing/internal/model"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// fill applies h to the model in db directly, as the consumers would, a thousand events a
// transaction: the model of a company without waiting for NATS.
func fill(b *testing.B, db *sqldb.DB, h *history) { fillFrom(b, db, h, 0) }

// fillFrom is fill numbering the events' stream sequences from after seq.
func fillFrom(b testing.TB, db *sqldb.DB, h *history, after uint64) {
	b.Helper()
	ctx := context.Background()
	seq := map[string]uint64{"budget": after, "vendors": after, "risk": after, "talent": after}
	for start := 0; start < len(h.events); start += 1000 {
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			for _, e := range h.events[start:min(start+1000, len(h.events))] {
				spec, err := events.SpecOf(e.msg)
				if err != nil {
					return err
				}
				seq[spec.Domain]++
				ev := consumer.Event{ID: fmt.Sprintf("%s-%d", spec.Domain, seq[spec.Domain]), Type: spec.Type,
					Resource: e.resource, Version: e.version, Time: today, Message: e.msg, Sequence: seq[spec.Domain]}
				if err := model.Apply(ctx, tx, spec.Domain, ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBriefing measures GET /v1/briefing over the demo company ×10 (300 cost centres, 400
// vendors with 800 contracts, 600 risks, 1,500 incidents, 100 teams of 30 people with their
// positions and headcount plans): over REST through the grpc-gateway
// handler and marshaller the gateway mounts, and over gRPC, each through the service's full
// interceptor chain, one call at a time. It reports p50 and p99 in milliseconds besides the mean.
// Run it with a fixed number of calls, e.g. -benchtime 200x.
func BenchmarkBriefing(b *testing.B) {
	h := demo(10)
	for _, db := range testenv.Databases(b) {
		b.Run(db.Engine, func(b *testing.B) {
			s := testkit.Start(b, db, Service(), testkit.WithHostOptions(func(o *host.Options) { o.Clock = clock.NewFake(today) }))
			t0 := time.Now()
			model := s.DB(b)
			fill(b, model, h)
			b.Logf("%s: %d events applied in %s", db.Engine, len(h.events), time.Since(t0).Round(time.Millisecond))
			client := briefingv1.NewBriefingServiceClient(s.Conn)

			mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard,
				&runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: false}}))
			err := briefingv1.RegisterBriefingServiceHandlerFromEndpoint(context.Background(), mux, s.Addr,
				[]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), identitytest.DialOption()})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(mux)
			b.Cleanup(srv.Close)

			got, err := client.GetBriefing(context.Background(), &briefingv1.GetBriefingRequest{Name: "briefing", View: briefingv1.BriefingView_FULL})
			if err != nil {
				b.Fatal(err)
			}
			if n := got.GetBudget().GetCostCenterCount(); n != 300 {
				b.Fatalf("%d cost centres in the briefing; want 300", n)
			}
			b.Logf("%s: %d contracts in the notice window, %d renewals, %d risks above appetite, %d open incidents, %d open positions, %d headcount plans; %d bytes of FULL protobuf",
				db.Engine, got.GetVendors().GetInNoticeWindowCount(), got.GetVendors().GetRenewalCount(),
				got.GetRisks().GetAboveAppetiteCount(), got.GetIncidents().GetOpenCount(), got.GetTalent().GetOpenPositionCount(),
				got.GetTalent().GetHeadcountPlanCount(), proto.Size(got))

			rest := func(ctx context.Context) error {
				resp, err := http.Get(srv.URL + "/v1/briefing?view=BASIC")
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				n, err := io.Copy(io.Discard, resp.Body)
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET /v1/briefing?view=BASIC: %s", resp.Status)
				}
				b.SetBytes(n)
				return err
			}
			restFull := func(ctx context.Context) error {
				resp, err := http.Get(srv.URL + "/v1/briefing")
				if err != nil {
					return err
				}
				defer resp.Body.Close()
				n, err := io.Copy(io.Discard, resp.Body)
				if err == nil && resp.StatusCode != http.StatusOK {
					err = fmt.Errorf("GET /v1/briefing: %s", resp.Status)
				}
				b.SetBytes(n)
				return err
			}
			grpcCall := func(ctx context.Context) error {
				_, err := client.GetBriefing(ctx, &briefingv1.GetBriefingRequest{Name: "briefing", View: briefingv1.BriefingView_BASIC})
				return err
			}
			// Changed: an actual is applied before each call, so that each computes the
			// briefing from the model again, as while events flow.
			n := 0
			change := func() {
				n++
				more := newHistory()
				name := fmt.Sprintf("budgets/cc-0001-fy2027/lines/run/actuals/bench-%d", n)
				more.add(name, &budgetv1.ActualRecorded{Actual: &budgetv1.Actual{Name: name, Amount: eur(1),
					ConvertedAmount: eur(1), BookingDate: day(2027, 3, 1), Period: "FY2027-P03"}})
				fillFrom(b, model, more, uint64(len(h.events)+n))
			}
			b.Run("REST/FULL/changed", func(b *testing.B) { latenciesAfter(b, change, restFull) })
			b.Run("REST/FULL/unchanged", func(b *testing.B) { latencies(b, restFull) })
			b.Run("REST/BASIC/changed", func(b *testing.B) { latenciesAfter(b, change, rest) })
			b.Run("REST/BASIC/unchanged", func(b *testing.B) { latencies(b, rest) })
			b.Run("gRPC/BASIC/changed", func(b *testing.B) { latenciesAfter(b, change, grpcCall) })
			b.Run("gRPC/BASIC/unchanged", func(b *testing.B) { latencies(b, grpcCall) })
		})
	}
}

// latencies runs call b.N times one after the other and reports the p50 and p99 of its
// durations in milliseconds.
func latencies(b *testing.B, call func(ctx context.Context) error) { latenciesAfter(b, nil, call) }

// latenciesAfter is latencies with change run before each call, outside its duration.
func latenciesAfter(b *testing.B, change func(), call func(ctx context.Context) error) {
	ctx := context.Background()
	if err := call(ctx); err != nil { // warm the statement caches and the connection
		b.Fatal(err)
	}
	took := make([]time.Duration, 0, b.N)
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if change != nil {
			b.StopTimer()
			change()
			b.StartTimer()
		}
		c0, t0 := cpuTime(), time.Now()
		if err := call(ctx); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
		cpu += cpuTime() - c0
	}
	b.StopTimer()
	// The CPU the process spent per call, client and server together: what a call costs whatever
	// else the machine runs.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(took)), "cpu-ms/op")
	slices.Sort(took)
	at := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
