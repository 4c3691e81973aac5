// Package browsertest drives a real headless Chromium for the tests of the
// web pages, as a person would use them: it types into fields, clicks
// buttons, reads what the page shows and takes screenshots.
//
// [Start] runs Debian's chromium (package chromium) with a private profile
// in t.TempDir and stops it in t.Cleanup. The browser reaches only the
// loopback addresses: every other request goes to a local sink that answers
// 502, and no host name but localhost resolves. What the pages asked for
// beyond loopback is in [Browser.Outside]. When chromium is missing the test is skipped, or fails when the
// environment variable CI is "true"; test.sh installs it.
//
// The helpers of a [Browser] fail the test with t.Fatal, naming the selector
// or URL that failed, so a test reads as a list of steps. Each step has its
// own deadline ([ActionTimeout]). A Browser belongs to the test that started
// it; a subtest that needs a browser starts its own.
//
// It is not a general browser automation library and does not run in the
// daemon: it is imported by tests only.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ActionTimeout bounds one step of a test: a navigation, a click and the
// page it loads, a read of the page.
const ActionTimeout = 20 * time.Second

// startTimeout bounds the start of Chromium, up to its first blank tab.
const startTimeout = 30 * time.Second

// Widths for [Browser.SetWidth]: a phone held upright and a desktop window.
const (
	PhoneWidth   = 390
	DesktopWidth = 1280
)

// Browser is one headless Chromium with one tab, started by [Start].
type Browser struct {
	t   testing.TB
	ctx context.Context // the chromedp context of the tab

	sink   *sink
	output *lockedBuffer // what Chromium wrote to stdout and stderr

	mu      sync.Mutex
	outside []string // URLs beyond loopback that the tab requested

	width  int // CSS pixels, set by SetWidth
	status int // of the main document of the last navigation; 0 if none
}

// Start starts a headless Chromium for the test. The chromium binary is
// $SYNCML_IMAP_CHROMIUM if set, else chromium or chromium-browser from
// $PATH. The window is [DesktopWidth] wide.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := findChromium(t)

	s, err := startSink()
	if err != nil {
		t.Fatalf("browsertest: %v", err)
	}
	t.Cleanup(s.close)

	b := &Browser{t: t, sink: s, output: &lockedBuffer{}}
	logs := &testLog{t: t}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(DesktopWidth, 800),
		chromedp.CombinedOutput(b.output),
	)
	opts = append(opts, quietFlags(s.addr)...)
	// Chromium refuses to run as root with its sandbox on; as any other
	// user the sandbox stays on.
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx,
		chromedp.WithLogf(logs.logf), chromedp.WithErrorf(logs.logf))
	b.ctx = ctx
	t.Cleanup(func() {
		logs.stop()
		cancel()
		acancel() // waits until Chromium has exited, before TempDir goes
		if t.Failed() {
			t.Logf("browsertest: Chromium's output:\n%s", b.output.tail(4096))
		}
		if blocked := s.requests(); len(blocked) > 0 {
			t.Logf("browsertest: requests beyond 127.0.0.1 that the sink blocked: %q", blocked)
		}
	})

	// The first action starts the browser and binds it to its context, so
	// it runs without a deadline of its own; a hung start is cut here.
	began := time.Now()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("browsertest: start %s: %v\n%s", path, err, b.output.tail(4096))
		}
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("browsertest: %s did not start within %v\n%s", path, startTimeout, b.output.tail(4096))
	}
	t.Logf("browsertest: %s started in %v", path, time.Since(began).Round(time.Millisecond))
	b.watchOutside()
	b.SetWidth(DesktopWidth)
	return b
}

// findChromium returns the path of the chromium binary, or skips the test
// (fails it when CI=true) when there is none.
func findChromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SYNCML_IMAP_CHROMIUM"); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			t.Fatalf("browsertest: SYNCML_IMAP_CHROMIUM=%q: %v", p, err)
		}
		return path
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	msg := "browsertest: chromium is not installed (apt-get install chromium; test.sh installs it)"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + "; CI=true, so this is a failure rather than a skip")
	}
	t.Skip(msg)
	return ""
}

// quietFlags keep Chromium off the network but for loopback. The proxy is
// the sink on 127.0.0.1, which Chromium bypasses for loopback addresses
// only; the resolver rules make every name and address but loopback fail to
// resolve, for what a proxy does not cover (DNS prefetch, DNS over HTTPS,
// a connection that bypasses the proxy). The rest turn off what a fresh profile would
// fetch on its own: component updates, Safe Browsing lists, metrics, sync.
func quietFlags(sinkAddr string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ProxyServer("http://" + sinkAddr),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1, EXCLUDE [::1]"),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("safebrowsing-disable-auto-update", true),
		chromedp.Flag("disable-field-trial-config", true),
		chromedp.Flag("no-service-autorun", true),
		chromedp.Flag("disable-component-extensions-with-background-pages", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,"+
			"MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,"+
			"CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions,"+
			"NetworkTimeServiceQuerying"),
		// The servers under test use throwaway certificates; only
		// loopback is reachable, so nothing else is trusted by this.
		chromedp.IgnoreCertErrors,
	}
}

// step returns the context of one step, with its deadline.
func (b *Browser) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, ActionTimeout)
}

// fatalf fails the test; a step that ran out of time says so plainly.
func (b *Browser) fatalf(err error, format string, args ...any) {
	b.t.Helper()
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, context.DeadlineExceeded) {
		b.t.Fatalf("browsertest: %s: not done within %v (on %s)", what, ActionTimeout, b.location())
	}
	b.t.Fatalf("browsertest: %s: %v (on %s)", what, err, b.location())
}

// location is the page's URL for error messages, without failing.
func (b *Browser) location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "an unknown page"
	}
	return u
}

// testLog passes chromedp's log lines to t.Logf until the test ends, after
// which t.Logf would panic.
type testLog struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (l *testLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("browsertest: chromedp: "+format, args...)
	}
}

func (l *testLog) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}

// lockedBuffer collects Chromium's output, written from chromedp's
// goroutine.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// tail returns at most the last n bytes written.
func (w *lockedBuffer) tail(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	b := w.buf.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
