package events

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// reconnectWait is the wait before trying the same server again; the client adds up to 100 ms
// of jitter, so that a fleet of clients does not return in step.
const reconnectWait = 250 * time.Millisecond

// Connect opens the NATS connection of a process named name. It keeps reconnecting for as long
// as the process runs, because the outbox keeps events waiting while NATS is away, and logs each
// disconnect and reconnect. It tries a server again every quarter of a second, so that the
// events that waited go out within moments of its return: with a second between tries, half of
// the time a 10,000-event backlog took to reach a consumer after a restart was the wait for the
// reconnection.
func Connect(url, name string, log *slog.Logger) (*nats.Conn, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(reconnectWait),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("NATS reconnected", "url", c.ConnectedUrlRedacted()) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("NATS error", "error", err) }),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	return nc, nil
}
