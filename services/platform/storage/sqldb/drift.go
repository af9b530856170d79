package sqldb

import (
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// MigrationDrift compares the PostgreSQL and the SQLite migrations of one schema, file by file,
// after normalising what the two engines may say differently: comments and spacing, type names
// (TIMESTAMPTZ and TIMESTAMP, BIGINT and INTEGER, BYTEA and BLOB, an identity key and
// AUTOINCREMENT) and constraint names, which SQLite does not report. It returns a line per
// difference — a file one engine lacks, or the first statement of a file that differs — so that
// a test keeps the engines' migrations from drifting apart: a column added to one engine only is
// a difference.
//
// A change that the engines make differently — PostgreSQL adds a foreign key in place, SQLite
// must rebuild the table for it — says so in both twins with a comment line that starts with
// EngineSpecific and gives the reason. Such a pair is not compared statement by statement; the
// mark in one twin only is a difference.
func MigrationDrift(postgres, sqlite fs.FS) ([]string, error) {
	pg, err := readMigrations(postgres)
	if err != nil {
		return nil, fmt.Errorf("postgres migrations: %w", err)
	}
	lite, err := readMigrations(sqlite)
	if err != nil {
		return nil, fmt.Errorf("sqlite migrations: %w", err)
	}
	var diffs []string
	names := append(slices.Collect(maps.Keys(pg)), slices.Collect(maps.Keys(lite))...)
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		a, inPG := pg[name]
		b, inLite := lite[name]
		switch {
		case !inPG:
			diffs = append(diffs, name+": only in sqlite")
		case !inLite:
			diffs = append(diffs, name+": only in postgres")
		case a.specific != b.specific:
			diffs = append(diffs, fmt.Sprintf("%s: marked engine-specific in one engine only (postgres %v, sqlite %v)",
				name, a.specific, b.specific))
		case a.specific:
		default:
			if d := firstDifference(a.stmts, b.stmts); d != "" {
				diffs = append(diffs, name+": "+d)
			}
		}
	}
	return diffs, nil
}

// EngineSpecific starts the comment line of a migration that the engines make differently
// (MigrationDrift).
const EngineSpecific = "-- Engine-specific:"

// migration is a migration file's normalised statements, and whether it is marked
// EngineSpecific.
type migration struct {
	stmts    []string
	specific bool
}

// readMigrations returns the normalised statements of each .sql file at the root of fsys.
func readMigrations(fsys fs.FS) (map[string]migration, error) {
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	out := make(map[string]migration, len(files))
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		specific := false
		for line := range strings.Lines(string(b)) {
			specific = specific || strings.HasPrefix(strings.TrimSpace(line), EngineSpecific)
		}
		out[f] = migration{stmts: normaliseSQL(string(b)), specific: specific}
	}
	return out, nil
}

// sqlSpellings rewrite, in order, what the engines spell differently into one spelling.
var sqlSpellings = []struct {
	re *regexp.Regexp
	to string
}{
	{regexp.MustCompile(`--[^\n]*`), ""},
	{regexp.MustCompile(`\s+`), " "},
	{regexp.MustCompile(`(?i)\b(BIGINT GENERATED (ALWAYS|BY DEFAULT) AS IDENTITY|BIGSERIAL) PRIMARY KEY\b`),
		"INTEGER PRIMARY KEY AUTOINCREMENT"},
	{regexp.MustCompile(`(?i)\bTIMESTAMPTZ\b`), "TIMESTAMP"},
	{regexp.MustCompile(`(?i)\bBIGINT\b`), "INTEGER"},
	{regexp.MustCompile(`(?i)\bBYTEA\b`), "BLOB"},
	{regexp.MustCompile(`(?i)\bCONSTRAINT \w+ `), ""},
	{regexp.MustCompile(` ?([(),]) ?`), "$1"},
}

func normaliseSQL(s string) []string {
	for _, r := range sqlSpellings {
		s = r.re.ReplaceAllString(s, r.to)
	}
	var stmts []string
	for stmt := range strings.SplitSeq(s, ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			stmts = append(stmts, stmt)
		}
	}
	return stmts
}

// firstDifference describes where the statements a and b first differ, "" when they agree.
func firstDifference(a, b []string) string {
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			return fmt.Sprintf("statement %d only in sqlite: %.60s", i+1, b[i])
		case i >= len(b):
			return fmt.Sprintf("statement %d only in postgres: %.60s", i+1, a[i])
		case a[i] != b[i]:
			at := 0
			for at < min(len(a[i]), len(b[i])) && a[i][at] == b[i][at] {
				at++
			}
			at = max(0, at-20)
			return fmt.Sprintf("statement %d (%.40s…) differs: postgres …%.60s… sqlite …%.60s…", i+1, a[i], a[i][at:], b[i][at:])
		}
	}
	return ""
}
