package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway"
)

// TestSlowBody checks that a REST body must arrive within the BodyTimeout setting: a client that
// sends its body a trickle at a time gets 408, over HTTP/1.1 and HTTP/2, and loses the connection.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	_, backend := startRecorder(t)
	const timeout = 300 * time.Millisecond
	e := startEdge(t, backend, gateway.Options{Settings: gateway.Settings{BodyTimeout: timeout}})

	t.Run("HTTP/1.1", func(t *testing.T) {
		conn, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		_, err = io.WriteString(conn, "POST /v1/costCenters HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer k\r\n"+
			"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"displayName\":")
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // the test's own bound
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("no answer to a body that stopped arriving: %v", err)
		}
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(raw), gateway.ReasonBodyTimeout) {
			t.Errorf("slow body: %d %s, want 408 %s", resp.StatusCode, raw, gateway.ReasonBodyTimeout)
		}
		if waited := time.Since(start); waited < timeout {
			t.Errorf("refused after %v, before the %v the body had", waited, timeout)
		}
		if !resp.Close {
			t.Error("the connection stays open after a 408")
		}
	})

	t.Run("HTTP/2", func(t *testing.T) {
		var protocols http.Protocols
		protocols.SetUnencryptedHTTP2(true)
		client := &http.Client{Transport: &http.Transport{Protocols: &protocols}, Timeout: 10 * time.Second}
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = io.WriteString(pw, `{"displayName":`) }() // and nothing more
		req, _ := http.NewRequest("POST", e.url+"/v1/costCenters", pr)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(raw), gateway.ReasonBodyTimeout) {
			t.Errorf("slow body over %s: %d %s, want 408 %s", resp.Proto, resp.StatusCode, raw, gateway.ReasonBodyTimeout)
		}
	})

	t.Run("a body in pieces within the time", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			_, _ = io.WriteString(pw, `{"displayName":`)
			_, _ = io.WriteString(pw, `"X"}`)
			pw.Close()
		}()
		resp, body := do(t, nil, "POST", e.url+"/v1/costCenters", pr, jsonType)
		// The recorder does not implement CreateCostCenter: 501 shows the call got through.
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("body in time: %d %v", resp.StatusCode, body)
		}
	})
}
