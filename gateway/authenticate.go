package gateway

import (
	"net/http"

	iamv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
)

// adminRegistrars are the APIs the gateway process serves itself; they are mounted when
// Options.Backends names their address (the gateway's own admin server).
var adminRegistrars = map[string]registrar{
	"iam": mount(iamv1.RegisterApiKeyServiceHandlerClient, iamv1.NewApiKeyServiceClient),
}

// challenge is the WWW-Authenticate header of a 401 (RFC 6750). grpc-gateway's error handler
// puts the status message there, which is not a challenge clients can parse.
const challenge = `Bearer realm="quarterdeck"`

// challenger sets the WWW-Authenticate challenge on every 401.
type challenger struct{ http.ResponseWriter }

func (c *challenger) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		c.Header().Set("WWW-Authenticate", challenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *challenger) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// Flush lets streamed responses through the wrapper.
func (c *challenger) Flush() { _ = http.NewResponseController(c.ResponseWriter).Flush() }
