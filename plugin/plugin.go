// Package plugin is the HTTP front of syncml-imap: it is what a mail server
// mounts or runs beside itself. It routes requests to SyncML sessions,
// authenticates users against the IMAP server and wires the protocol
// (package syncml) to the mailbox store (package imapstore). Neither of
// those knows the other; this package is the only place they meet.
package plugin

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"syncml-imap/config"
	"syncml-imap/dav"
	"syncml-imap/imapstore"
	"syncml-imap/pim"
	"syncml-imap/syncml"
)

// noLimit stands for a timeout of 0 in the configuration ("no limit").
const noLimit = 100 * 365 * 24 * time.Hour

// StoreOptions turns the configuration into the store's options: server
// address and TLS (with the configured CA bundle), timeouts, folder names.
func StoreOptions(cfg *config.Config, logger *slog.Logger) (*imapstore.Options, error) {
	o := &imapstore.Options{
		Address:        cfg.IMAP.Address,
		TLS:            imapstore.TLSMode(cfg.IMAP.TLS),
		DialTimeout:    orNoLimit(cfg.IMAP.DialTimeout.Duration),
		CommandTimeout: orNoLimit(cfg.IMAP.CommandTimeout.Duration),
		Folders: map[imapstore.Kind]string{
			imapstore.KindContacts: cfg.Folders.Contacts,
			imapstore.KindCalendar: cfg.Folders.Calendar,
			imapstore.KindTasks:    cfg.Folders.Tasks,
		},
		StateFolder:  cfg.Folders.State,
		BackupFolder: cfg.Folders.Backup,
		Logger:       logger,
	}
	if o.TLS != imapstore.TLSNone {
		tc := &tls.Config{InsecureSkipVerify: cfg.IMAP.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
		if cfg.IMAP.CAFile != "" {
			pem, err := os.ReadFile(cfg.IMAP.CAFile)
			if err != nil {
				return nil, fmt.Errorf("plugin: imap.ca_file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("plugin: imap.ca_file %q: no PEM certificate in it", cfg.IMAP.CAFile)
			}
			tc.RootCAs = pool
		}
		o.TLSConfig = tc
	}
	return o, nil
}

// orNone gives the engine's "none" (-1) for a configured 0.
func orNone(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func orNoLimit(d time.Duration) time.Duration {
	if d == 0 {
		return noLimit
	}
	return d
}

// NewHandler builds the SyncML endpoint from the configuration: a
// syncml.Server whose users log in against the IMAP server (failed logins
// throttled as [auth] says), with its metrics and health check.
func NewHandler(cfg *config.Config, logger *slog.Logger) (*Handler, error) {
	opts, err := StoreOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	// The MaxMsgSize the server announces keeps clients under the body
	// limit it enforces.
	maxMsg := int64(65535)
	if lim := cfg.HTTP.MaxBodyBytes; lim > 0 && lim < maxMsg {
		maxMsg = lim
	}
	metrics := NewMetrics()
	imapAuth := &IMAPAuth{Options: opts}
	if d := cfg.IMAP.KeepIdle.Duration; d > 0 {
		imapAuth.Pool = NewPool(d, cfg.IMAP.KeepPerUser)
		metrics.KeepPool(imapAuth.Pool)
	}
	// Every connection of the sessions' stores passes the budget, which
	// counts them; the health check's and admin commands' do not.
	budget := ConnBudgetOptions{MaxPerUser: cfg.IMAP.MaxUserConnections, Wait: cfg.IMAP.ConnectionWait.Duration,
		Pool: imapAuth.Pool, Metrics: metrics}
	if cfg.IMAP.MasterUser != "" {
		budget.MasterSuffix = cfg.IMAP.MasterSeparator + cfg.IMAP.MasterUser
	}
	imapAuth.Budget = NewConnBudget(budget)
	storeOpts := *opts
	storeOpts.Conns = imapAuth.Budget
	// One hub for the process: a write of any front wakes the Pings of
	// the user, and IDLE connections are shared by the user's devices.
	storeOpts.Watch = imapstore.NewWatchHub(&imapstore.WatchHubOptions{Poll: cfg.EAS.PingPoll.Duration, UserOf: imapAuth.Budget.userOf})
	imapAuth.Options = &storeOpts
	var auth pim.Authenticator = imapAuth
	if cfg.IMAP.MasterUser != "" {
		auth = &MasterAuth{IMAPAuth: *imapAuth, Master: cfg.IMAP.MasterUser,
			Password: cfg.IMAP.MasterPassword, Separator: cfg.IMAP.MasterSeparator}
	}
	// Throttled attempts never reach the metered IMAP login.
	auth = metrics.Authenticator(auth)
	accounts := NewAccounts()
	auth = accounts.Authenticator(auth)
	var throttle pim.AuthThrottle
	var t *Throttle
	if cfg.Auth.MaxFailures > 0 {
		t = NewThrottle(auth, &ThrottleOptions{MaxFailures: cfg.Auth.MaxFailures, Lockout: cfg.Auth.Lockout.Duration,
			Logger: logger, Metrics: metrics})
		auth, throttle = t.Authenticator(), t
	}
	var secrets syncml.SecretSource
	if cfg.Auth.SecretsFile != "" {
		sf, err := LoadSecrets(cfg.Auth.SecretsFile)
		if err != nil {
			return nil, err
		}
		secrets = sf
	}
	srv := syncml.NewServer(syncml.ServerOptions{
		Policy:          Policy(cfg.Sync.Defaults),
		MaxDevices:      cfg.Sync.MaxDevices,
		StateCacheItems: orNone(cfg.Sync.StateCacheItems),
		Auth:            auth,
		Throttle:        throttle,
		Secrets:         secrets,
		Aliases:         Aliases(cfg.Sync.Aliases),
		SessionTimeout:  cfg.HTTP.SessionTimeout.Duration,
		IdleRelease:     orNoLimit(cfg.HTTP.IdleRelease.Duration),
		MaxSessions:     cfg.HTTP.MaxSessions,
		MaxUserSessions: cfg.HTTP.MaxUserSessions,
		MaxMsgSize:      maxMsg,
		Logger:          logger,
		OnSession:       metrics.ObserveSession,
	})
	// A login at the user's full budget first has the user's sessions
	// that wait between messages give their connections back, and the
	// user's Pings their IDLE connections (they poll then): a device
	// that syncs goes before one that waits.
	imapAuth.Budget.SetReleaseIdle(func(user string) int {
		return srv.ReleaseIdle(user) + storeOpts.Watch.ReleaseIdle(user)
	})
	var proxies []netip.Prefix
	for _, p := range cfg.HTTP.TrustedProxies {
		pr, err := config.ParsePrefix(p)
		if err != nil {
			return nil, fmt.Errorf("http.trusted_proxies: %q: %w", p, err)
		}
		proxies = append(proxies, pr)
	}
	var davHandler *dav.Handler
	if cfg.DAV.Enabled {
		davHandler = &dav.Handler{Auth: auth, Prefix: strings.TrimSuffix(cfg.DAV.Path, "/"), Logger: logger,
			ContactFolders: cfg.Sync.Defaults.ContactFolders}
	}
	h := &Handler{Server: srv, DAV: davHandler, PublicURL: cfg.HTTP.PublicURL, MaxBodyBytes: cfg.HTTP.MaxBodyBytes, Logger: logger,
		Metrics: metrics, Health: NewHealth(opts, logger), TrustedProxies: proxies,
		Admin: &AdminHTTP{Auth: auth, Throttle: t, Accounts: accounts, MasterUser: cfg.IMAP.MasterUser, MasterPassword: cfg.IMAP.MasterPassword, Logger: logger},
		pool:  imapAuth.Pool, watch: storeOpts.Watch}
	if cfg.EAS.Enabled {
		h.EAS, h.Autodiscover = newEAS(cfg, auth, h)
		h.EAS.PingPoll = cfg.EAS.PingPoll.Duration
	}
	if cfg.Web.Enabled {
		if h.Web, err = newWeb(cfg, auth, t, h); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Aliases merges the configured database aliases into the built-in ones.
// Names are matched without case and without a leading "./".
func Aliases(extra map[string]string) map[string]pim.Kind {
	all := make(map[string]pim.Kind, len(syncml.DefaultAliases)+len(extra))
	for k, v := range syncml.DefaultAliases {
		all[k] = v
	}
	for k, v := range extra {
		all[strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(k)), "./"), "/")] = pim.Kind(v)
	}
	return all
}
