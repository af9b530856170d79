package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Reasons of the gateway's refusals of a request's form.
const (
	ReasonUnsupportedMediaType   = "UNSUPPORTED_MEDIA_TYPE"
	ReasonTrailingData           = "REQUEST_BODY_TRAILING_DATA"
	ReasonDuplicateAuthorization = "DUPLICATE_AUTHORIZATION"
	ReasonBodyTimeout            = "REQUEST_BODY_TIMEOUT"
	ReasonHeaderNotASCII         = "HEADER_NOT_ASCII"
)

// conditionHeaders are the headers a service acts on (rpc.MetadataIdempotencyKey,
// rpc.MetadataIfMatch): a key that makes a retry safe, a condition that guards a write.
var conditionHeaders = []string{HeaderIdempotencyKey, HeaderIfMatch}

// unsendableCondition refuses a request with a condition header that gRPC metadata cannot carry:
// a value with bytes outside printable ASCII, which grpc-gateway drops. The request would reach
// the service without its key or its condition — a retry creating a second resource, a write
// overwriting the change it was meant to guard against — so it is refused instead. nil when the
// headers can go.
func unsendableCondition(h http.Header) *status.Status {
	for _, name := range conditionHeaders {
		for _, v := range h.Values(name) {
			if !printableASCII(v) {
				st, _ := status.New(codes.InvalidArgument, "the "+name+" header must be printable ASCII").WithDetails(
					&errdetails.ErrorInfo{Reason: ReasonHeaderNotASCII, Domain: ErrorDomain, Metadata: map[string]string{"header": name}})
				return st
			}
		}
	}
	return nil
}

// printableASCII reports whether s is a text value of gRPC metadata: bytes 0x20–0x7E.
func printableASCII(s string) bool {
	for i := range len(s) {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// hasBody reports whether a request carries a body: announced by its length, or chunked.
func hasBody(r *http.Request) bool {
	return r.ContentLength > 0 || (r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody)
}

// jsonMediaType reports whether a Content-Type is JSON: application/json, with no parameter but
// an optional UTF-8 charset (RFC 8259 JSON is UTF-8).
func jsonMediaType(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return false
		}
	}
	return true
}

// strictBody reads a REST request's body before anything decodes it, within the BodyTimeout
// setting (else 408), and refuses one that is not
// exactly one JSON value: a body of another media type is 415, a body with bytes after its JSON
// value 400 (grpc-gateway's decoder would read the first value and ignore the rest, so that
// what the gateway checked and what a service saw could differ). A body over the cap is 413.
func (g *Gateway) strictBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !hasBody(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !jsonMediaType(r.Header.Get("Content-Type")) {
			writeStatus(w, http.StatusUnsupportedMediaType, edgeError(codes.InvalidArgument, ReasonUnsupportedMediaType,
				"a request body must be JSON: Content-Type: application/json"))
			return
		}
		body, err := g.readBody(w, r)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeStatus(w, http.StatusRequestEntityTooLarge, g.bodyTooLargeStatus())
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// The rest of the body may still be on its way: the connection cannot serve another
				// request.
				w.Header().Set("Connection", "close")
				writeStatus(w, http.StatusRequestTimeout, edgeError(codes.DeadlineExceeded, ReasonBodyTimeout,
					"the request body did not arrive within "+g.set.BodyTimeout.String()))
				return
			}
			writeStatus(w, http.StatusBadRequest, edgeError(codes.InvalidArgument, "INVALID_ARGUMENT",
				"the request body could not be read"))
			return
		}
		if trailingData(body) {
			writeStatus(w, http.StatusBadRequest, edgeError(codes.InvalidArgument, ReasonTrailingData,
				"the request body must be one JSON value with nothing after it"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// readBody reads a request's body, which must arrive within the BodyTimeout setting: a client
// that sends a byte now and then would otherwise hold a connection, a goroutine and a buffer for
// as long as it likes. The connection's read deadline is lifted once the body is in, so that it
// cannot end a long call.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(g.set.BodyTimeout)); err != nil {
		// Every connection of the gateway's server supports read deadlines; a ResponseWriter
		// that does not (a test's recorder) has no slow client either.
		return io.ReadAll(r.Body)
	}
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()
	return io.ReadAll(r.Body)
}

// trailingData reports whether body is a valid JSON value followed by more than whitespace. A
// body that is not valid JSON is left to the decoder, which explains what is wrong with it.
func trailingData(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return false
	}
	return len(bytes.Trim(body[dec.InputOffset():], " \t\r\n")) > 0
}
