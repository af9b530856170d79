package gateway

import "time"

// Settings are the operator's settings of the gateway's listener and limits. The binaries embed
// them with the prefix GATEWAY_ (QUARTERDECK_GATEWAY_MAX_BODY_BYTES, --gateway-max-body-bytes …);
// the defaults below are the tags' defaults, and New applies the same ones to zero values, except
// for the rate limits, where 0 means "no limit".
type Settings struct {
	TLSCertFile string `env:"TLS_CERT_FILE" help:"PEM certificate (chain) of the gateway's listener; with the key, REST and gRPC are served over TLS instead of cleartext (h2c)"`
	TLSKeyFile  string `env:"TLS_KEY_FILE" help:"PEM private key of the certificate"`

	MaxBodyBytes   int `env:"MAX_BODY_BYTES" default:"1048576" help:"largest REST request body and gRPC request message; larger is 413 (RESOURCE_EXHAUSTED over gRPC)"`
	MaxHeaderBytes int `env:"MAX_HEADER_BYTES" default:"16384" help:"largest total size of a request's headers; larger is 431"`
	MaxURLBytes    int `env:"MAX_URL_BYTES" default:"8192" help:"longest request URL (path and query); longer is 414"`
	MaxPageSize    int `env:"MAX_PAGE_SIZE" default:"1000" help:"a REST pageSize above this is lowered to it before the call reaches a service"`

	CallTimeout time.Duration `env:"CALL_TIMEOUT" default:"30s" help:"deadline of every call forwarded to a service, unless the client set a shorter one"`
	BodyTimeout time.Duration `env:"BODY_TIMEOUT" default:"30s" help:"time a REST request's body has to arrive in full once its headers have; slower is 408"`

	RateLimitPerKey      int `env:"RATE_LIMIT_PER_KEY" default:"3000" help:"calls per minute per authenticated caller (API key or token subject); 0: no limit"`
	RateLimitPerKeyBurst int `env:"RATE_LIMIT_PER_KEY_BURST" default:"100" help:"calls a caller may make at once before the per-minute rate applies"`
	RateLimitPerIP       int `env:"RATE_LIMIT_PER_IP" default:"6000" help:"calls per minute per client IP address, before authentication; 0: no limit"`
	RateLimitPerIPBurst  int `env:"RATE_LIMIT_PER_IP_BURST" default:"200" help:"calls an address may make at once before the per-minute rate applies"`

	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS" help:"origins (scheme://host[:port]) whose browser pages may call the REST API, comma-separated; others get no CORS headers"`
}

// withDefaults fills the zero values that have a default.
func (s Settings) withDefaults() Settings {
	if s.MaxBodyBytes <= 0 {
		s.MaxBodyBytes = 1 << 20
	}
	if s.MaxHeaderBytes <= 0 {
		s.MaxHeaderBytes = 16 << 10
	}
	if s.MaxURLBytes <= 0 {
		s.MaxURLBytes = 8 << 10
	}
	if s.MaxPageSize <= 0 {
		s.MaxPageSize = 1000
	}
	if s.CallTimeout <= 0 {
		s.CallTimeout = 30 * time.Second
	}
	if s.BodyTimeout <= 0 {
		s.BodyTimeout = 30 * time.Second
	}
	return s
}
