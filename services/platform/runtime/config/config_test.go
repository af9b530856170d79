package config

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

type tlsConfig struct {
	Cert string `env:"CERT" help:"client certificate file"`
}

type natsConfig struct {
	URL  string    `env:"URL" default:"nats://127.0.0.1:4222" help:"NATS server URL"`
	Port int       `env:"PORT" default:"4222" help:"NATS client port"`
	TLS  tlsConfig `prefix:"TLS_"`
}

type Common struct {
	LogLevel string `env:"LOG_LEVEL" default:"info" help:"log level: debug, info, warn or error"`
}

type testConfig struct {
	Common
	HTTPAddr string        `env:"HTTP_ADDR" default:"127.0.0.1:8080" help:"REST and gRPC listen address"`
	Debug    bool          `env:"DEBUG" help:"enable debug endpoints"`
	Workers  int           `env:"WORKERS" default:"4" help:"worker goroutines"`
	MaxBytes int64         `env:"MAX_BYTES" default:"1048576" help:"largest request body"`
	Timeout  time.Duration `env:"TIMEOUT" default:"30s" help:"request timeout"`
	Peers    []string      `env:"PEERS" default:"a, b" help:"peer addresses"`
	NATS     natsConfig    `prefix:"NATS_"`
	APIKey   string        `env:"API_KEY" default:"dev-key-123" secret:"true" help:"API key"`
	Ignored  string
}

// defaults is what Load must produce when neither env nor flags say anything.
func defaults() testConfig {
	return testConfig{
		Common:   Common{LogLevel: "info"},
		HTTPAddr: "127.0.0.1:8080",
		Workers:  4,
		MaxBytes: 1048576,
		Timeout:  30 * time.Second,
		Peers:    []string{"a", "b"},
		NATS:     natsConfig{URL: "nats://127.0.0.1:4222", Port: 4222},
		APIKey:   "dev-key-123",
	}
}

type requiredConfig struct {
	DatabaseURL string `env:"DATABASE_URL" required:"true" secret:"true" help:"PostgreSQL URL"`
}

// envOf returns an Env function backed by m so that tests never touch the process environment.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestLoadPrecedenceAndTypes(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want func(*testConfig)
	}{
		{name: "defaults only", want: func(*testConfig) {}},
		{
			name: "env overrides every type",
			env: map[string]string{
				"QUARTERDECK_LOG_LEVEL":     "debug",
				"QUARTERDECK_HTTP_ADDR":     ":9000",
				"QUARTERDECK_DEBUG":         "true",
				"QUARTERDECK_WORKERS":       "8",
				"QUARTERDECK_MAX_BYTES":     "9000000000",
				"QUARTERDECK_TIMEOUT":       "1m30s",
				"QUARTERDECK_PEERS":         " x , ,y,, z ",
				"QUARTERDECK_NATS_URL":      "nats://nats:4222",
				"QUARTERDECK_NATS_PORT":     "4333",
				"QUARTERDECK_NATS_TLS_CERT": "/etc/cert.pem",
				"QUARTERDECK_API_KEY":       "prod",
			},
			want: func(c *testConfig) {
				c.LogLevel, c.HTTPAddr, c.Debug, c.Workers = "debug", ":9000", true, 8
				c.MaxBytes, c.Timeout, c.Peers = 9000000000, 90*time.Second, []string{"x", "y", "z"}
				c.NATS = natsConfig{URL: "nats://nats:4222", Port: 4333, TLS: tlsConfig{Cert: "/etc/cert.pem"}}
				c.APIKey = "prod"
			},
		},
		{
			name: "flags override env for every type",
			env: map[string]string{
				"QUARTERDECK_LOG_LEVEL": "debug", "QUARTERDECK_HTTP_ADDR": ":9000", "QUARTERDECK_DEBUG": "true",
				"QUARTERDECK_WORKERS": "8", "QUARTERDECK_MAX_BYTES": "1", "QUARTERDECK_TIMEOUT": "1s",
				"QUARTERDECK_PEERS": "x", "QUARTERDECK_NATS_PORT": "4333", "QUARTERDECK_NATS_TLS_CERT": "env.pem",
			},
			args: []string{
				"--log-level", "warn", "--http-addr=:7000", "--debug=false", "-workers", "2",
				"--max-bytes=42", "--timeout", "250ms", "--peers=p1,p2", "--nats-port", "5000",
				"--nats-tls-cert", "flag.pem",
			},
			want: func(c *testConfig) {
				c.LogLevel, c.HTTPAddr, c.Debug, c.Workers = "warn", ":7000", false, 2
				c.MaxBytes, c.Timeout, c.Peers = 42, 250*time.Millisecond, []string{"p1", "p2"}
				c.NATS.Port, c.NATS.TLS.Cert = 5000, "flag.pem"
			},
		},
		{
			name: "bare bool flag sets true",
			args: []string{"--debug"},
			want: func(c *testConfig) { c.Debug = true },
		},
		{
			name: "single-dash bool flag sets true",
			args: []string{"-debug"},
			want: func(c *testConfig) { c.Debug = true },
		},
		{
			name: "env set but empty keeps the defaults",
			env:  map[string]string{"QUARTERDECK_HTTP_ADDR": "", "QUARTERDECK_PEERS": "", "QUARTERDECK_WORKERS": ""},
			want: func(c *testConfig) {},
		},
		{
			name: "flag set to empty clears an env value",
			env:  map[string]string{"QUARTERDECK_LOG_LEVEL": "debug"},
			args: []string{"--log-level="},
			want: func(c *testConfig) { c.LogLevel = "" },
		},
		{
			name: "spaces around scalar env values are ignored",
			env:  map[string]string{"QUARTERDECK_WORKERS": " 16 ", "QUARTERDECK_DEBUG": " 1", "QUARTERDECK_TIMEOUT": "2s "},
			want: func(c *testConfig) { c.Workers, c.Debug, c.Timeout = 16, true, 2*time.Second },
		},
		{
			name: "negative integers",
			args: []string{"--workers", "-3"},
			want: func(c *testConfig) { c.Workers = -3 },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got testConfig
			rest, err := Load(&got, Options{Program: "quarterdeck", Args: tt.args, Env: envOf(tt.env)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(rest) != 0 {
				t.Errorf("rest = %q, want none", rest)
			}
			want := defaults()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("config mismatch\n got: %+v\nwant: %+v", got, want)
			}
		})
	}
}

func TestLoadResetsTaggedFieldsAndKeepsUntagged(t *testing.T) {
	cfg := testConfig{Ignored: "kept", Workers: 99, Debug: true}
	if _, err := Load(&cfg, Options{Env: envOf(nil)}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := defaults()
	want.Ignored = "kept"
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("config mismatch\n got: %+v\nwant: %+v", cfg, want)
	}
}

func TestLoadCustomPrefix(t *testing.T) {
	var cfg testConfig
	env := map[string]string{"BUDGET_NATS_PORT": "1", "QUARTERDECK_NATS_PORT": "2"}
	if _, err := Load(&cfg, Options{Prefix: "BUDGET_", Env: envOf(env)}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.NATS.Port != 1 {
		t.Errorf("NATS.Port = %d, want 1 from BUDGET_NATS_PORT", cfg.NATS.Port)
	}
}

func TestLoadDefaultsToProcessEnvironment(t *testing.T) {
	t.Setenv("QUARTERDECK_WORKERS", "7")
	var cfg testConfig
	if _, err := Load(&cfg, Options{}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Workers != 7 {
		t.Errorf("Workers = %d, want 7 from the process environment", cfg.Workers)
	}
}

func TestLoadRest(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "no arguments", args: nil, want: []string{}},
		{name: "subcommand after flags", args: []string{"--http-addr", ":1", "migrate"}, want: []string{"migrate"}},
		{name: "flags after the subcommand belong to it", args: []string{"migrate", "--steps", "2"}, want: []string{"migrate", "--steps", "2"}},
		{name: "double dash ends flags", args: []string{"--debug", "--", "--http-addr"}, want: []string{"--http-addr"}},
		{name: "bool flag does not swallow the subcommand", args: []string{"--debug", "serve"}, want: []string{"serve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg testConfig
			rest, err := Load(&cfg, Options{Args: tt.args, Env: envOf(nil)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(rest) != len(tt.want) || (len(rest) > 0 && !reflect.DeepEqual(rest, tt.want)) {
				t.Errorf("rest = %q, want %q", rest, tt.want)
			}
		})
	}
}

func TestLoadRequired(t *testing.T) {
	const missing = "QUARTERDECK_DATABASE_URL (--database-url) is required"
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    string
		wantErr string
	}{
		{name: "missing everywhere", wantErr: missing},
		{name: "empty env", env: map[string]string{"QUARTERDECK_DATABASE_URL": ""}, wantErr: missing},
		{name: "flag clears env", env: map[string]string{"QUARTERDECK_DATABASE_URL": "postgres://db"}, args: []string{"--database-url="}, wantErr: missing},
		{name: "from env", env: map[string]string{"QUARTERDECK_DATABASE_URL": "postgres://db"}, want: "postgres://db"},
		{name: "from flag", args: []string{"--database-url", "sqlite://x"}, want: "sqlite://x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg requiredConfig
			_, err := Load(&cfg, Options{Args: tt.args, Env: envOf(tt.env)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.DatabaseURL != tt.want {
				t.Errorf("DatabaseURL = %q, want %q", cfg.DatabaseURL, tt.want)
			}
		})
	}
}

func TestLoadBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{
			name: "int from env",
			env:  map[string]string{"QUARTERDECK_NATS_PORT": "abc"},
			want: []string{`invalid value "abc" for QUARTERDECK_NATS_PORT (--nats-port): expected an integer`},
		},
		{
			name: "int from flag",
			args: []string{"--workers", "four"},
			want: []string{`invalid value "four" for --workers (QUARTERDECK_WORKERS): expected an integer`},
		},
		{
			name: "int not base 10",
			args: []string{"--workers=0x10"},
			want: []string{`--workers (QUARTERDECK_WORKERS)`, "expected an integer"},
		},
		{
			name: "int64 overflow",
			env:  map[string]string{"QUARTERDECK_MAX_BYTES": "99999999999999999999"},
			want: []string{`QUARTERDECK_MAX_BYTES (--max-bytes)`, "fits in 64 bits"},
		},
		{
			name: "bool from env",
			env:  map[string]string{"QUARTERDECK_DEBUG": "yes"},
			want: []string{`invalid value "yes" for QUARTERDECK_DEBUG (--debug): expected true or false`},
		},
		{
			name: "bool from flag",
			args: []string{"--debug=maybe"},
			want: []string{`invalid value "maybe" for --debug (QUARTERDECK_DEBUG): expected true or false`},
		},
		{
			name: "duration without unit",
			env:  map[string]string{"QUARTERDECK_TIMEOUT": "30"},
			want: []string{`invalid value "30" for QUARTERDECK_TIMEOUT (--timeout): expected a duration`},
		},
		{
			name: "every bad value is reported at once",
			env:  map[string]string{"QUARTERDECK_TIMEOUT": "soon", "QUARTERDECK_NATS_PORT": "x"},
			args: []string{"--workers", "many"},
			want: []string{"QUARTERDECK_TIMEOUT (--timeout)", "QUARTERDECK_NATS_PORT (--nats-port)", "--workers (QUARTERDECK_WORKERS)"},
		},
		{
			name: "unknown flag",
			args: []string{"--nope", "1"},
			want: []string{"unknown flag --nope", "--help"},
		},
		{
			name: "unknown single-dash flag",
			args: []string{"-x"},
			want: []string{"unknown flag --x", `"quarterdeck --help"`},
		},
		{
			name: "flag without its value",
			args: []string{"--nats-port"},
			want: []string{"--nats-port (QUARTERDECK_NATS_PORT) needs a value", "--help"},
		},
		{
			name: "bad flag syntax",
			args: []string{"---x"},
			want: []string{"bad flag syntax", "--help"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig{Ignored: "untouched"}
			rest, err := Load(&cfg, Options{Program: "quarterdeck", Args: tt.args, Env: envOf(tt.env)})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			if errors.Is(err, ErrHelp) {
				t.Fatalf("err = %v, must not be ErrHelp", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if rest != nil {
				t.Errorf("rest = %q, want nil on error", rest)
			}
			if !reflect.DeepEqual(cfg, testConfig{Ignored: "untouched"}) {
				t.Errorf("cfg was modified by a failed Load: %+v", cfg)
			}
		})
	}
}

func TestLoadProgrammingErrors(t *testing.T) {
	var unsupportedFloat struct {
		Ratio float64 `env:"RATIO"`
	}
	var unsupportedMap struct {
		Labels map[string]string `env:"LABELS"`
	}
	var unsupportedPointer struct {
		Name *string `env:"NAME"`
	}
	var taggedStruct struct {
		NATS natsConfig `env:"NATS"`
	}
	var unexported struct {
		secret string `env:"SECRET"`
	}
	var duplicate struct {
		A string `env:"ADDR"`
		B struct {
			C string `env:"ADDR"`
		}
	}
	var sameFlag struct {
		A string `env:"HTTP_ADDR"`
		B string `env:"http_addr"`
	}
	var badDefault struct {
		Port int `env:"PORT" default:"eighty"`
	}
	var badName struct {
		A string `env:"HTTP-ADDR"`
	}
	var emptyName struct {
		A string `env:""`
	}
	var reserved struct {
		Help bool `env:"HELP"`
	}
	var notPointer testConfig
	var nilPointer *testConfig
	var notStruct int

	tests := []struct {
		name string
		cfg  any
		want []string
	}{
		{name: "float", cfg: &unsupportedFloat, want: []string{"Ratio", "float64", "unsupported"}},
		{name: "map", cfg: &unsupportedMap, want: []string{"Labels", "unsupported"}},
		{name: "pointer field", cfg: &unsupportedPointer, want: []string{"Name", "*string"}},
		{name: "struct with env tag", cfg: &taggedStruct, want: []string{"NATS", "unsupported"}},
		{name: "unexported", cfg: &unexported, want: []string{"secret", "unexported"}},
		{name: "duplicate env", cfg: &duplicate, want: []string{".A", "B.C", "QUARTERDECK_ADDR"}},
		{name: "duplicate flag", cfg: &sameFlag, want: []string{".A", ".B", "--http-addr"}},
		{name: "bad default", cfg: &badDefault, want: []string{"Port", `invalid default "eighty"`, "expected an integer"}},
		{name: "bad env name", cfg: &badName, want: []string{".A", `"HTTP-ADDR"`}},
		{name: "empty env name", cfg: &emptyName, want: []string{".A", "env tag"}},
		{name: "reserved flag", cfg: &reserved, want: []string{"Help", "--help", "reserved"}},
		{name: "struct value", cfg: notPointer, want: []string{"non-nil pointer to a struct", "config.testConfig"}},
		{name: "nil pointer", cfg: nilPointer, want: []string{"non-nil pointer to a struct"}},
		{name: "nil", cfg: nil, want: []string{"non-nil pointer to a struct"}},
		{name: "pointer to int", cfg: &notStruct, want: []string{"non-nil pointer to a struct", "*int"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.cfg, Options{Args: []string{"--help"}, Env: envOf(nil), Output: &bytes.Buffer{}})
			if err == nil || errors.Is(err, ErrHelp) {
				t.Fatalf("err = %v, want a programming error even with --help", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadHelp(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{name: "long", args: []string{"--help"}},
		{name: "short", args: []string{"-h"}},
		{name: "after other flags", args: []string{"--debug", "--help"}},
		{name: "despite a broken environment", args: []string{"-help"}, env: map[string]string{"QUARTERDECK_WORKERS": "x"}},
	}
	wantLines := []string{
		"Usage: quarterdeck [flags]\n\nRuns the whole control plane in one process.\n\n",
		"Flags (every flag can also be set by the environment variable shown):\n",
		"  --log-level string  ",
		"QUARTERDECK_LOG_LEVEL\n        log level: debug, info, warn or error (default \"info\")\n",
		"  --http-addr string  ",
		"QUARTERDECK_HTTP_ADDR\n        REST and gRPC listen address (default \"127.0.0.1:8080\")\n",
		"  --debug bool  ",
		"QUARTERDECK_DEBUG\n        enable debug endpoints\n",
		"  --workers int  ",
		"QUARTERDECK_WORKERS\n        worker goroutines (default 4)\n",
		"  --max-bytes int  ",
		"  --timeout duration  ",
		"QUARTERDECK_TIMEOUT\n        request timeout (default 30s)\n",
		"  --peers list  ",
		"(default \"a, b\")",
		"  --nats-url string  ",
		"QUARTERDECK_NATS_URL\n",
		"  --nats-port int  ",
		"QUARTERDECK_NATS_PORT\n        NATS client port (default 4222)\n",
		"  --nats-tls-cert string  ",
		"QUARTERDECK_NATS_TLS_CERT\n",
		"QUARTERDECK_API_KEY\n        API key\n",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			cfg := testConfig{Ignored: "untouched"}
			rest, err := Load(&cfg, Options{
				Program:     "quarterdeck",
				Description: "Runs the whole control plane in one process.",
				Args:        tt.args,
				Env:         envOf(tt.env),
				Output:      &out,
			})
			if !errors.Is(err, ErrHelp) {
				t.Fatalf("err = %v, want ErrHelp", err)
			}
			if rest != nil {
				t.Errorf("rest = %q, want nil", rest)
			}
			help := out.String()
			for _, w := range wantLines {
				if !strings.Contains(help, w) {
					t.Errorf("help lacks %q; got:\n%s", w, help)
				}
			}
			if strings.Contains(help, "dev-key-123") {
				t.Errorf("help prints the default of a secret:\n%s", help)
			}
			if strings.Contains(help, "Ignored") || strings.Contains(help, "--ignored") {
				t.Errorf("help lists an untagged field:\n%s", help)
			}
			// The env column is aligned so that it can be scanned.
			col := -1
			for line := range strings.SplitSeq(help, "\n") {
				if !strings.HasPrefix(line, "  --") {
					continue
				}
				i := strings.Index(line, "QUARTERDECK_")
				if col == -1 {
					col = i
				}
				if i != col || i < 0 {
					t.Errorf("env column at %d, want %d in %q", i, col, line)
				}
			}
			if !reflect.DeepEqual(cfg, testConfig{Ignored: "untouched"}) {
				t.Errorf("cfg was modified by --help: %+v", cfg)
			}
		})
	}
}

func TestLoadHelpMarksRequired(t *testing.T) {
	var out bytes.Buffer
	var cfg requiredConfig
	_, err := Load(&cfg, Options{Program: "quarterdeck-budget", Args: []string{"-h"}, Env: envOf(nil), Output: &out})
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v, want ErrHelp", err)
	}
	want := "Usage: quarterdeck-budget [flags]\n\n" +
		"Flags (every flag can also be set by the environment variable shown):\n" +
		"  --database-url string  QUARTERDECK_DATABASE_URL\n" +
		"        PostgreSQL URL (required)\n"
	if out.String() != want {
		t.Errorf("help =\n%q\nwant\n%q", out.String(), want)
	}
}

// TestLoadVars checks that Options.Vars fill the placeholders of default and help tags, in the
// value and in --help, and that a placeholder without a value stays as written.
func TestLoadVars(t *testing.T) {
	type serviceConfig struct {
		GRPCAddr string `env:"GRPC_ADDR" default:"{grpc_addr}" help:"gRPC listen address"`
		Schema   string `env:"DATABASE_SCHEMA" help:"schema of the {domain} tables (empty: \"{domain}\"); {other} stays"`
		Port     int    `env:"PORT" default:"{port}" help:"a port"`
	}
	vars := map[string]string{"grpc_addr": "127.0.0.1:9001", "domain": "budget", "port": "9001"}
	var cfg serviceConfig
	if _, err := Load(&cfg, Options{Env: envOf(nil), Vars: vars}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.GRPCAddr != "127.0.0.1:9001" || cfg.Port != 9001 {
		t.Errorf("cfg = %+v; want the defaults filled from Vars", cfg)
	}
	var out bytes.Buffer
	if _, err := Load(&cfg, Options{Program: "quarterdeck-budget", Args: []string{"--help"}, Env: envOf(nil), Output: &out, Vars: vars}); !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v, want ErrHelp", err)
	}
	for _, want := range []string{
		"gRPC listen address (default \"127.0.0.1:9001\")",
		"schema of the budget tables (empty: \"budget\"); {other} stays",
		"a port (default 9001)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
	if _, err := Load(&cfg, Options{Env: envOf(nil)}); err == nil || !strings.Contains(err.Error(), `invalid default "{port}"`) {
		t.Errorf("Load without Vars: %v; want the unfilled int default refused", err)
	}
}

func TestDescribe(t *testing.T) {
	withURLs := defaults()
	withURLs.NATS.URL = "nats://relay:s3cret@nats:4222"
	withURLs.Peers = []string{"http://a:pw@one", "http://two"}
	withURLs.Debug = true

	unsetSecret := defaults()
	unsetSecret.APIKey = ""
	unsetSecret.HTTPAddr = "postgres://app:hunter2@db:5432/x"

	type dbConfig struct {
		DatabaseURL string `env:"DATABASE_URL" secret:"true"`
		ReplicaURL  string `env:"REPLICA_URL"`
		Plain       string `env:"PLAIN"`
	}

	tests := []struct {
		name   string
		cfg    any
		prefix string
		want   []Setting
	}{
		{
			name: "defaults, in field order, secret masked",
			cfg:  ptr(defaults()),
			want: []Setting{
				{"QUARTERDECK_LOG_LEVEL", "--log-level", "info"},
				{"QUARTERDECK_HTTP_ADDR", "--http-addr", "127.0.0.1:8080"},
				{"QUARTERDECK_DEBUG", "--debug", "false"},
				{"QUARTERDECK_WORKERS", "--workers", "4"},
				{"QUARTERDECK_MAX_BYTES", "--max-bytes", "1048576"},
				{"QUARTERDECK_TIMEOUT", "--timeout", "30s"},
				{"QUARTERDECK_PEERS", "--peers", "a,b"},
				{"QUARTERDECK_NATS_URL", "--nats-url", "nats://127.0.0.1:4222"},
				{"QUARTERDECK_NATS_PORT", "--nats-port", "4222"},
				{"QUARTERDECK_NATS_TLS_CERT", "--nats-tls-cert", ""},
				{"QUARTERDECK_API_KEY", "--api-key", "********"},
			},
		},
		{
			name:   "URL passwords redacted, also inside lists, struct value accepted",
			cfg:    withURLs,
			prefix: "GW_",
			want: []Setting{
				{"GW_LOG_LEVEL", "--log-level", "info"},
				{"GW_HTTP_ADDR", "--http-addr", "127.0.0.1:8080"},
				{"GW_DEBUG", "--debug", "true"},
				{"GW_WORKERS", "--workers", "4"},
				{"GW_MAX_BYTES", "--max-bytes", "1048576"},
				{"GW_TIMEOUT", "--timeout", "30s"},
				{"GW_PEERS", "--peers", "http://a:xxxxx@one,http://two"},
				{"GW_NATS_URL", "--nats-url", "nats://relay:xxxxx@nats:4222"},
				{"GW_NATS_PORT", "--nats-port", "4222"},
				{"GW_NATS_TLS_CERT", "--nats-tls-cert", ""},
				{"GW_API_KEY", "--api-key", "********"},
			},
		},
		{
			name: "secret and URL variants",
			cfg: &dbConfig{
				DatabaseURL: "postgres://app:pw@db/x",
				ReplicaURL:  "postgres://app:secret@db:5432/x",
				Plain:       "postgres://app@db/x",
			},
			want: []Setting{
				{"QUARTERDECK_DATABASE_URL", "--database-url", "********"},
				{"QUARTERDECK_REPLICA_URL", "--replica-url", "postgres://app:xxxxx@db:5432/x"},
				{"QUARTERDECK_PLAIN", "--plain", "postgres://app@db/x"},
			},
		},
		{
			name: "unset secret stays visibly unset",
			cfg:  &dbConfig{},
			want: []Setting{
				{"QUARTERDECK_DATABASE_URL", "--database-url", ""},
				{"QUARTERDECK_REPLICA_URL", "--replica-url", ""},
				{"QUARTERDECK_PLAIN", "--plain", ""},
			},
		},
		{name: "nil pointer", cfg: (*testConfig)(nil), want: nil},
		{name: "not a struct", cfg: 3, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Describe(tt.cfg, tt.prefix)
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Describe mismatch\n got: %q\nwant: %q", got, tt.want)
			}
		})
	}

	// No Describe output may contain a password, whatever the field.
	for _, s := range Describe(&unsetSecret, "") {
		if strings.Contains(s.Value, "hunter2") {
			t.Errorf("%s leaks a password: %q", s.Name, s.Value)
		}
	}
}

// TestDescribeAfterLoad checks the intended startup sequence: what Describe reports is what Load
// put into the struct, and the secret never shows.
func TestDescribeAfterLoad(t *testing.T) {
	var cfg testConfig
	env := map[string]string{"QUARTERDECK_API_KEY": "prod-key", "QUARTERDECK_NATS_URL": "nats://u:p@n:1"}
	if _, err := Load(&cfg, Options{Args: []string{"--workers", "3"}, Env: envOf(env)}); err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := map[string]string{}
	for _, s := range Describe(&cfg, "") {
		got[s.Flag] = s.Value
	}
	want := map[string]string{"--workers": "3", "--api-key": "********", "--nats-url": "nats://u:xxxxx@n:1"}
	for flag, v := range want {
		if got[flag] != v {
			t.Errorf("%s = %q, want %q", flag, got[flag], v)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadVersion(t *testing.T) {
	var out, usage bytes.Buffer
	cfg := testConfig{Ignored: "untouched"}
	// --version works even when a required setting is missing or a value is bad: it is asked
	// for when checking what is installed, before anything is configured.
	_, err := Load(&cfg, Options{Program: "qd", Version: "v1.2.3-4-gabcdef", Args: []string{"--version"},
		Env: envOf(map[string]string{"QUARTERDECK_WORKERS": "not a number"}), Stdout: &out, Output: &usage})
	if !errors.Is(err, ErrVersion) {
		t.Fatalf("err = %v, want ErrVersion", err)
	}
	if got := out.String(); got != "qd v1.2.3-4-gabcdef\n" {
		t.Errorf("printed %q, want the program and its version on one line", got)
	}
	if !reflect.DeepEqual(cfg, testConfig{Ignored: "untouched"}) {
		t.Errorf("cfg was modified: %+v", cfg)
	}

	if _, err := Load(&cfg, Options{Program: "qd", Version: "v1", Args: []string{"--help"}, Env: envOf(nil), Output: &usage}); !errors.Is(err, ErrHelp) {
		t.Fatalf("--help: err = %v", err)
	}
	if !strings.Contains(usage.String(), "--version") {
		t.Errorf("the usage does not list --version:\n%s", usage.String())
	}

	// Without a version there is no such flag.
	_, err = Load(&cfg, Options{Program: "qd", Args: []string{"--version"}, Env: envOf(nil), Output: &usage})
	if err == nil || !strings.Contains(err.Error(), "unknown flag --version") {
		t.Errorf("err = %v, want an unknown flag", err)
	}
}

func TestChanged(t *testing.T) {
	var cfg testConfig
	if _, err := Load(&cfg, Options{Args: []string{"--workers", "8"}, Env: envOf(map[string]string{
		"QUARTERDECK_DEBUG":     "true",
		"QUARTERDECK_HTTP_ADDR": "127.0.0.1:8080", // the default, given explicitly
	}), Output: &bytes.Buffer{}}); err != nil {
		t.Fatal(err)
	}
	got := Changed(&cfg, "", nil)
	want := map[string]string{"QUARTERDECK_WORKERS": "8", "QUARTERDECK_DEBUG": "true"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("Changed[%s] = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["QUARTERDECK_HTTP_ADDR"]; ok {
		t.Errorf("Changed lists a setting at its default: %v", got)
	}
	if len(got) != len(want) {
		t.Errorf("Changed = %v, want only %v", got, want)
	}
}
