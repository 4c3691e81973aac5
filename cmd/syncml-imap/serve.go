package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"syncml-imap/config"
	"syncml-imap/plugin"
)

// shutdownTimeout is how long a stopping daemon waits for requests under
// way. A SyncML message is answered in seconds; a session spans many
// requests and one cut off is simply repeated by the device.
const shutdownTimeout = 30 * time.Second

// cmdServe runs the daemon until SIGINT or SIGTERM (run's ctx); SIGHUP
// reloads the TLS certificate.
func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f := newFlags("serve", stderr)
	if err := f.fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := f.load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	logger := newLogger(cfg, stderr)
	// Caught from the start: Go's default for SIGHUP is to exit, and
	// "systemctl reload" sends it whether or not there is TLS to reload.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	h, err := plugin.NewHandler(cfg, logger)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer h.Close()
	d := &daemon{handler: serveMux(cfg, h, logger), logger: logger, shutdownTimeout: shutdownTimeout}
	if cfg.HTTP.TLSCert != "" {
		if d.certs, err = loadCerts(cfg.HTTP.TLSCert, cfg.HTTP.TLSKey, logger); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	}
	if addr := cfg.HTTP.PprofListen; addr != "" {
		stop, err := startPprof(addr, logger)
		if err != nil {
			logger.Error("profiler listen", "address", addr, "err", err)
			return 1
		}
		defer stop()
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		logger.Error("listen", "address", cfg.HTTP.Listen, "err", err)
		return 1
	}
	scheme := "http"
	if d.certs != nil {
		scheme = "https"
	}
	logger.Info("serving SyncML", "url", scheme+"://"+ln.Addr().String()+cfg.HTTP.Path, "imap", cfg.IMAP.Address,
		"metrics_path", cfg.HTTP.MetricsPath, "health_path", cfg.HTTP.HealthPath)
	if cfg.DAV.Enabled {
		logger.Info("serving CardDAV and CalDAV", "url", scheme+"://"+ln.Addr().String()+cfg.DAV.Path)
	}
	if cfg.EAS.Enabled {
		logger.Info("serving ActiveSync", "url", scheme+"://"+ln.Addr().String()+"/Microsoft-Server-ActiveSync")
	}
	if cfg.Web.Enabled {
		logger.Info("serving the people's pages", "url", scheme+"://"+ln.Addr().String()+cfg.Web.Path)
	}
	err = d.run(ctx, ln, hup)
	// The HTTP server is down: sessions not completed by now end without
	// committing anything, by design (the devices repeat them); kept
	// IMAP logins are logged out.
	h.Close()
	if err != nil {
		logger.Error("server stopped", "err", err)
		return 1
	}
	logger.Info("stopped")
	return 0
}

// serveMux routes the endpoint, the metrics and the health check, each
// at its configured path (metrics and health check only when set).
func serveMux(cfg *config.Config, h *plugin.Handler, logger *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle(cfg.HTTP.Path, h)
	if p := cfg.HTTP.MetricsPath; p != "" {
		mux.Handle(p, h.Metrics.Handler(logger))
	}
	if p := cfg.HTTP.HealthPath; p != "" {
		mux.Handle(p, h.Health)
	}
	if d := h.DAVHandler(); d != nil {
		p := strings.TrimSuffix(cfg.DAV.Path, "/")
		mux.Handle(p+"/", d)
		mux.Handle("/.well-known/carddav", d)
		mux.Handle("/.well-known/caldav", d)
	}
	if eh := h.EASHandler(); eh != nil {
		for _, p := range plugin.EASPaths {
			mux.Handle(p, eh)
		}
	}
	if wh := h.WebHandler(); wh != nil {
		// At "/" the paths above keep theirs: the mux routes to the
		// longest pattern.
		mux.Handle(cfg.Web.Path, wh)
	}
	return mux
}

// daemon is the HTTP(S) server of `serve`.
type daemon struct {
	handler http.Handler
	// certs, when set, serves HTTPS with the certificate it holds.
	certs           *certReloader
	logger          *slog.Logger
	shutdownTimeout time.Duration
}

// run serves on ln until ctx ends, reloading the certificate on each
// value from hup. It then stops accepting connections and waits up to
// shutdownTimeout for the requests under way before it cuts them off.
// It returns nil after such a shutdown, else why the server failed.
func (d *daemon) run(ctx context.Context, ln net.Listener, hup <-chan os.Signal) error {
	srv := &http.Server{
		Handler:           d.handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// TLS handshake failures, client hang-ups mid-request and the like.
		ErrorLog: slog.NewLogLogger(d.logger.Handler(), slog.LevelWarn),
	}
	if d.certs != nil {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: d.certs.getCertificate}
	}
	errc := make(chan error, 1)
	go func() {
		if d.certs != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	for {
		select {
		case err := <-errc:
			return err
		case <-hup:
			if d.certs == nil {
				d.logger.Info("SIGHUP: no TLS certificate to reload")
				continue
			}
			d.certs.reload()
		case <-ctx.Done():
			d.logger.Info("shutting down: no new connections, waiting for requests under way", "timeout", d.shutdownTimeout.String())
			sctx, cancel := context.WithTimeout(context.Background(), d.shutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				d.logger.Warn("requests still under way at the shutdown timeout, cutting them off", "err", err)
				srv.Close()
			}
			if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}
	}
}

// certReloader holds the HTTPS certificate; reload swaps it for the
// files' current content, so that a renewed certificate needs no restart.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	cert              atomic.Pointer[tls.Certificate]
}

// loadCerts loads the certificate for the first time; unlike a reload, a
// failure here is fatal.
func loadCerts(certFile, keyFile string, logger *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	c, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cert.Store(c)
	return r, nil
}

func (r *certReloader) load() (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("http.tls_cert %s, http.tls_key %s: %w", r.certFile, r.keyFile, err)
	}
	r.logger.Info("TLS certificate loaded", "cert", r.certFile, "subject", c.Leaf.Subject.String(),
		"dns_names", c.Leaf.DNSNames, "not_after", c.Leaf.NotAfter)
	if time.Now().After(c.Leaf.NotAfter) {
		r.logger.Warn("TLS certificate has expired", "cert", r.certFile, "not_after", c.Leaf.NotAfter)
	}
	return &c, nil
}

// reload loads the files again. A certificate that does not load (half
// written, key not matching) leaves the old one in use.
func (r *certReloader) reload() error {
	c, err := r.load()
	if err != nil {
		r.logger.Error("TLS certificate not reloaded, keeping the old one", "err", err)
		return err
	}
	r.cert.Store(c)
	return nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}
