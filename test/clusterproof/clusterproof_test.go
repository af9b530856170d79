package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestFrontEndSkipsAGatewayThatRefuses: a request is never failed because one gateway is down
// — it goes to the other, body and all — and with none left the answer is 503, which clients retry.
func TestFrontEndSkipsAGatewayThatRefuses(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), b)
	}))
	defer up.Close()
	down := closedAddr(t)
	f, err := newFrontEnd([]string{down, strings.TrimPrefix(up.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	for i := range 4 { // round robin starts at either gateway
		resp, err := http.Post(f.url()+"/v1/risks?requestId=x", "application/json", strings.NewReader(`{"n":`+fmt.Sprint(i)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf(`POST /v1/risks?requestId=x {"n":%d}`, i); resp.StatusCode != http.StatusOK || string(b) != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, b, want)
		}
	}

	none, err := newFrontEnd([]string{down})
	if err != nil {
		t.Fatal(err)
	}
	defer none.close()
	resp, err := http.Get(none.url() + "/v1/risks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("no gateway: %d, want 503", resp.StatusCode)
	}
}

// TestTCPBalancerSkipsADeadReplica: connections reach the live replica whichever the turn.
func TestTCPBalancerSkipsADeadReplica(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }() // echo
		}
	}()
	b, err := newTCPBalancer([]string{closedAddr(t), l.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	for i := range 4 {
		c, err := net.Dial("tcp", b.addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		msg := fmt.Sprintf("hello %d", i)
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("connection %d: %q, %v", i, got, err)
		}
		c.Close()
	}
}

// TestRetryable: the clients repeat 503s and unanswered attempts, never a 500 or a 4xx.
func TestRetryable(t *testing.T) {
	for status, want := range map[int]bool{0: true, 503: true, 502: true, 504: true, 500: false, 400: false, 409: false, 200: false} {
		if retryable(status) != want {
			t.Errorf("retryable(%d) = %v", status, !want)
		}
	}
}
