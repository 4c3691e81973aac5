package imapstore

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Logging in, and telling "the server cannot serve now" from "the server
// refused the credentials".
//
// The login itself is spoken by the small IMAP writer of multiappend.go
// (greeting, STARTTLS, CAPABILITY, ID, LOGIN), which both connections of
// an Account use: go-imap's client cannot send the ID keys Dovecot reads
// the device's address from. The logged-in connection is then handed to
// go-imap's client as if the server had greeted it with PREAUTH.

type originKey struct{}

// WithOriginatingIP returns ctx carrying the address of the device a
// login is made for: Dial sends it to the server (IMAP ID
// x-originating-ip, RFC 2971) so that a server that trusts this daemon
// (Dovecot's login_trusted_networks) logs and throttles the device's
// address instead of the daemon's. ip is an address, "host:port" or
// "[v6]:port" (the port is sent as x-originating-port); anything else is
// ignored.
func WithOriginatingIP(ctx context.Context, ip string) context.Context {
	if ap, ok := parseOrigin(ip); ok {
		return context.WithValue(ctx, originKey{}, ap)
	}
	return ctx
}

func originOf(ctx context.Context) netip.AddrPort {
	ap, _ := ctx.Value(originKey{}).(netip.AddrPort)
	return ap
}

func parseOrigin(s string) (netip.AddrPort, bool) {
	s = strings.TrimSpace(s)
	if host, port, err := net.SplitHostPort(s); err == nil {
		a, aerr := netip.ParseAddr(host)
		p, perr := strconv.ParseUint(port, 10, 16)
		if aerr != nil || perr != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(a.WithZone("").Unmap(), uint16(p)), true
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(a.WithZone("").Unmap(), 0), true
}

// login connects and logs in as o says, and returns a go-imap client on
// the logged-in connection with the capabilities announced after login.
// An extra connection (IDLE) is one the gate may refuse (see ConnGate);
// unilateral, when set, is told of the server's unilateral data.
func login(ctx context.Context, o *Options, tlsConf *tls.Config, origin netip.AddrPort, username, password string, extra bool, unilateral *imapclient.UnilateralDataHandler) (*imapclient.Client, map[string]bool, error) {
	wrap, failed, err := o.gate(ctx, username, extra, o.wrapConn)
	if err != nil {
		return nil, nil, markUnavailable(fmt.Errorf("imapstore: login as %q at %s: %w", username, o.Address, err))
	}
	w, err := dialMultiAppender(ctx, &maDialOptions{
		Address:   o.Address,
		TLS:       o.TLS,
		TLSConfig: tlsConf,
		Timeout:   o.DialTimeout,
		Origin:    origin,
		wrap:      wrap,
	}, username, password)
	if err != nil {
		failed()
		return nil, nil, loginError(username, o.Address, err)
	}
	caps := w.Caps()
	conn, rest := w.detach()
	names := make([]string, 0, len(caps))
	for c := range caps {
		names = append(names, c)
	}
	slices.Sort(names)
	greeting := "* PREAUTH [CAPABILITY " + strings.Join(names, " ") + "] logged in\r\n"
	c := imapclient.New(&handedConn{Conn: conn, r: io.MultiReader(strings.NewReader(greeting), bytes.NewReader(rest), conn)},
		&imapclient.Options{TLSConfig: tlsConf, UnilateralDataHandler: unilateral})
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, nil, markUnavailable(fmt.Errorf("imapstore: login as %q at %s: %w", username, o.Address, ctxErr(ctx, err)))
	}
	return c, caps, nil
}

// handedConn is a connection whose first bytes come from r.
type handedConn struct {
	net.Conn
	r io.Reader
}

func (c *handedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// loginError says why a login failed: ErrAuthFailed when the server
// refused the credentials, ErrUnavailable when it could not be reached or
// could not decide (auth process down, a connection limit, shutting down).
func loginError(username, addr string, err error) error {
	var re *maResponseError
	if errors.As(err, &re) && re.Status == "NO" && (re.Command == "LOGIN" || re.Command == "AUTHENTICATE") {
		switch {
		case unavailableCode(re.Code, re.Text):
			return &unavailableError{fmt.Errorf("imapstore: login as %q at %s: server cannot log in now: %s", username, addr, codeText(re.Code, re.Text))}
		case re.Code == string(imap.ResponseCodePrivacyRequired), re.Code == string(imap.ResponseCodeClientBug):
			// Not the user's fault: the configuration (TLS) is wrong.
			return fmt.Errorf("imapstore: login as %q at %s: %s", username, addr, codeText(re.Code, re.Text))
		}
		// AUTHENTICATIONFAILED, AUTHORIZATIONFAILED, EXPIRED, or no code
		// (what servers before RFC 5530 send for a wrong password).
		return fmt.Errorf("%w for user %q: %s", ErrAuthFailed, username, re.Text)
	}
	msg := strings.TrimPrefix(err.Error(), "imapstore: multiappend: ")
	return markUnavailable(&textError{fmt.Sprintf("imapstore: login as %q at %s: %s", username, addr, msg), err})
}

func codeText(code, text string) string {
	if code == "" {
		return text
	}
	return "[" + code + "] " + text
}

// textError is err with another text.
type textError struct {
	msg string
	err error
}

func (e *textError) Error() string { return e.msg }
func (e *textError) Unwrap() error { return e.err }

// unavailableError is an error that also matches ErrUnavailable, with
// the text of the error it wraps.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string   { return e.err.Error() }
func (e *unavailableError) Unwrap() []error { return []error{e.err, ErrUnavailable} }

// markUnavailable makes err match ErrUnavailable when it says the server
// could not be reached or could not serve now; other errors (and nil)
// come back as they are.
func markUnavailable(err error) error {
	if err == nil || errors.Is(err, ErrUnavailable) || !isUnavailable(err) {
		return err
	}
	return &unavailableError{err}
}

// isUnavailable tells a server that is down, unreachable, too slow,
// shutting down or over a limit from one that refused the request. A
// context the caller cancelled is neither.
func isUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EPIPE, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH} {
		if errors.Is(err, errno) {
			return true
		}
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return true
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*net.DNSError](err); ok {
		return true
	}
	if _, ok := errors.AsType[*maByeError](err); ok {
		return true
	}
	if re, ok := errors.AsType[*maResponseError](err); ok {
		return unavailableCode(re.Code, re.Text)
	}
	if ie, ok := errors.AsType[*imap.Error](err); ok {
		return ie.Type == imap.StatusResponseTypeBye || unavailableCode(string(ie.Code), ie.Text)
	}
	return false
}

// unavailableCode reports whether a NO says "not now" (RFC 5530):
// UNAVAILABLE (Dovecot: "Temporary authentication failure", its auth
// process down or its passdb failing), LIMIT (Dovecot: "Maximum number of
// connections from user+IP exceeded"), SERVERBUG, INUSE. Without a code,
// the text decides.
func unavailableCode(code, text string) bool {
	switch imap.ResponseCode(code) {
	case imap.ResponseCodeUnavailable, imap.ResponseCodeLimit, imap.ResponseCodeServerBug, imap.ResponseCodeInUse:
		return true
	case "":
		t := strings.ToLower(text)
		for _, s := range []string{"temporary", "temporarily", "try again", "maximum number of connections", "too many connections"} {
			if strings.Contains(t, s) {
				return true
			}
		}
	}
	return false
}
