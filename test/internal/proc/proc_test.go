package proc

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePort checks that the ports FreePort hands out can be bound, are not handed out twice,
// and lie below the ephemeral range, where no outgoing connection takes them.
func TestFreePort(t *testing.T) {
	low := ephemeralLow()
	seen := map[int]bool{}
	for range 50 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[port] {
			t.Fatalf("port %d handed out twice", port)
		}
		seen[port] = true
		if low > firstListenPort && (port < firstListenPort || port >= low) {
			t.Errorf("port %d is outside [%d, %d), the ports below the ephemeral range", port, firstListenPort, low)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("port %d cannot be bound: %v", port, err)
		}
		_ = l.Close()
	}
}
