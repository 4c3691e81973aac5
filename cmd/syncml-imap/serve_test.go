package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"syncml-imap/config"
)

// syncBuffer is a bytes.Buffer a running command writes to while the
// test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeSelfSigned writes a new self-signed certificate for 127.0.0.1
// named cn, and its key, to certFile and keyFile.
func writeSelfSigned(t *testing.T, cn, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs `syncml-imap serve -config cfg` with a context standing
// for SIGINT. stop cancels it and returns its exit code.
func startServe(t *testing.T, cfg string) (stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stderr = &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- cmdServe(ctx, []string{"-config", cfg}, io.Discard, stderr) }()
	return stderr, func() int {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
			return 0
		}
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// bound (a hung daemon, not a slow one).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestServeTLSReload: serve HTTPS, then replace the certificate files and
// send SIGHUP: new connections get the new certificate; a broken one is
// refused and the last good one stays.
func TestServeTLSReload(t *testing.T) {
	// Should SIGHUP arrive before serve catches it, it must not end the
	// test binary.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, "first", certFile, keyFile)
	addr := freeAddr(t)
	cfg := writeConfig(t, fmt.Sprintf("[imap]\naddress = \"127.0.0.1:1\"\n[http]\nlisten = %q\ntls_cert = %q\ntls_key = %q\n[log]\nformat = \"json\"\n",
		addr, certFile, keyFile))
	stderr, stop := startServe(t, cfg)

	servedName := func() string {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return ""
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	waitFor(t, "HTTPS with the first certificate", func() bool { return servedName() == "first" })

	// The endpoint, metrics and health check answer over HTTPS.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	for path, want := range map[string]struct {
		code int
		says string
	}{
		"/syncml":  {200, "SyncML endpoint"},
		"/metrics": {200, "syncml_imap_sessions_total"},
		"/healthz": {503, "IMAP server not answering"},
	} {
		resp, err := client.Get("https://" + addr + path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want.code || !strings.Contains(string(body), want.says) {
			t.Errorf("%s: %d %.200q, want %d with %q", path, resp.StatusCode, body, want.code, want.says)
		}
	}

	writeSelfSigned(t, "second", certFile, keyFile)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, "the second certificate after SIGHUP", func() bool { return servedName() == "second" })

	os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o600)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	waitFor(t, "the reload error in the log", func() bool { return strings.Contains(stderr.String(), "TLS certificate not reloaded") })
	if got := servedName(); got != "second" {
		t.Errorf("after a broken certificate: serving %q, want the last good one", got)
	}

	if code := stop(); code != 0 {
		t.Errorf("serve exited %d\n%s", code, stderr.String())
	}
	// [log] format = "json": every line is a JSON object.
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("log line not JSON: %q", line)
		}
	}
}

// TestServeRefusesBadCertificate: a certificate that does not load at
// start is fatal, unlike on reload.
func TestServeRefusesBadCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, "a", certFile, keyFile)
	otherKey := filepath.Join(dir, "other.pem")
	writeSelfSigned(t, "b", filepath.Join(dir, "b.pem"), otherKey)
	cfg := writeConfig(t, fmt.Sprintf("[http]\nlisten = %q\ntls_cert = %q\ntls_key = %q\n", freeAddr(t), certFile, otherKey))
	code, _, errs := runCmd("serve", "-config", cfg)
	if code != 1 || !strings.Contains(errs, "http.tls_cert") {
		t.Errorf("mismatched key: exit %d, %q", code, errs)
	}
}

// TestGracefulShutdown: when the daemon is told to stop, it takes no new
// connections but lets a request under way finish.
func TestGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var logs syncBuffer
	d := &daemon{handler: slow, logger: slog.New(slog.NewTextHandler(&logs, nil)), shutdownTimeout: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- d.run(ctx, ln, nil) }()

	type answer struct {
		body string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			answered <- answer{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		answered <- answer{string(b), err}
	}()
	<-entered
	cancel()
	waitFor(t, "the listener to close", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("run returned (%v) while a request was under way", err)
	case a := <-answered:
		t.Fatalf("request ended before it was let go: %+v", a)
	default:
	}
	close(release)
	if a := <-answered; a.err != nil || a.body != "finished" {
		t.Errorf("request under way: %q, %v", a.body, a.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("run: %v", err)
	}
}

// TestShutdownTimeout: a request that outlives the shutdown timeout is
// cut off and the daemon stops anyway.
func TestShutdownTimeout(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	stuck := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	d := &daemon{handler: stuck, logger: slog.New(slog.NewTextHandler(&logs, nil)), shutdownTimeout: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- d.run(ctx, ln, nil) }()
	reqErr := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err == nil {
			resp.Body.Close()
		}
		reqErr <- err
	}()
	<-entered
	cancel()
	if err := <-stopped; err != nil {
		t.Errorf("run: %v", err)
	}
	if err := <-reqErr; err == nil {
		t.Error("the stuck request got an answer")
	}
	if !strings.Contains(logs.String(), "cutting them off") {
		t.Errorf("log: %s", logs.String())
	}
}

// TestNewLogger: [log] level and format are honoured.
func TestNewLogger(t *testing.T) {
	cfg := config.Default()
	cfg.Log.Level, cfg.Log.Format = config.LogLevelWarn, config.LogFormatJSON
	var buf bytes.Buffer
	l := newLogger(cfg, &buf)
	l.Info("quiet")
	l.Warn("loud", "n", 1)
	var v map[string]any
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil || v["msg"] != "loud" || strings.Contains(buf.String(), "quiet") {
		t.Errorf("warn/json: %q (%v)", buf.String(), err)
	}
	cfg.Log.Level, cfg.Log.Format = config.LogLevelDebug, config.LogFormatText
	buf.Reset()
	newLogger(cfg, &buf).Debug("detail")
	if !strings.HasPrefix(buf.String(), "time=") || !strings.Contains(buf.String(), "level=DEBUG msg=detail") {
		t.Errorf("debug/text: %q", buf.String())
	}
}
