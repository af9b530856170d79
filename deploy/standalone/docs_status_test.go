package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
)

// TestDocsStatuses checks every HTTP status the docs give for an error reason or a gRPC code
// against what the code does: a reason's status is the one its fault's kind maps to
// (fault.New(fault.<Kind>, "<REASON>", …) in the services and the gateway, through
// grpc-gateway's mapping). It reads the error tables (| `REASON` | 400 | … or
// | `REASON` | FAILED_PRECONDITION | …) and prose such as "fails with 409 `ETAG_MISMATCH`" or
// "`ABORTED`/409".
func TestDocsStatuses(t *testing.T) {
	kinds := faultKinds(t, "../../services", "../../gateway")
	if len(kinds) < 50 {
		t.Fatalf("found %d fault reasons in the code; the pattern no longer matches how they are declared", len(kinds))
	}
	codeOf := map[string]codes.Code{}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		codeOf[strings.ToUpper(snake(c.String()))] = c
	}

	var (
		row     = regexp.MustCompile("^\\|\\s*((?:`[A-Z][A-Z0-9_]+`[ ,]*)+)\\|\\s*([^|]+?)\\s*\\|")
		reason  = regexp.MustCompile("`([A-Z][A-Z0-9_]+)")
		before  = regexp.MustCompile("\\b([1-5][0-9][0-9])[ /]`([A-Z][A-Z0-9_]+)")
		after   = regexp.MustCompile("`([A-Z][A-Z0-9_]+)`/([1-5][0-9][0-9])\\b")
		checked int
	)
	docs, _ := filepath.Glob("../../docs/*.md")
	docs = append(docs, "../../README.md")
	for _, doc := range docs {
		raw, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			at := fmt.Sprintf("%s:%d", filepath.Base(doc), i+1)
			check := func(name, said string) {
				want, known := expected(name, kinds, codeOf)
				if !known {
					return
				}
				checked++
				if status, err := strconv.Atoi(strings.Fields(said)[0]); err == nil {
					if !slices.Contains(want, status) {
						t.Errorf("%s: %s is HTTP %v, the docs say %d", at, name, want, status)
					}
					return
				}
				// A code name instead of a status.
				c, ok := codeOf[strings.Fields(said)[0]]
				if !ok {
					checked--
					return
				}
				if s := runtime.HTTPStatusFromCode(c); !slices.Contains(want, s) {
					t.Errorf("%s: %s is HTTP %v, the docs say %s (%d)", at, name, want, said, s)
				}
			}
			if m := row.FindStringSubmatch(line); m != nil {
				for _, r := range reason.FindAllStringSubmatch(m[1], -1) {
					check(r[1], m[2])
				}
				continue
			}
			for _, m := range before.FindAllStringSubmatch(line, -1) {
				check(m[2], m[1])
			}
			for _, m := range after.FindAllStringSubmatch(line, -1) {
				check(m[1], m[2])
			}
		}
	}
	t.Logf("%d statuses checked", checked)
	if checked < 40 {
		t.Errorf("checked only %d statuses in the docs; the patterns no longer match how the docs write them", checked)
	}
}

// expected returns the HTTP statuses name may have: a reason's (one per kind it is declared
// with), or a gRPC code's.
func expected(name string, kinds map[string][]string, codeOf map[string]codes.Code) ([]int, bool) {
	if c, ok := codeOf[name]; ok {
		return []int{runtime.HTTPStatusFromCode(c)}, true
	}
	ks, ok := kinds[name]
	if !ok {
		return nil, false
	}
	var out []int
	for _, k := range ks {
		out = append(out, runtime.HTTPStatusFromCode(codeOf[strings.ToUpper(snake(k))]))
	}
	return out, true
}

// faultKinds maps each reason declared with fault.New in the Go files under roots to the kinds
// it is declared with.
func faultKinds(t *testing.T, roots ...string) map[string][]string {
	t.Helper()
	decl := regexp.MustCompile(`fault\.New\(\s*fault\.(\w+),\s*"([A-Z][A-Z0-9_]+)"`)
	out := map[string][]string{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
				if !slices.Contains(out[m[2]], m[1]) {
					out[m[2]] = append(out[m[2]], m[1])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// snake turns a Go or gRPC code name into its constant form: FailedPrecondition → Failed_Precondition.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return b.String()
}
