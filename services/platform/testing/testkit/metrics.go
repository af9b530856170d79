package testkit

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Metrics collects reader's metrics of one service — the points whose "service" attribute is
// service, as the relay, the sealer and the consumers label theirs — by instrument name: a sum
// adds up its points, a gauge keeps its last.
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
