package browsertest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// sink is the proxy that Chromium sends every request to that is not for a
// loopback address: it answers 502 (a CONNECT too) and keeps the request
// line, so nothing leaves the machine and the log shows what tried to.
type sink struct {
	addr string
	srv  *http.Server

	mu   sync.Mutex
	seen []string
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	s := &sink{addr: l.Addr().String()}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(l)
	return s, nil
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.URL.String()
	if r.Method == http.MethodConnect {
		target = r.Host
	}
	s.mu.Lock()
	s.seen = append(s.seen, r.Method+" "+target)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, "browsertest: %s is beyond 127.0.0.1 and was blocked\n", target)
}

// requests returns the request lines seen so far.
func (s *sink) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.seen)
}

func (s *sink) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
}

// watchOutside records the tab's requests for addresses other than
// loopback, from its Network.requestWillBeSent events, until the tab's
// context ends in t.Cleanup. Chromium's own background requests (its
// update client, the Google account check of a fresh profile) are not the
// tab's: the sink blocks them and Start's cleanup logs them.
func (b *Browser) watchOutside() {
	events := chromedp.Events(b.ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			u, err := url.Parse(ev.Request.URL)
			if err != nil || loopback(u.Hostname()) || !slices.Contains([]string{"http", "https", "ws", "wss"}, u.Scheme) {
				continue
			}
			b.mu.Lock()
			b.outside = append(b.outside, ev.Request.Method+" "+ev.Request.URL)
			b.mu.Unlock()
		}
	}()
}

// Outside returns the requests that the pages in the tab made for
// addresses other than loopback ("GET https://cdn.example/font.woff2"),
// which the sink answered with 502. Pages that load nothing from elsewhere
// leave it empty.
func (b *Browser) Outside() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.outside)
}
