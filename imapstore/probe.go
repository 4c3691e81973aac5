package imapstore

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"

	"github.com/emersion/go-imap/v2/imapclient"
)

// ProbeData is what Probe learnt of the server without logging in.
type ProbeData struct {
	Address string
	TLS     TLSMode
	// TLSVersion is the negotiated TLS version ("TLS 1.3"), empty without TLS.
	TLSVersion string
	// Caps are the capabilities announced before login, sorted. Servers
	// such as Dovecot announce more (CONDSTORE, QRESYNC) after login.
	Caps []string
}

// Probe connects to the server the options name, secures the connection
// as configured, and reads the greeting and capabilities; it does not log
// in. It is what `syncml-imap check` uses when it has no user to log in as.
func Probe(ctx context.Context, opts *Options) (*ProbeData, error) {
	o := opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, o.DialTimeout)
	defer cancel()
	c, tlsVersion, err := connect(ctx, &o, effectiveTLSConfig(&o))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	out := &ProbeData{Address: o.Address, TLS: o.TLS, TLSVersion: tlsVersion}
	caps, err := c.Capability().Wait()
	if err != nil {
		return nil, fmt.Errorf("imapstore: capabilities of %s: %w", o.Address, ctxErr(ctx, err))
	}
	for cp := range caps {
		out.Caps = append(out.Caps, string(cp))
	}
	slices.Sort(out.Caps)
	c.Logout().Wait()
	return out, nil
}

// connect opens the connection, secures it as o.TLS says and waits for
// the greeting. It returns the negotiated TLS version, if any.
func connect(ctx context.Context, o *Options, tlsConfig *tls.Config) (*imapclient.Client, string, error) {
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", o.Address)
	if err != nil {
		return nil, "", fmt.Errorf("imapstore: connect to %s: %w", o.Address, err)
	}
	if o.wrapConn != nil {
		conn = o.wrapConn(conn)
	}
	// Until the greeting is in, the dial context bounds everything.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	copts := &imapclient.Options{TLSConfig: tlsConfig}
	var c *imapclient.Client
	version := ""
	switch o.TLS {
	case TLSImplicit:
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, "", fmt.Errorf("imapstore: TLS with %s: %w", o.Address, err)
		}
		version = tls.VersionName(tc.ConnectionState().Version)
		c = imapclient.New(tc, copts)
	case TLSStartTLS:
		c, err = imapclient.NewStartTLS(conn, copts)
		if err != nil {
			conn.Close()
			return nil, "", fmt.Errorf("imapstore: STARTTLS with %s: %w", o.Address, ctxErr(ctx, err))
		}
		version = "STARTTLS"
	case TLSNone:
		c = imapclient.New(conn, copts)
	default:
		conn.Close()
		return nil, "", fmt.Errorf("imapstore: unknown TLS mode %q", o.TLS)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, "", fmt.Errorf("imapstore: greeting from %s: %w", o.Address, ctxErr(ctx, err))
	}
	return c, version, nil
}

// effectiveTLSConfig fills in the server name from the address.
func effectiveTLSConfig(o *Options) *tls.Config {
	tlsConfig := o.TLSConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	if tlsConfig.ServerName == "" && !tlsConfig.InsecureSkipVerify {
		tlsConfig = tlsConfig.Clone()
		if host, _, err := net.SplitHostPort(o.Address); err == nil {
			tlsConfig.ServerName = host
		}
	}
	return tlsConfig
}
