package testkit

import (
	"context"
	"fmt"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Metrics collects reader's metrics of one service — the points whose "service" attribute is
// service, as the relay, the sealer, the scheduler and the consumers label theirs — by instrument
// name: a sum adds up its points, a gauge keeps its last, a histogram counts its recordings.
func Metrics(t testing.TB, reader *sdkmetric.ManualReader, service string) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect metrics: %v", err)
	}
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				collect(out, m.Name, service, d.DataPoints, true)
			case metricdata.Gauge[int64]:
				collect(out, m.Name, service, d.DataPoints, false)
			case metricdata.Gauge[float64]:
				collect(out, m.Name, service, d.DataPoints, false)
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value("service"); v.AsString() == service {
						out[m.Name] += float64(p.Count)
					}
				}
			}
		}
	}
	return out
}

func collect[N int64 | float64](out map[string]float64, name, service string, points []metricdata.DataPoint[N], sum bool) {
	for _, p := range points {
		if v, _ := p.Attributes.Value("service"); v.AsString() != service {
			continue
		}
		if sum {
			out[name] += float64(p.Value)
		} else {
			out[name] = float64(p.Value)
		}
	}
}

// MeterProvider is a meter provider whose metrics reader collects, shut down when the test ends.
func MeterProvider(t testing.TB) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return mp, reader
}

// WaitMetrics waits until ok accepts reader's metrics of service (as Metrics reads them), failing
// the test after 20 s with what it waited for, and returns them.
func WaitMetrics(t testing.TB, reader *sdkmetric.ManualReader, service, what string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	var m map[string]float64
	Eventually(t, 20*time.Second, func() error {
		if m = Metrics(t, reader, service); !ok(m) {
			return fmt.Errorf("metrics never showed %s: %v", what, m)
		}
		return nil
	})
	return m
}
