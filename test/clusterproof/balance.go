package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// tcpBalancer spreads TCP connections over a service's replicas, round robin, as a Kubernetes
// Service's virtual IP does: a connection stays with the replica it reached, and a client whose
// replica dies connects again and reaches a live one. A replica that refuses the connection is
// skipped.
type tcpBalancer struct {
	ln       net.Listener
	backends []string
	next     atomic.Uint32

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	done  bool
}

func newTCPBalancer(backends []string) (*tcpBalancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &tcpBalancer{ln: ln, backends: backends, conns: map[net.Conn]struct{}{}}
	go b.serve() // ends when close closes the listener
	return b, nil
}

func (b *tcpBalancer) addr() string { return b.ln.Addr().String() }

func (b *tcpBalancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.handle(c) // ends when either side closes
	}
}

func (b *tcpBalancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *tcpBalancer) untrack(c net.Conn) {
	b.mu.Lock()
	delete(b.conns, c)
	b.mu.Unlock()
	c.Close()
}

func (b *tcpBalancer) handle(c net.Conn) {
	start := int(b.next.Add(1))
	var up net.Conn
	for i := range b.backends {
		conn, err := net.DialTimeout("tcp", b.backends[(start+i)%len(b.backends)], time.Second)
		if err == nil {
			up = conn
			break
		}
	}
	if up == nil {
		c.Close()
		return
	}
	if !b.track(c) || !b.track(up) {
		c.Close()
		up.Close()
		return
	}
	var once sync.Once
	closeBoth := func() { once.Do(func() { b.untrack(c); b.untrack(up) }) }
	go func() { _, _ = io.Copy(up, c); closeBoth() }() // ends when either side closes
	_, _ = io.Copy(c, up)
	closeBoth()
}

func (b *tcpBalancer) close() {
	b.ln.Close()
	b.mu.Lock()
	b.done = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
}

// frontEnd is the load balancer in front of the gateways: it sends each HTTP request to the next
// gateway whose /readyz answers 200, round robin. A gateway that refuses the connection (it is
// stopping or stopped) is skipped, since the request never reached it; any other failure to get
// an answer is a 503, which the clients retry with the same request ID.
type frontEnd struct {
	srv      *http.Server
	ln       net.Listener
	backends []string
	ready    []atomic.Bool
	next     atomic.Uint32
	tr       *http.Transport
	stop     chan struct{}
}

func newFrontEnd(backends []string) (*frontEnd, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 512, 256
	f := &frontEnd{ln: ln, backends: backends, ready: make([]atomic.Bool, len(backends)), tr: tr, stop: make(chan struct{})}
	for i := range f.ready {
		f.ready[i].Store(true)
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(ln) }() // ends when close shuts the server down
	go f.probe()                        // ends when close closes stop
	return f, nil
}

func (f *frontEnd) url() string { return "http://" + f.ln.Addr().String() }

// probe asks each gateway's /readyz every 200 ms.
func (f *frontEnd) probe() {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		for i, b := range f.backends {
			resp, err := client.Get("http://" + b + "/readyz")
			ok := err == nil && resp.StatusCode == http.StatusOK
			if err == nil {
				resp.Body.Close()
			}
			f.ready[i].Store(ok)
		}
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
	}
}

// order is the gateways to try for one request: the ready ones from the next in turn, then the
// others.
func (f *frontEnd) order() []string {
	n := len(f.backends)
	start := int(f.next.Add(1))
	var ready, rest []string
	for i := range n {
		j := (start + i) % n
		if f.ready[j].Load() {
			ready = append(ready, f.backends[j])
		} else {
			rest = append(rest, f.backends[j])
		}
	}
	return append(ready, rest...)
}

func (f *frontEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "front end: reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	for _, b := range f.order() {
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host, out.Host, out.RequestURI = "http", b, b, ""
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		resp, err := f.tr.RoundTrip(out)
		if err != nil {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				continue // never reached the gateway: the next one may take it
			}
			if errors.Is(err, context.Canceled) {
				return
			}
			http.Error(w, "front end: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		for k, vs := range resp.Header {
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
		resp.Body.Close()
		return
	}
	http.Error(w, "front end: no gateway reachable", http.StatusServiceUnavailable)
}

func (f *frontEnd) close() {
	close(f.stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
	f.tr.CloseIdleConnections()
}
