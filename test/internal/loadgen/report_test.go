package loadgen

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestTable(t *testing.T) {
	rows := []Row{
		{Label: "CreateInvoice", Notes: "gateway | REST", Result: Result{
			Rate: 759.375, Throughput: 741.25, Sent: 7594, OK: 7582, Errors: 12,
			ErrorKinds: map[string]int{"timeout": 2, "UNAVAILABLE": 10},
			P50:        3474 * time.Microsecond, P90: 12 * time.Millisecond, P99: 98765 * time.Microsecond, Max: 1500 * time.Millisecond,
		}},
		{Label: "GetContract", Result: Result{Rate: 200, Throughput: 200, OK: 200, P50: 500 * time.Microsecond,
			P90: 900 * time.Microsecond, P99: 2 * time.Millisecond, Max: 2005 * time.Microsecond}},
	}
	var b strings.Builder
	if err := Table(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := `| operation | rate/s | achieved/s | p50 | p90 | p99 | max | errors | notes |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |
| CreateInvoice | 759.4 | 741.2 | 3.47 | 12.00 | 98.77 | 1500.00 | 12 (UNAVAILABLE 10, timeout 2) | gateway \| REST |
| GetContract | 200 | 200 | 0.50 | 0.90 | 2.00 | 2.00 | 0 |  |
`
	if got := b.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTableWriteError(t *testing.T) {
	if err := Table(failWriter{}, nil); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err %v", err)
	}
}

func TestFormatMs(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                         "0.00",
		3470 * time.Microsecond:   "3.47",
		1234567 * time.Nanosecond: "1.23",
		2 * time.Second:           "2000.00",
	} {
		if got := FormatMs(d); got != want {
			t.Errorf("FormatMs(%v) = %q, want %q", d, got, want)
		}
	}
}
