package imapstore

// A small IMAP writer that stores many messages per round trip.
//
// go-imap/v2 (beta.8) cannot send MULTIAPPEND (RFC 3502). Against Dovecot 2.3
// one APPEND per message stores a few hundred messages a second, while one
// MULTIAPPEND of 100 messages with LITERAL+ (RFC 7888) stores several
// thousand. multiAppender speaks just enough IMAP for that on a connection of
// its own: greeting, optional STARTTLS, CAPABILITY, LOGIN (or AUTHENTICATE
// PLAIN), APPEND and LOGOUT.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// appendMessage is one message for multiAppender.Append.
type appendMessage struct {
	Flags   []string  // system (`\Seen`) or keyword flags; may be empty
	Date    time.Time // INTERNALDATE; the zero time leaves it to the server
	Literal []byte    // the whole RFC 5322 message, with CRLF line endings
}

// maDialOptions says how dialMultiAppender reaches the server.
type maDialOptions struct {
	Address   string        // host:port
	TLS       TLSMode       // "" means TLSNone
	TLSConfig *tls.Config   // nil: defaults; an empty ServerName is taken from Address
	Timeout   time.Duration // bounds the dial and each command; 0: only ctx bounds them

	// Origin, when valid, is the address of the device the login is made
	// for: sent before LOGIN as IMAP ID x-originating-ip (and
	// x-originating-port when not 0) if the server has ID (RFC 2971).
	Origin netip.AddrPort
	// wrap, for tests, wraps the TCP connection (to record commands).
	wrap func(net.Conn) net.Conn
}

// maResponseError is a tagged NO or BAD from the server. The connection stays
// usable after it. Code is the response code (RFC 3501 7.1, RFC 5530), so a
// caller can tell "TRYCREATE" (create the mailbox, then retry) from e.g.
// "OVERQUOTA".
type maResponseError struct {
	Command string // "APPEND", "LOGIN", ...
	Status  string // "NO" or "BAD"
	Code    string // upper-case response code name, e.g. "TRYCREATE"; "" if none
	Text    string // the server's human-readable text
}

func (e *maResponseError) Error() string {
	s := "imapstore: multiappend: " + e.Command + ": " + e.Status
	if e.Code != "" {
		s += " [" + e.Code + "]"
	}
	if e.Text != "" {
		s += " " + e.Text
	}
	return s
}

// maByeError is an untagged BYE the server sent before closing the
// connection (shutting down, a limit, an idle timeout).
type maByeError struct {
	Code string // response code, e.g. "UNAVAILABLE"; "" if none
	Text string
}

func (e *maByeError) Error() string {
	s := "imapstore: multiappend: server closed the connection: BYE"
	if e.Code != "" {
		s += " [" + e.Code + "]"
	}
	return s + " " + e.Text
}

// multiAppender is an IMAP connection that only appends messages, sending many
// messages in one APPEND command when the server has MULTIAPPEND.
//
// It is not safe for concurrent use. A tagged NO or BAD (*maResponseError)
// leaves it usable; any other error (I/O, timeout, cancelled context, BYE,
// input it cannot parse) leaves the connection in an unknown state, so every
// later call returns that error and the caller should Close it and dial anew.
type multiAppender struct {
	raw        net.Conn // the TCP connection; deadlines are set on it
	conn       net.Conn // raw, or a TLS connection over it
	br         *bufio.Reader
	bw         *bufio.Writer
	timeout    time.Duration
	caps       map[string]bool
	capsGen    int // counts updates of caps
	tag        uint64
	err        error // once set, the connection is unusable
	loggingOut bool
	closed     bool
	// ignore holds tags whose tagged response nobody waits for (an ID
	// pipelined before LOGIN): next drops it, whatever its status.
	ignore map[string]bool
}

const (
	maMaxLine       = 1 << 20 // longest response line accepted (literals excluded)
	maPipelineDepth = 64      // APPENDs in flight without MULTIAPPEND
	maDateLayout    = "02-Jan-2006 15:04:05 -0700"
)

var (
	maPast = time.Unix(1, 0)
	// maB64 is the base64 variant of modified UTF-7 (RFC 3501 5.1.3).
	maB64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)
)

// dialMultiAppender connects, reads the capabilities, does STARTTLS if asked,
// and logs in. The password appears in no error.
func dialMultiAppender(ctx context.Context, opts *maDialOptions, username, password string) (*multiAppender, error) {
	if opts == nil || opts.Address == "" {
		return nil, errors.New("imapstore: multiappend: no address")
	}
	switch opts.TLS {
	case "", TLSNone, TLSStartTLS, TLSImplicit:
	default:
		return nil, fmt.Errorf("imapstore: multiappend: unknown TLS mode %q", opts.TLS)
	}
	d := net.Dialer{Timeout: opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", opts.Address)
	if err != nil {
		return nil, fmt.Errorf("imapstore: multiappend: %w", err)
	}
	if opts.wrap != nil {
		conn = opts.wrap(conn)
	}
	w := &multiAppender{raw: conn, timeout: opts.Timeout}
	w.use(conn)
	if err := w.run(ctx, func() error { return w.setup(ctx, opts, username, password) }); err != nil {
		w.conn.Close()
		return nil, err
	}
	return w, nil
}

// Caps returns the capabilities the server announced after login, upper-case.
func (w *multiAppender) Caps() map[string]bool {
	caps := make(map[string]bool, len(w.caps))
	for c := range w.caps {
		caps[c] = true
	}
	return caps
}

// Append stores msgs in mailbox, in order.
//
// With MULTIAPPEND it sends one command for all of them, and the server stores
// either all of them or, if it answers NO, none (RFC 3502). Without
// MULTIAPPEND it sends one APPEND per message (pipelined when the literals
// need no continuation): each message is then stored or not on its own, the
// first NO or BAD is returned, and later messages may not have been tried.
//
// If the server announces UIDPLUS (RFC 4315), uids[i] is the UID of msgs[i]
// in mailbox and uidValidity that of mailbox; otherwise (or if the server
// sent no APPENDUID) uidValidity is 0 and uids nil. After a NO without
// MULTIAPPEND, uids[i] is 0 for the messages not stored.
//
// A *maResponseError with Code "TRYCREATE" means mailbox does not exist.
func (w *multiAppender) Append(ctx context.Context, mailbox string, msgs []appendMessage) (uidValidity uint32, uids []uint32, err error) {
	if len(msgs) == 0 {
		return 0, nil, nil
	}
	mbox, err := maEncodeMailbox(mailbox)
	if err != nil {
		return 0, nil, err
	}
	if w.caps["MULTIAPPEND"] {
		// Refused before anything is sent, not half-way.
		for i := range msgs {
			if err := msgs[i].check(); err != nil {
				return 0, nil, err
			}
		}
		return w.AppendStream(ctx, mailbox, len(msgs), func(i int) (*appendMessage, error) { return &msgs[i], nil })
	}

	cmds := make([]*maCmd, len(msgs))
	for i := range msgs {
		cmds[i] = maNewCmd("APPEND ")
		cmds[i].addString(mbox)
		if err := cmds[i].addMessage(&msgs[i]); err != nil {
			return 0, nil, err
		}
	}
	resps := make([]*maResponse, len(msgs))
	err = w.run(ctx, func() error {
		// A window at a time, so the server's answers cannot fill the
		// socket buffers while we are still writing. A command whose
		// literal needs a continuation request only starts a window.
		for i := 0; i < len(msgs); {
			w.arm(ctx)
			want := map[string]*maResponse{}
			var tags []string
			for j := i; j < len(msgs) && j-i < maPipelineDepth && (j == i || w.nonSync(len(msgs[j].Literal))); j++ {
				tag := w.nextTag()
				r, err := w.send(tag, cmds[j])
				if err != nil {
					return err
				}
				want[tag] = r // non-nil if refused before its literal
				tags = append(tags, tag)
			}
			if err := w.bw.Flush(); err != nil {
				return err
			}
			if err := w.readTagged(want); err != nil {
				return err
			}
			failed := false
			for k, tag := range tags {
				resps[i+k] = want[tag]
				failed = failed || want[tag].Kind != "OK"
			}
			if failed {
				return nil
			}
			i += len(tags)
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	uids = make([]uint32, len(msgs))
	got := 0
	var first error
	for i, r := range resps {
		if r == nil {
			break
		}
		if e := maStatusError("APPEND", r); e != nil {
			if first == nil {
				first = e
			}
			continue
		}
		if !w.caps["UIDPLUS"] {
			continue
		}
		v, u, err := maAppendUID(r, 1)
		if err != nil {
			return 0, nil, err
		}
		if u == nil {
			continue
		}
		if got > 0 && v != uidValidity {
			return 0, nil, fmt.Errorf("imapstore: multiappend: UIDVALIDITY of %q changed from %d to %d during APPEND", mailbox, uidValidity, v)
		}
		uidValidity, uids[i] = v, u[0]
		got++
	}
	if got == 0 {
		uids = nil
	}
	return uidValidity, uids, first
}

// AppendStream is Append of n messages with MULTIAPPEND, made as they
// are sent: msg(i) is called for i = 0 to n-1 in order, and message i
// is on its way to the server, which stores it, while message i+1 is
// made. A message msg fails to make (or that is invalid) cannot be taken
// back from the command: the connection is then unusable (Close it), the
// server, seeing the command cut, stores none of the messages (RFC 3502),
// and the error is returned. msg is not called for the messages after a
// tagged NO that comes before their turn (a synchronising literal
// refused).
func (w *multiAppender) AppendStream(ctx context.Context, mailbox string, n int, msg func(i int) (*appendMessage, error)) (uidValidity uint32, uids []uint32, err error) {
	if n == 0 {
		return 0, nil, nil
	}
	if !w.caps["MULTIAPPEND"] {
		return 0, nil, errors.New("imapstore: multiappend: the server has no MULTIAPPEND")
	}
	mbox, err := maEncodeMailbox(mailbox)
	if err != nil {
		return 0, nil, err
	}
	var r *maResponse
	err = w.run(ctx, func() error {
		w.arm(ctx)
		tag := w.nextTag()
		head := maNewCmd("APPEND ")
		head.addString(mbox)
		w.bw.WriteString(tag + " ")
		var err error
		if r, err = w.sendPart(tag, head); r != nil || err != nil {
			return err
		}
		for i := range n {
			m, err := msg(i)
			c := maNewCmd("")
			if err == nil {
				err = c.addMessage(m)
			}
			if err != nil {
				return fmt.Errorf("imapstore: multiappend: message %d of %d, the command is cut: %w", i+1, n, err)
			}
			if r, err = w.sendPart(tag, c); r != nil || err != nil {
				return err
			}
			// Message i goes now, not when the buffer is full.
			if err := w.bw.Flush(); err != nil {
				return err
			}
		}
		w.bw.WriteString("\r\n")
		r, err = w.await(tag)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	if err := maStatusError("APPEND", r); err != nil {
		return 0, nil, err
	}
	if !w.caps["UIDPLUS"] {
		return 0, nil, nil
	}
	return maAppendUID(r, n)
}

// Close logs out (ignoring the outcome) and closes the connection.
func (w *multiAppender) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err == nil {
		timeout := w.timeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		w.loggingOut = true
		w.run(ctx, func() error { _, err := w.roundTrip(ctx, "LOGOUT", maNewCmd("LOGOUT")); return err })
		cancel()
	}
	w.err = fmt.Errorf("imapstore: multiappend: %w", net.ErrClosed)
	return w.conn.Close()
}

// detach hands the logged-in connection over to another client: it
// returns the connection (TLS, if any) and what was read from it but not
// yet used. w is unusable afterwards and must not be closed.
func (w *multiAppender) detach() (net.Conn, []byte) {
	rest, _ := w.br.Peek(w.br.Buffered())
	w.raw.SetDeadline(time.Time{})
	w.closed = true
	w.err = errors.New("imapstore: multiappend: connection handed over")
	return w.conn, bytes.Clone(rest)
}

func (w *multiAppender) setup(ctx context.Context, opts *maDialOptions, username, password string) error {
	if opts.TLS == TLSImplicit {
		if err := w.startTLS(ctx, opts); err != nil {
			return err
		}
	}
	w.arm(ctx)
	line, err := w.readLine()
	if err != nil {
		return err
	}
	g, err := maParseResponse(line)
	if err != nil {
		return err
	}
	if g.Tag == "*" && g.Kind == "BYE" {
		return &maByeError{Code: g.Code, Text: g.Text}
	}
	if g.Tag != "*" || g.Kind != "OK" && g.Kind != "PREAUTH" {
		return maProtoError("unexpected greeting", line)
	}
	if g.Code == "CAPABILITY" {
		w.setCaps(g.CodeArg)
	} else if err := w.capability(ctx); err != nil {
		return err
	}
	preauth := g.Kind == "PREAUTH"
	if opts.TLS == TLSStartTLS {
		if preauth {
			return errors.New("imapstore: multiappend: server sent PREAUTH, refusing to go on without STARTTLS")
		}
		if !w.caps["STARTTLS"] {
			return errors.New("imapstore: multiappend: server does not offer STARTTLS")
		}
		if _, err := w.roundTrip(ctx, "STARTTLS", maNewCmd("STARTTLS")); err != nil {
			return err
		}
		if w.br.Buffered() > 0 {
			return errors.New("imapstore: multiappend: server sent data after accepting STARTTLS")
		}
		if err := w.startTLS(ctx, opts); err != nil {
			return err
		}
		w.caps = nil // forget what was said in clear text
		if err := w.capability(ctx); err != nil {
			return err
		}
	}
	if preauth {
		return nil
	}
	// Servers announce more after login, often in the tagged OK.
	gen := w.capsGen
	if err := w.sendID(ctx, opts.Origin); err != nil {
		return err
	}
	if err := w.login(ctx, username, password); err != nil {
		return err
	}
	if w.capsGen == gen {
		return w.capability(ctx)
	}
	return nil
}

func (w *multiAppender) startTLS(ctx context.Context, opts *maDialOptions) error {
	cfg := &tls.Config{}
	if opts.TLSConfig != nil {
		cfg = opts.TLSConfig.Clone()
	}
	if cfg.ServerName == "" {
		if host, _, err := net.SplitHostPort(opts.Address); err == nil {
			cfg.ServerName = host
		}
	}
	w.arm(ctx)
	tc := tls.Client(w.raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("imapstore: multiappend: TLS handshake: %w", err)
	}
	w.use(tc)
	return nil
}

// sendID queues (unflushed, so that it goes out with LOGIN) an ID naming
// the device the login is for. Dovecot takes x-originating-ip from clients
// in login_trusted_networks for its logs and auth penalty, and ignores it
// from others. The answer is not waited for: an ID the server refuses
// changes nothing.
func (w *multiAppender) sendID(ctx context.Context, origin netip.AddrPort) error {
	if !origin.Addr().IsValid() || !w.caps["ID"] {
		return nil
	}
	c := maNewCmd(`ID ("name" "syncml-imap" "x-originating-ip" `)
	c.addString(origin.Addr().Unmap().String())
	if origin.Port() != 0 {
		c.add(` "x-originating-port" `)
		c.addString(strconv.Itoa(int(origin.Port())))
	}
	c.add(")")
	w.arm(ctx)
	tag := w.nextTag()
	if w.ignore == nil {
		w.ignore = map[string]bool{}
	}
	w.ignore[tag] = true
	_, err := w.send(tag, c)
	return err
}

// login logs in with LOGIN, or with AUTHENTICATE PLAIN if the server has
// LOGINDISABLED.
func (w *multiAppender) login(ctx context.Context, username, password string) error {
	if strings.IndexByte(username, 0) >= 0 || strings.IndexByte(password, 0) >= 0 {
		return errors.New("imapstore: multiappend: user name or password contains a NUL byte")
	}
	if !w.caps["LOGINDISABLED"] {
		c := maNewCmd("LOGIN ")
		c.addString(username)
		c.add(" ")
		c.addString(password)
		_, err := w.roundTrip(ctx, "LOGIN", c)
		return err
	}
	if !w.caps["AUTH=PLAIN"] {
		return errors.New("imapstore: multiappend: server has LOGINDISABLED and no AUTH=PLAIN (use TLS)")
	}
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + username + "\x00" + password))
	if w.caps["SASL-IR"] { // RFC 4959
		_, err := w.roundTrip(ctx, "AUTHENTICATE", maNewCmd("AUTHENTICATE PLAIN "+ir))
		return err
	}
	w.arm(ctx)
	tag := w.nextTag()
	w.bw.WriteString(tag + " AUTHENTICATE PLAIN\r\n")
	if err := w.bw.Flush(); err != nil {
		return err
	}
	r, err := w.waitContinue(tag)
	if err != nil {
		return err
	}
	if r == nil {
		w.bw.WriteString(ir + "\r\n")
		var err error
		if r, err = w.await(tag); err != nil {
			return err
		}
	}
	return maStatusError("AUTHENTICATE", r)
}

func (w *multiAppender) capability(ctx context.Context) error {
	gen := w.capsGen
	if _, err := w.roundTrip(ctx, "CAPABILITY", maNewCmd("CAPABILITY")); err != nil {
		return err
	}
	if w.capsGen == gen {
		return errors.New("imapstore: multiappend: server sent no capabilities")
	}
	return nil
}

func (w *multiAppender) use(c net.Conn) {
	w.conn = c
	w.br = bufio.NewReader(c)
	w.bw = bufio.NewWriterSize(c, 64<<10)
}

// run runs f, which talks to the server, and makes ctx's cancellation
// interrupt it. An error other than a *maResponseError marks the connection
// unusable.
func (w *multiAppender) run(ctx context.Context, f func() error) error {
	if w.err != nil {
		return w.err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		w.raw.SetDeadline(maPast)
		close(done)
	})
	err := f()
	if !stop() {
		<-done
	}
	var re *maResponseError
	if err == nil || errors.As(err, &re) {
		return err
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("imapstore: multiappend: %w (%w)", ctx.Err(), err)
	} else if !strings.HasPrefix(err.Error(), "imapstore: ") {
		err = fmt.Errorf("imapstore: multiappend: %w", err)
	}
	w.err = err
	return err
}

// arm sets the deadline for the next command: Timeout from now, or ctx's
// deadline if sooner. run's AfterFunc handles cancellation; the second
// check covers a cancellation racing with this SetDeadline.
func (w *multiAppender) arm(ctx context.Context) {
	var dl time.Time
	if w.timeout > 0 {
		dl = time.Now().Add(w.timeout)
	}
	if d, ok := ctx.Deadline(); ok && (dl.IsZero() || d.Before(dl)) {
		dl = d
	}
	w.raw.SetDeadline(dl)
	if ctx.Err() != nil {
		w.raw.SetDeadline(maPast)
	}
}

func (w *multiAppender) nextTag() string {
	w.tag++
	return "M" + strconv.FormatUint(w.tag, 10)
}

// nonSync reports whether a literal of n bytes may be sent without waiting
// for a continuation request (RFC 7888).
func (w *multiAppender) nonSync(n int) bool {
	return w.caps["LITERAL+"] || w.caps["LITERAL-"] && n <= 4096
}

// roundTrip sends c, waits for its tagged response and returns it, with a
// *maResponseError if it is not OK.
func (w *multiAppender) roundTrip(ctx context.Context, name string, c *maCmd) (*maResponse, error) {
	w.arm(ctx)
	tag := w.nextTag()
	r, err := w.send(tag, c)
	if err != nil {
		return nil, err
	}
	if r == nil {
		if r, err = w.await(tag); err != nil {
			return nil, err
		}
	}
	return r, maStatusError(name, r)
}

// await sends what is buffered and reads up to the tagged response of tag.
func (w *multiAppender) await(tag string) (*maResponse, error) {
	if err := w.bw.Flush(); err != nil {
		return nil, err
	}
	want := map[string]*maResponse{tag: nil}
	if err := w.readTagged(want); err != nil {
		return nil, err
	}
	return want[tag], nil
}

// maCmd is a command without its tag: text[0] lits[0] text[1] lits[1] ...
// text[n]. The literal headers are written by send.
type maCmd struct {
	text []string
	lits [][]byte
}

func maNewCmd(s string) *maCmd { return &maCmd{text: []string{s}} }

func (c *maCmd) add(s string) { c.text[len(c.text)-1] += s }

func (c *maCmd) addLiteral(b []byte) {
	c.lits = append(c.lits, b)
	c.text = append(c.text, "")
}

// addString adds s as a quoted string, or as a literal if it must be one.
// s must not contain NUL.
func (c *maCmd) addString(s string) {
	if q, ok := maQuote(s); ok {
		c.add(q)
	} else {
		c.addLiteral([]byte(s))
	}
}

// check reports whether APPEND can carry m's flags and date.
func (m *appendMessage) check() error {
	for _, f := range m.Flags {
		if !maValidFlag(f) {
			return fmt.Errorf("imapstore: multiappend: invalid flag %q", f)
		}
	}
	if !m.Date.IsZero() {
		if y := m.Date.Year(); y < 1 || y > 9999 {
			return fmt.Errorf("imapstore: multiappend: date %v out of range", m.Date)
		}
	}
	return nil
}

// addMessage adds one append-message of RFC 3502: [SP flag-list] [SP date-time] SP literal.
func (c *maCmd) addMessage(m *appendMessage) error {
	if err := m.check(); err != nil {
		return err
	}
	s := " "
	if len(m.Flags) > 0 {
		s += "(" + strings.Join(m.Flags, " ") + ") "
	}
	if !m.Date.IsZero() {
		s += `"` + m.Date.Format(maDateLayout) + `" `
	}
	c.add(s)
	c.addLiteral(m.Literal)
	return nil
}

// send writes c with tag into w.bw, flushing and waiting for the server's
// continuation request before each synchronising literal. If the server
// answers with c's tagged response instead, send returns it and writes no
// more of c. Otherwise the output is left unflushed.
func (w *multiAppender) send(tag string, c *maCmd) (*maResponse, error) {
	w.bw.WriteString(tag + " ")
	if r, err := w.sendPart(tag, c); r != nil || err != nil {
		return r, err
	}
	_, err := w.bw.WriteString("\r\n")
	return nil, err
}

// sendPart writes c, a part of command tag, as send does, without the
// tag and the CRLF that ends the command.
func (w *multiAppender) sendPart(tag string, c *maCmd) (*maResponse, error) {
	w.bw.WriteString(c.text[0])
	for i, lit := range c.lits {
		if w.nonSync(len(lit)) {
			fmt.Fprintf(w.bw, "{%d+}\r\n", len(lit))
		} else {
			fmt.Fprintf(w.bw, "{%d}\r\n", len(lit))
			if err := w.bw.Flush(); err != nil {
				return nil, err
			}
			if r, err := w.waitContinue(tag); r != nil || err != nil {
				return r, err
			}
		}
		w.bw.Write(lit)
		w.bw.WriteString(c.text[i+1])
	}
	return nil, nil
}

// waitContinue waits for a continuation request ("+"); it returns tag's
// tagged response if that comes instead.
func (w *multiAppender) waitContinue(tag string) (*maResponse, error) {
	r, err := w.next()
	if err != nil || r.Tag == "+" {
		return nil, err
	}
	if r.Tag == tag {
		return r, nil
	}
	return nil, maProtoError("unexpected response tag", r.Tag)
}

// readTagged reads until every tag in want has its tagged response, storing
// them in want; entries already set are done.
func (w *multiAppender) readTagged(want map[string]*maResponse) error {
	left := 0
	for _, r := range want {
		if r == nil {
			left++
		}
	}
	for left > 0 {
		r, err := w.next()
		if err != nil {
			return err
		}
		if r.Tag == "+" {
			return maProtoError("unexpected continuation request", r.Text)
		}
		if prev, ok := want[r.Tag]; !ok || prev != nil {
			return maProtoError("unexpected response tag", r.Tag)
		}
		want[r.Tag] = r
		left--
	}
	return nil
}

// next returns the next tagged response or continuation request, taking in
// the untagged responses before it.
func (w *multiAppender) next() (*maResponse, error) {
	for {
		line, err := w.readLine()
		if err != nil {
			return nil, err
		}
		r, err := maParseResponse(line)
		if err != nil {
			return nil, err
		}
		if r.Code == "CAPABILITY" {
			w.setCaps(r.CodeArg)
		}
		if w.ignore[r.Tag] {
			delete(w.ignore, r.Tag)
			continue
		}
		if r.Tag != "*" {
			return r, nil
		}
		switch r.Kind {
		case "BYE":
			if !w.loggingOut {
				return nil, &maByeError{Code: r.Code, Text: r.Text}
			}
		case "CAPABILITY":
			w.setCaps(r.Text)
		}
	}
}

// readLine reads one response line without its CRLF. Literals in untagged
// data responses ("* 1 FETCH (BODY[] {42}") are skipped: the line returned
// keeps the "{42}" and goes on with the text after the literal.
func (w *multiAppender) readLine() (string, error) {
	var line []byte
	for {
		chunk, err := w.br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maMaxLine {
			return "", errors.New("imapstore: multiappend: response line too long")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", maEOF(err)
		}
		line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
		if n, ok := maLiteralSize(line); ok {
			if _, err := io.CopyN(io.Discard, w.br, n); err != nil {
				return "", maEOF(err)
			}
			continue
		}
		return string(line), nil
	}
}

func maEOF(err error) error {
	if err == io.EOF {
		return fmt.Errorf("imapstore: multiappend: server closed the connection: %w", io.ErrUnexpectedEOF)
	}
	return err
}

// maLiteralSize reports whether line ends with a literal's header "{n}" and
// the literal's size. Only untagged data responses can carry literals: the
// text of status responses, CAPABILITY and continuation requests runs to the
// end of the line whatever it looks like.
func maLiteralSize(line []byte) (int64, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("* "))
	if !ok || !bytes.HasSuffix(line, []byte("}")) {
		return 0, false
	}
	word, _, _ := bytes.Cut(rest, []byte(" "))
	switch strings.ToUpper(string(word)) {
	case "OK", "NO", "BAD", "BYE", "PREAUTH", "CAPABILITY":
		return 0, false
	}
	i := bytes.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	digits := line[i+1 : len(line)-1]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	return n, err == nil
}

// maResponse is one parsed response line.
type maResponse struct {
	Tag     string // "*" (untagged), "+" (continuation request) or a command's tag
	Kind    string // upper-cased word after the tag: OK, NO, BAD, BYE, PREAUTH, CAPABILITY, a number...; "" for "+"
	Code    string // a status response's upper-cased response code name, e.g. "APPENDUID"; "" if none
	CodeArg string // the response code's arguments, e.g. "38505 3955:3957,3960"
	Text    string // a status response's text after the code, or what follows Kind
}

// maParseResponse parses a response line (without CRLF; literals, if any,
// already skipped).
func maParseResponse(line string) (*maResponse, error) {
	if line == "+" || strings.HasPrefix(line, "+ ") {
		return &maResponse{Tag: "+", Text: strings.TrimPrefix(line[1:], " ")}, nil
	}
	tag, rest, _ := strings.Cut(line, " ")
	kind, text, _ := strings.Cut(rest, " ")
	if tag == "" || kind == "" {
		return nil, maProtoError("malformed response", line)
	}
	r := &maResponse{Tag: tag, Kind: strings.ToUpper(kind), Text: text}
	switch r.Kind {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		if tag != "*" && (r.Kind == "BYE" || r.Kind == "PREAUTH") {
			return nil, maProtoError("tagged "+r.Kind, line)
		}
		if strings.HasPrefix(text, "[") {
			code, after, ok := strings.Cut(text[1:], "]")
			name, arg, _ := strings.Cut(code, " ")
			if !ok || name == "" {
				return nil, maProtoError("malformed response code", line)
			}
			r.Code, r.CodeArg, r.Text = strings.ToUpper(name), arg, strings.TrimPrefix(after, " ")
		}
	default:
		if tag != "*" {
			return nil, maProtoError("tagged response is not OK, NO or BAD", line)
		}
	}
	return r, nil
}

func (w *multiAppender) setCaps(s string) {
	w.caps = map[string]bool{}
	for _, c := range strings.Fields(s) {
		w.caps[strings.ToUpper(c)] = true
	}
	w.capsGen++
}

// maStatusError returns nil for an OK, else a *maResponseError.
func maStatusError(command string, r *maResponse) error {
	if r.Kind == "OK" {
		return nil
	}
	return &maResponseError{Command: command, Status: r.Kind, Code: r.Code, Text: r.Text}
}

// maAppendUID returns the UIDs of the APPENDUID response code in r (RFC
// 4315), which must have n of them. Without the code it returns 0, nil, nil.
func maAppendUID(r *maResponse, n int) (uint32, []uint32, error) {
	if r.Code != "APPENDUID" {
		return 0, nil, nil
	}
	v, uids, err := maParseAppendUID(r.CodeArg, n)
	if err == nil && len(uids) != n {
		err = fmt.Errorf("imapstore: multiappend: APPENDUID has %d UIDs for %d messages", len(uids), n)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%w (the messages were stored)", err)
	}
	return v, uids, nil
}

// maParseAppendUID parses APPENDUID's arguments "uidvalidity uid-set" and
// expands the set in order; it fails if the set holds more than max UIDs.
func maParseAppendUID(arg string, max int) (uint32, []uint32, error) {
	vs, set, ok := strings.Cut(arg, " ")
	v, err := maParseNZ(vs)
	if !ok || err != nil {
		return 0, nil, maProtoError("malformed APPENDUID", arg)
	}
	var uids []uint32
	for _, part := range strings.Split(set, ",") {
		los, his, isRange := strings.Cut(part, ":")
		lo, err1 := maParseNZ(los)
		hi, err2 := lo, error(nil)
		if isRange {
			hi, err2 = maParseNZ(his)
		}
		if err1 != nil || err2 != nil {
			return 0, nil, maProtoError("malformed APPENDUID", arg)
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		if uint64(len(uids))+uint64(hi-lo)+1 > uint64(max) {
			return 0, nil, maProtoError("too many UIDs in APPENDUID", arg)
		}
		for u := uint64(lo); u <= uint64(hi); u++ {
			uids = append(uids, uint32(u))
		}
	}
	return v, uids, nil
}

// maParseNZ parses an nz-number that fits 32 bits.
func maParseNZ(s string) (uint32, error) {
	if s == "" || s[0] < '1' || s[0] > '9' {
		return 0, errors.New("not an nz-number")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// maValidFlag reports whether f is a flag APPEND may carry: an atom, or "\"
// and an atom.
func maValidFlag(f string) bool {
	s := strings.TrimPrefix(f, `\`)
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// maQuote returns s as an IMAP quoted string, or ok false if s has a byte a
// quoted string cannot carry (NUL, CR, LF, 8-bit).
func maQuote(s string) (q string, ok bool) {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0 || c == '\r' || c == '\n' || c >= 0x80:
			return "", false
		case c == '"' || c == '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String(), true
}

// maEncodeMailbox encodes a UTF-8 mailbox name in IMAP modified UTF-7 (RFC
// 3501 5.1.3). The result is printable ASCII, so it can always be quoted.
func maEncodeMailbox(name string) (string, error) {
	if name == "" || !utf8.ValidString(name) {
		return "", fmt.Errorf("imapstore: multiappend: invalid mailbox name %q", name)
	}
	var b strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		var buf []byte
		for _, u := range utf16.Encode(run) {
			buf = append(buf, byte(u>>8), byte(u))
		}
		b.WriteByte('&')
		b.WriteString(maB64.EncodeToString(buf))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range name {
		if r < 0x20 || r > 0x7e {
			run = append(run, r)
			continue
		}
		flush()
		if r == '&' {
			b.WriteString("&-")
		} else {
			b.WriteRune(r)
		}
	}
	flush()
	return b.String(), nil
}

func maProtoError(what, got string) error {
	if len(got) > 200 {
		got = got[:200] + "..."
	}
	return fmt.Errorf("imapstore: multiappend: bad response from server: %s: %q", what, got)
}
