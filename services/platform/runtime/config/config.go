// Package config loads a program's configuration into one struct from `default` tags, environment
// variables and command-line flags, so that every Quarterdeck binary is configured the same way:
// environment variables for containers and systemd units, flags for local runs and overrides.
//
// Each setting is declared once, on a struct field:
//
//	type Config struct {
//		HTTPAddr string `env:"HTTP_ADDR" default:"127.0.0.1:8080" help:"REST and gRPC listen address"`
//		NATS     struct {
//			URL string `env:"URL" default:"nats://127.0.0.1:4222" help:"NATS server URL"`
//		} `prefix:"NATS_"`
//	}
//
// The env tag yields both names (QUARTERDECK_HTTP_ADDR and --http-addr), so the two can never drift
// apart and every error and help line can name both.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// defaultPrefix is used when no prefix is given, so that the three binaries agree on their
// environment variable names without each repeating the prefix.
const defaultPrefix = "QUARTERDECK_"

// masked replaces secret values; a fixed width avoids leaking a secret's length into logs.
const masked = "********"

// ErrHelp is returned by Load after it printed the usage because -h or --help was given, so that
// callers can exit successfully instead of reporting a failure.
var ErrHelp = errors.New("config: help requested")

// ErrVersion is returned by Load after it printed the version because --version was given, so
// that callers can exit successfully without starting anything.
var ErrVersion = errors.New("config: version requested")

// Options controls Load. Only Args usually needs setting; the other fields exist so that tests and
// the three binaries can differ in name, environment and output without global state.
type Options struct {
	// Program is the name shown in the usage, e.g. "quarterdeck"; empty means the base name of os.Args[0].
	Program string
	// Description is one paragraph printed under the usage line, as given.
	Description string
	// Args are the command-line arguments without the program name, normally os.Args[1:].
	Args []string
	// Env looks up an environment variable; nil means os.LookupEnv. Tests pass a map lookup so
	// they neither depend on nor modify the process environment.
	Env func(string) (string, bool)
	// Prefix is prepended to every env tag; empty means "QUARTERDECK_".
	Prefix string
	// Output receives the --help text; nil means os.Stderr, keeping stdout free for command output.
	Output io.Writer
	// Vars fill the {name} placeholders of default and help tags, so that one struct can serve
	// several programs that differ in a default or a word: the binaries of the domain services
	// share their settings but not their port or schema. A placeholder without a value stays as
	// written.
	Vars map[string]string
	// Version, when set, adds --version, which prints "<Program> <Version>" to Stdout.
	Version string
	// Stdout receives the --version line; nil means os.Stdout, where scripts read it.
	Stdout io.Writer
}

// Setting describes one configuration value so that a program can log its effective
// configuration at startup without leaking credentials.
type Setting struct {
	// Name is the environment variable, including the prefix.
	Name string
	// Flag is the command-line flag including its dashes, e.g. "--http-addr".
	Flag string
	// Value is the effective value, masked for secrets and with URL passwords redacted.
	Value string
}

// kind is the small set of types a setting may have; keeping it closed lets help, parsing and
// formatting agree without a registry of converters.
type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindDuration
	kindList
)

// word is the type shown in --help.
func (k kind) word() string {
	switch k {
	case kindBool:
		return "bool"
	case kindInt:
		return "int"
	case kindDuration:
		return "duration"
	case kindList:
		return "list"
	default:
		return "string"
	}
}

var durationType = reflect.TypeFor[time.Duration]()

// kindOf maps a Go type to its kind. It goes by reflect.Kind rather than exact type so that
// named types such as `type Level string` work too; time.Duration is checked first because it is
// an int64 that must be parsed as a duration.
func kindOf(t reflect.Type) (kind, bool) {
	if t == durationType {
		return kindDuration, true
	}
	switch t.Kind() {
	case reflect.String:
		return kindString, true
	case reflect.Bool:
		return kindBool, true
	case reflect.Int, reflect.Int64:
		return kindInt, true
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return kindList, true
		}
	}
	return 0, false
}

// field is one flattened setting.
type field struct {
	path     string // Go path such as "Config.NATS.Port", for programming errors
	env      string // environment variable including all prefixes
	flag     string // flag name without dashes
	kind     kind
	def      string
	help     string
	secret   bool
	required bool
	value    reflect.Value
}

// names renders both ways of setting the field, the one the value came from first, so that an
// operator can find the offending setting whichever way it was given.
func (f *field) names(fromFlag bool) string {
	if fromFlag {
		return fmt.Sprintf("--%s (%s)", f.flag, f.env)
	}
	return fmt.Sprintf("%s (--%s)", f.env, f.flag)
}

// collect flattens the tagged fields of v. It returns every field it could use together with the
// programming errors it found, so that Load can refuse a broken struct while Describe can still
// log the usable part of one.
func collect(v reflect.Value, prefix string, vars map[string]string) ([]field, []error) {
	c := collector{envs: map[string]string{}, flags: map[string]string{}, vars: placeholders(vars)}
	root := v.Type().Name()
	if root == "" {
		root = "config"
	}
	c.walk(v, root, prefix, "")
	return c.fields, c.errs
}

type collector struct {
	fields []field
	errs   []error
	envs   map[string]string // env name -> Go path, to reject duplicates
	flags  map[string]string // flag name -> Go path; the flag package panics on duplicates
	vars   *strings.Replacer // fills the {name} placeholders of default and help tags
}

// placeholders replaces each {name} of vars by its value.
func placeholders(vars map[string]string) *strings.Replacer {
	var pairs []string
	for name, value := range vars {
		pairs = append(pairs, "{"+name+"}", value)
	}
	return strings.NewReplacer(pairs...)
}

func (c *collector) fail(format string, a ...any) {
	c.errs = append(c.errs, fmt.Errorf("config: "+format, a...))
}

// walk visits the fields of struct v; prefix is the Options prefix and inner the accumulated
// `prefix` tags, kept apart because only the latter shapes flag names.
func (c *collector) walk(v reflect.Value, path, prefix, inner string) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		fpath := path + "." + sf.Name
		env, tagged := sf.Tag.Lookup("env")
		if !tagged {
			// An unexported embedded struct is still walked: its exported fields are promoted and
			// settable, which is how encoding/json treats it too.
			if sf.Type.Kind() == reflect.Struct && (sf.IsExported() || sf.Anonymous) {
				c.walk(v.Field(i), fpath, prefix, inner+sf.Tag.Get("prefix"))
			}
			continue
		}
		name := inner + env
		if !validName(env) {
			c.fail("field %s: env tag %q must be non-empty and contain only letters, digits and underscores", fpath, env)
			continue
		}
		if !sf.IsExported() {
			c.fail("field %s has an env tag but is unexported, so it cannot be set", fpath)
			continue
		}
		k, ok := kindOf(sf.Type)
		if !ok {
			c.fail("field %s has unsupported type %s (supported: string, bool, int, int64, time.Duration, []string)", fpath, sf.Type)
			continue
		}
		f := field{
			path:     fpath,
			env:      prefix + name,
			flag:     strings.ToLower(strings.ReplaceAll(name, "_", "-")),
			kind:     k,
			def:      c.vars.Replace(sf.Tag.Get("default")),
			help:     c.vars.Replace(sf.Tag.Get("help")),
			secret:   sf.Tag.Get("secret") == "true",
			required: sf.Tag.Get("required") == "true",
			value:    v.Field(i),
		}
		if f.flag == "help" || f.flag == "h" {
			c.fail("field %s: flag --%s is reserved for the usage", fpath, f.flag)
			continue
		}
		if other, dup := c.envs[f.env]; dup {
			c.fail("fields %s and %s both use %s", other, fpath, f.env)
			continue
		}
		if other, dup := c.flags[f.flag]; dup {
			c.fail("fields %s and %s both use --%s", other, fpath, f.flag)
			continue
		}
		// A bad default would otherwise only surface when neither env nor flag is given, i.e. in
		// production after every test set the value explicitly.
		if _, msg := f.parse(f.def, true); msg != "" {
			c.fail("field %s: invalid default %q: %s", fpath, f.def, msg)
			continue
		}
		c.envs[f.env], c.flags[f.flag] = fpath, fpath
		c.fields = append(c.fields, f)
	}
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// parse converts raw to a value of the field's type, or returns what was expected. An empty
// default means "no default", i.e. the zero value, so that bools and ints need no default tag;
// an empty env var or flag, by contrast, is a value and must parse. Surrounding spaces are
// trimmed for non-string kinds because they are invisible in env files.
func (f *field) parse(raw string, isDefault bool) (reflect.Value, string) {
	t := f.value.Type()
	v := reflect.New(t).Elem()
	if isDefault && raw == "" {
		return v, ""
	}
	s := strings.TrimSpace(raw)
	switch f.kind {
	case kindString:
		v.SetString(raw)
	case kindBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return v, "expected true or false"
		}
		v.SetBool(b)
	case kindInt:
		n, err := strconv.ParseInt(s, 10, t.Bits())
		if errors.Is(err, strconv.ErrRange) {
			return v, fmt.Sprintf("expected an integer that fits in %d bits", t.Bits())
		}
		if err != nil {
			return v, "expected an integer"
		}
		v.SetInt(n)
	case kindDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return v, "expected a duration such as 500ms, 30s or 5m"
		}
		v.SetInt(int64(d))
	case kindList:
		items := []string{}
		for item := range strings.SplitSeq(raw, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items).Convert(t))
	}
	return v, ""
}

// flagValue records what was given on the command line without parsing it, so that Load can
// parse flags, env vars and defaults in one place with one error format.
type flagValue struct {
	raw    string
	set    bool
	isBool bool
}

func (v *flagValue) String() string   { return v.raw }
func (v *flagValue) IsBoolFlag() bool { return v.isBool }

func (v *flagValue) Set(s string) error {
	v.raw, v.set = s, true
	return nil
}

func (o Options) withDefaults() Options {
	if o.Program == "" {
		o.Program = filepath.Base(os.Args[0])
	}
	if o.Env == nil {
		o.Env = os.LookupEnv
	}
	if o.Prefix == "" {
		o.Prefix = defaultPrefix
	}
	if o.Output == nil {
		o.Output = os.Stderr
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	return o
}

// Load fills cfg (a non-nil pointer to a struct) from, in increasing precedence: the `default`
// tags, the environment, and the arguments. It returns the remaining positional arguments (for
// subcommands): flag parsing stops at the first non-flag argument or at "--".
//
// Every tagged field is reset to its default first, so that the tags are the single source of
// defaults and --help tells the truth. An environment variable that is set applies even when
// empty, because only then can an environment clear a string default. cfg is left untouched when
// Load fails, and all invalid and missing values are reported together so that an operator can
// fix them in one go.
func Load(cfg any, opts Options) (rest []string, err error) {
	opts = opts.withDefaults()
	rv := reflect.ValueOf(cfg)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("config: Load needs a non-nil pointer to a struct, got %T", cfg)
	}
	tmp := reflect.New(rv.Elem().Type()).Elem()
	tmp.Set(rv.Elem())
	fields, errs := collect(tmp, opts.Prefix, opts.Vars)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	fs := flag.NewFlagSet(opts.Program, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	given := make([]*flagValue, len(fields))
	for i := range fields {
		given[i] = &flagValue{isBool: fields[i].kind == kindBool}
		fs.Var(given[i], fields[i].flag, fields[i].help)
	}
	var version bool
	if opts.Version != "" && fs.Lookup("version") == nil {
		fs.BoolVar(&version, "version", false, "print the version and exit")
	}
	// Flags are parsed before anything else is checked so that --help works even when the
	// environment is broken, which is exactly when people ask for it.
	if err := fs.Parse(opts.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if err := writeUsage(opts, fields); err != nil {
				return nil, fmt.Errorf("config: writing usage: %w", err)
			}
			return nil, ErrHelp
		}
		return nil, flagError(err, fields, opts.Program)
	}
	if version {
		if _, err := fmt.Fprintf(opts.Stdout, "%s %s\n", opts.Program, opts.Version); err != nil {
			return nil, fmt.Errorf("config: writing the version: %w", err)
		}
		return nil, ErrVersion
	}

	for i := range fields {
		f := &fields[i]
		raw, isDefault, fromFlag := f.def, true, false
		// An empty variable counts as unset: compose files and CI systems pass unset variables
		// through as empty, and that must not wipe out a default.
		if v, ok := opts.Env(f.env); ok && v != "" {
			raw, isDefault = v, false
		}
		if given[i].set {
			raw, isDefault, fromFlag = given[i].raw, false, true
		}
		v, msg := f.parse(raw, isDefault)
		if msg != "" {
			errs = append(errs, fmt.Errorf("invalid value %q for %s: %s", raw, f.names(fromFlag), msg))
			continue
		}
		f.value.Set(v)
		if f.required && isEmpty(f) {
			errs = append(errs, fmt.Errorf("%s is required", f.names(false)))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rv.Elem().Set(tmp)
	return fs.Args(), nil
}

func isEmpty(f *field) bool {
	if f.kind == kindList {
		return f.value.Len() == 0
	}
	return f.value.IsZero()
}

// flagError rewrites the flag package's errors, which use single dashes and know nothing of
// environment variables, into the style of the rest of Load.
func flagError(err error, fields []field, program string) error {
	hint := fmt.Sprintf("run %q for the list of flags", program+" --help")
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag --%s; %s", name, hint)
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		for i := range fields {
			if fields[i].flag == name {
				return fmt.Errorf("%s needs a value; %s", fields[i].names(true), hint)
			}
		}
	}
	return fmt.Errorf("%s; %s", msg, hint)
}

// writeUsage prints the --help text. The env var sits next to each flag because in containers
// the environment is the main way to configure, and operators should not have to derive names.
func writeUsage(opts Options, fields []field) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [flags]\n\n", opts.Program)
	if d := strings.TrimSpace(opts.Description); d != "" {
		b.WriteString(d + "\n\n")
	}
	b.WriteString("Flags (every flag can also be set by the environment variable shown):\n")
	if opts.Version != "" {
		b.WriteString("  --version  print the version and exit\n")
	}
	width := 0
	for i := range fields {
		width = max(width, len(fields[i].flag)+len(fields[i].kind.word())+3)
	}
	for i := range fields {
		f := &fields[i]
		left := "--" + f.flag + " " + f.kind.word()
		fmt.Fprintf(&b, "  %-*s  %s\n", width, left, f.env)
		var notes []string
		if f.help != "" {
			notes = append(notes, strings.ReplaceAll(f.help, "\n", "\n        "))
		}
		if f.def != "" && !f.secret {
			if f.kind == kindString || f.kind == kindList {
				notes = append(notes, fmt.Sprintf("(default %q)", f.def))
			} else {
				notes = append(notes, fmt.Sprintf("(default %s)", f.def))
			}
		}
		if f.required {
			notes = append(notes, "(required)")
		}
		if len(notes) > 0 {
			b.WriteString("        " + strings.Join(notes, " ") + "\n")
		}
	}
	_, err := io.WriteString(opts.Output, b.String())
	return err
}

// Describe lists every setting of cfg (a struct or a pointer to one) with masked values, in field
// order, so that a program can log its effective configuration at startup. prefix is the env
// prefix, empty meaning "QUARTERDECK_" as in Load. Secrets that are set show as "********"; any
// other value that is a URL with a password has the password replaced, because connection strings
// often carry credentials without being tagged secret. Fields that Load would reject are left out.
func Describe(cfg any, prefix string) []Setting {
	if prefix == "" {
		prefix = defaultPrefix
	}
	rv := reflect.ValueOf(cfg)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil
	}
	fields, _ := collect(rv, prefix, nil)
	out := make([]Setting, 0, len(fields))
	for i := range fields {
		f := &fields[i]
		out = append(out, Setting{Name: f.env, Flag: "--" + f.flag, Value: describeValue(f)})
	}
	return out
}

// Changed is Describe's short form for a start-up log line: the settings of cfg whose values
// differ from their defaults, as environment variable name → value, masked like Describe. vars
// are the placeholder values given to Load (Options.Vars), so that a default such as "{domain}"
// compares as the program sees it.
func Changed(cfg any, prefix string, vars map[string]string) map[string]string {
	if prefix == "" {
		prefix = defaultPrefix
	}
	rv := reflect.ValueOf(cfg)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return nil
	}
	fields, _ := collect(rv, prefix, vars)
	out := map[string]string{}
	for i := range fields {
		f := &fields[i]
		def, msg := f.parse(f.def, true)
		if msg == "" && reflect.DeepEqual(def.Interface(), f.value.Interface()) {
			continue
		}
		out[f.env] = describeValue(f)
	}
	return out
}

func describeValue(f *field) string {
	v := f.value
	var items []string
	switch f.kind {
	case kindBool:
		items = []string{strconv.FormatBool(v.Bool())}
	case kindInt:
		items = []string{strconv.FormatInt(v.Int(), 10)}
	case kindDuration:
		items = []string{time.Duration(v.Int()).String()}
	case kindList:
		for i := range v.Len() {
			items = append(items, v.Index(i).String())
		}
	default:
		items = []string{v.String()}
	}
	// An unset secret is shown as unset, because "is the password configured at all?" is the
	// question such a log line usually answers.
	if f.secret && !isEmpty(f) {
		return masked
	}
	// Lists are redacted item by item because a list of server URLs may carry credentials in each.
	for i, item := range items {
		items[i] = redact(item)
	}
	return strings.Join(items, ",")
}

// redact hides the password of a URL such as postgres://app:secret@db/x and leaves anything
// else alone.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		return s
	}
	return u.Redacted()
}
