package loadgen

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Row is one line of a results table.
type Row struct {
	Label  string
	Result Result
	Notes  string
}

// Table writes a markdown table with one line per row:
// | operation | rate/s | achieved/s | p50 | p90 | p99 | max | errors | notes |
// Durations are in milliseconds with 2 decimals; errors read "0" or "12 (UNAVAILABLE 10, timeout 2)",
// kinds by count, most first.
func Table(w io.Writer, rows []Row) error {
	var b strings.Builder
	b.WriteString("| operation | rate/s | achieved/s | p50 | p90 | p99 | max | errors | notes |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
	for _, row := range rows {
		r := row.Result
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			cell(row.Label), formatRate(r.Rate), formatRate(r.Throughput),
			FormatMs(r.P50), FormatMs(r.P90), FormatMs(r.P99), FormatMs(r.Max),
			FormatErrors(r), cell(row.Notes))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write results table: %w", err)
	}
	return nil
}

// FormatMs prints d in milliseconds with 2 decimals ("3.47").
func FormatMs(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

// FormatErrors prints r's error count, with the count of each kind when there are any:
// "0" or "12 (UNAVAILABLE 10, timeout 2)". Kinds are listed by count, most first, then by name.
func FormatErrors(r Result) string {
	if r.Errors == 0 {
		return "0"
	}
	type kc struct {
		kind string
		n    int
	}
	var ks []kc
	for k, n := range r.ErrorKinds {
		if n > 0 {
			ks = append(ks, kc{k, n})
		}
	}
	if len(ks) == 0 {
		return strconv.Itoa(r.Errors)
	}
	slices.SortFunc(ks, func(a, b kc) int {
		return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.kind, b.kind))
	})
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k.kind + " " + strconv.Itoa(k.n)
	}
	return fmt.Sprintf("%d (%s)", r.Errors, strings.Join(parts, ", "))
}

// formatRate prints a rate with one decimal, dropping a trailing ".0" ("200", "759.4").
func formatRate(f float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0")
}

// cell makes free text safe inside a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
