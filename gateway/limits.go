package gateway

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Reasons of the errors the gateway raises itself (ErrorInfo.reason, domain ErrorDomain).
const (
	ReasonRateLimited       = "RATE_LIMITED"
	ReasonBodyTooLarge      = "REQUEST_BODY_TOO_LARGE"
	ReasonHeadersTooLarge   = "REQUEST_HEADERS_TOO_LARGE"
	ReasonURITooLong        = "URI_TOO_LONG"
	ReasonOriginNotAllowed  = "CORS_ORIGIN_NOT_ALLOWED"
	ReasonUnknownService    = "UNKNOWN_SERVICE"
	ReasonServiceUnroutable = "SERVICE_NOT_ROUTABLE"
)

// minBucketsBeforePruning is the number of rate-limit buckets below which idle ones are kept.
const minBucketsBeforePruning = 10000

// limiter is a set of token buckets, one per key (a caller's subject or a client address).
type limiter struct {
	every rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
	prune   int // size at which idle buckets are dropped next
}

// newLimiter returns a limiter of perMinute calls per minute with bursts of burst calls, or nil
// (no limit) when perMinute is not positive.
func newLimiter(perMinute, burst int) *limiter {
	if perMinute <= 0 {
		return nil
	}
	return &limiter{
		every:   rate.Limit(float64(perMinute) / 60),
		burst:   max(burst, 1),
		buckets: map[string]*rate.Limiter{},
		prune:   minBucketsBeforePruning,
	}
}

// allow takes a token from key's bucket, or reports how long until one is available.
func (l *limiter) allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.prune {
			// A full bucket is one that has been idle long enough to forget: recreating it later
			// gives the same answer. Pruning only when the map has doubled keeps it amortised.
			for k, b := range l.buckets {
				if b.TokensAt(now) >= float64(l.burst) {
					delete(l.buckets, k)
				}
			}
			l.prune = max(2*len(l.buckets), minBucketsBeforePruning)
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// rateLimited is the RESOURCE_EXHAUSTED status of a call over a rate limit, with the delay after
// which a retry can succeed.
func rateLimited(what string, retryAfter time.Duration) *status.Status {
	st := status.New(codes.ResourceExhausted, "too many requests "+what+"; retry later")
	st, _ = st.WithDetails(
		&errdetails.ErrorInfo{Reason: ReasonRateLimited, Domain: ErrorDomain},
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)},
	)
	return st
}

// retryAfterSeconds rounds d up to the whole seconds of a Retry-After header.
func retryAfterSeconds(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}

// edgeError returns a status of code with the gateway's ErrorInfo.
func edgeError(c codes.Code, reason, msg string) *status.Status {
	st, _ := status.New(c, msg).WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain})
	return st
}

// writeStatus writes st as the standard error JSON (google.rpc.Status) with HTTP code httpCode,
// for the errors the edge raises with codes of its own (413, 414, 429, 431).
func writeStatus(w http.ResponseWriter, httpCode int, st *status.Status) {
	body, err := protojson.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":13,"message":"internal error"}`)
		httpCode = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Del("Content-Length")
	w.WriteHeader(httpCode)
	_, _ = w.Write(body)
}

// clientIP is the address a request came from. It is the connection's peer: X-Forwarded-For is
// not trusted, because any client can set it.
func clientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// headerBytes approximates the size of a request's header block as sent.
func headerBytes(r *http.Request) int {
	n := len(r.Host)
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

// sizeLimits answers 414 and 431 for URLs and headers above the limits, with the standard error
// JSON. The HTTP server's own header limit is set higher, as a backstop that answers in plain text.
func (g *Gateway) sizeLimits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.RequestURI) > g.set.MaxURLBytes || len(r.URL.String()) > g.set.MaxURLBytes {
			writeStatus(w, http.StatusRequestURITooLong, edgeError(codes.InvalidArgument, ReasonURITooLong,
				"the request URL is longer than "+strconv.Itoa(g.set.MaxURLBytes)+" bytes"))
			return
		}
		if headerBytes(r) > g.set.MaxHeaderBytes {
			writeStatus(w, http.StatusRequestHeaderFieldsTooLarge, edgeError(codes.InvalidArgument, ReasonHeadersTooLarge,
				"the request headers are larger than "+strconv.Itoa(g.set.MaxHeaderBytes)+" bytes"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ipLimit applies the per-address rate limit.
func (g *Gateway) ipLimit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, after := g.perIP.allow(clientIP(r.RemoteAddr), time.Now()); !ok {
			w.Header().Set("Retry-After", retryAfterSeconds(after))
			writeStatus(w, http.StatusTooManyRequests, rateLimited("from this address", after))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// bodyState records, for the error handler, that a request's body went over the cap: grpc-gateway
// reports a body it could not read as INVALID_ARGUMENT, which the handler turns into the 413.
type bodyState struct{ exceeded atomic.Bool }

type bodyStateKey struct{}

type cappedBody struct {
	io.ReadCloser
	state *bodyState
}

func (b cappedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		b.state.exceeded.Store(true)
	}
	return n, err
}

func bodyTooLarge(ctx context.Context) bool {
	s, ok := ctx.Value(bodyStateKey{}).(*bodyState)
	return ok && s.exceeded.Load()
}

func (g *Gateway) bodyTooLargeStatus() *status.Status {
	return edgeError(codes.InvalidArgument, ReasonBodyTooLarge,
		"the request body is larger than "+strconv.Itoa(g.set.MaxBodyBytes)+" bytes")
}

// bodyCap refuses a body announced larger than the cap at once, and stops reading one that turns
// out larger.
func (g *Gateway) bodyCap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > int64(g.set.MaxBodyBytes) {
			writeStatus(w, http.StatusRequestEntityTooLarge, g.bodyTooLargeStatus())
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			// A request without a body cannot go over the cap: only one with a body carries the
			// state the error handler reads.
			state := &bodyState{}
			r = r.WithContext(context.WithValue(r.Context(), bodyStateKey{}, state))
			r.Body = cappedBody{ReadCloser: http.MaxBytesReader(w, r.Body, int64(g.set.MaxBodyBytes)), state: state}
		}
		next.ServeHTTP(w, r)
	})
}

// pageSizeParams are the query parameters of AIP-158 page sizes, as grpc-gateway accepts them.
var pageSizeParams = []string{"pageSize", "page_size"}

// clampPageSize lowers a pageSize above the maximum to the maximum, as AIP-158 asks of an API
// (rather than rejecting it), so that no call asks a service for more.
func (g *Gateway) clampPageSize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		changed := false
		for _, p := range pageSizeParams {
			if v := q.Get(p); v != "" {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > int64(g.set.MaxPageSize) {
					q.Set(p, strconv.Itoa(g.set.MaxPageSize))
					changed = true
				}
			}
		}
		if changed {
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
		}
		next.ServeHTTP(w, r)
	})
}

// deadline gives the call the default deadline, unless the request's context already has a
// shorter one (a client's Grpc-Timeout header is applied by grpc-gateway and can only shorten it).
func (g *Gateway) deadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), g.set.CallTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// CORS: the headers a browser page may send and read.
const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, Idempotency-Key, If-Match, X-Request-Id"
	corsExposeHeaders = "X-Request-Id, Retry-After"
)

// cors answers preflights and marks responses readable by the pages of allowed origins. A
// request from any other origin gets no CORS header (so the browser withholds the response); its
// preflight is refused with 403.
func (g *Gateway) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		_, allowed := g.origins[strings.ToLower(origin)]
		switch {
		case preflight && !allowed:
			writeStatus(w, http.StatusForbidden, edgeError(codes.PermissionDenied, ReasonOriginNotAllowed,
				"cross-origin requests from this origin are not allowed"))
		case preflight:
			h := w.Header()
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600") // seconds a browser may cache the answer
			w.WriteHeader(http.StatusNoContent)
		case allowed:
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", corsExposeHeaders)
			next.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}
