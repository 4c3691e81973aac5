package imapstore

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/internal/dovetest"
)

// maStep is one step of a fake server's script: write send, read exactly
// expect (and compare), switch to TLS, or hang up.
type maStep struct {
	send, expect string
	tls, hangup  bool
}

func maS(s string) maStep { return maStep{send: s} }
func maC(s string) maStep { return maStep{expect: s} }

// maFake is a scripted IMAP server for one connection on 127.0.0.1.
type maFake struct {
	addr string
	done chan struct{}
	mu   sync.Mutex
	got  []byte // everything the client sent
	err  error
}

func maStartFake(t *testing.T, script ...maStep) *maFake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &maFake{addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		defer ln.Close()
		conn, err := ln.Accept()
		if err != nil {
			f.fail(err)
			return
		}
		defer func() { conn.Close() }()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		for i, st := range script {
			switch {
			case st.tls:
				tc := tls.Server(conn, maTestTLS(false))
				if err := tc.Handshake(); err != nil {
					f.fail(fmt.Errorf("step %d: TLS handshake: %v", i, err))
					return
				}
				conn = tc
			case st.hangup:
				return
			case st.send != "":
				// A failed write shows in the steps after it; the
				// client may rightly have hung up on garbage.
				io.WriteString(conn, st.send)
			default:
				buf := make([]byte, len(st.expect))
				n, err := io.ReadFull(conn, buf)
				f.record(buf[:n])
				if err != nil || string(buf) != st.expect {
					f.fail(fmt.Errorf("step %d: client sent %q (%v), want %q", i, maShort(buf[:n]), err, maShort([]byte(st.expect))))
					return
				}
			}
		}
		// The script is over: the client must close without sending more.
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		rest, _ := io.ReadAll(conn)
		f.record(rest)
		if len(rest) > 0 {
			f.fail(fmt.Errorf("client sent %q after the script", maShort(rest)))
		}
	}()
	t.Cleanup(func() { ln.Close(); <-f.done })
	return f
}

func (f *maFake) record(b []byte) { f.mu.Lock(); f.got = append(f.got, b...); f.mu.Unlock() }

func (f *maFake) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

// check waits for the script to end and fails t if it went wrong.
func (f *maFake) check(t *testing.T) {
	t.Helper()
	<-f.done
	if f.err != nil {
		t.Fatalf("fake server: %v", f.err)
	}
}

func maShort(b []byte) string {
	if len(b) > 300 {
		return string(b[:150]) + "..." + string(b[len(b)-150:])
	}
	return string(b)
}

var maTLSOnce = sync.OnceValues(func() (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "multiappend test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, err
})

// maTestTLS returns the fake server's TLS config, or a client config that
// trusts it.
func maTestTLS(client bool) *tls.Config {
	cert, err := maTLSOnce()
	if err != nil {
		panic(err)
	}
	if client {
		pool := x509.NewCertPool()
		pool.AddCert(cert.Leaf)
		return &tls.Config{RootCAs: pool}
	}
	return &tls.Config{Certificates: []tls.Certificate{*cert}}
}

func maDialFake(t *testing.T, f *maFake, user, pass string) *multiAppender {
	t.Helper()
	w, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, Timeout: 3 * time.Second}, user, pass)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return w
}

// maLogin is the start of most scripts: a greeting with pre-login
// capabilities, LOGIN user pass, and an OK with the post-login ones.
func maLogin(caps string) []maStep {
	return []maStep{
		maS("* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] ready\r\n"),
		maC("M1 LOGIN \"user\" \"pass\"\r\n"),
		maS("M1 OK [CAPABILITY " + caps + "] Logged in\r\n"),
	}
}

func maLogout(tag string) []maStep {
	return []maStep{maC(tag + " LOGOUT\r\n"), maS("* BYE Logging out\r\n" + tag + " OK Logout completed.\r\n")}
}

func maScript(parts ...[]maStep) []maStep { return slices.Concat(parts...) }

func maMsg(body string) appendMessage {
	return appendMessage{Literal: []byte("Subject: " + body + "\r\n\r\n" + body + "\r\n")}
}

func maLit(m appendMessage) string { return string(m.Literal) }

func TestMultiAppendLiteralPlus(t *testing.T) {
	date := time.Date(2024, 3, 5, 14, 3, 9, 0, time.FixedZone("", 3600))
	m1 := maMsg("one")
	m1.Flags, m1.Date = []string{`\Seen`, `$Label1`}, date
	m2 := maMsg("two")
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS"),
		[]maStep{
			maC(fmt.Sprintf("M2 APPEND \"INBOX\" (\\Seen $Label1) \"05-Mar-2024 14:03:09 +0100\" {%d+}\r\n%s {%d+}\r\n%s\r\n",
				len(m1.Literal), maLit(m1), len(m2.Literal), maLit(m2))),
			maS("M2 OK [APPENDUID 7 10:11] Append completed.\r\n"),
		},
		maLogout("M3"))...)
	w := maDialFake(t, f, "user", "pass")
	if caps := w.Caps(); !caps["MULTIAPPEND"] || !caps["UIDPLUS"] || caps["AUTH=PLAIN"] {
		t.Errorf("Caps() = %v, want the post-login ones", caps)
	}
	v, uids, err := w.Append(context.Background(), "INBOX", []appendMessage{m1, m2})
	if err != nil || v != 7 || !slices.Equal(uids, []uint32{10, 11}) {
		t.Errorf("Append = %d, %v, %v; want 7, [10 11], nil", v, uids, err)
	}
	if err := w.Close(); err != nil {
		t.Error(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	f.check(t)
}

func TestMultiAppendSyncLiterals(t *testing.T) {
	m1, m2 := maMsg("one"), maMsg("two")
	f := maStartFake(t, maScript(
		[]maStep{
			maS("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
			maC("M1 LOGIN \"user\" {6}\r\n"),
			maS("+ go ahead\r\n"),
			maC("p\xe4sswd\r\n"),
			maS("M1 OK [CAPABILITY IMAP4rev1 MULTIAPPEND] Logged in\r\n"),
			maC(fmt.Sprintf("M2 APPEND \"Sent\" {%d}\r\n", len(m1.Literal))),
			maS("+ go ahead\r\n"),
			maC(fmt.Sprintf("%s {%d}\r\n", maLit(m1), len(m2.Literal))),
			maS("+ go ahead\r\n"),
			maC(maLit(m2) + "\r\n"),
			maS("M2 OK [APPENDUID 1 1:2] Append completed.\r\n"), // but no UIDPLUS announced
		},
		maLogout("M3"))...)
	w := maDialFake(t, f, "user", "p\xe4sswd")
	v, uids, err := w.Append(context.Background(), "Sent", []appendMessage{m1, m2})
	if err != nil || v != 0 || uids != nil {
		t.Errorf("Append = %d, %v, %v; want 0, nil, nil (no UIDPLUS)", v, uids, err)
	}
	w.Close()
	f.check(t)
}

func TestMultiAppendLiteralMinus(t *testing.T) {
	small := maMsg("small")
	big := appendMessage{Literal: []byte("Subject: big\r\n\r\n" + strings.Repeat("0123456789abcdef", 300) + "\r\n")}
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 LITERAL- MULTIAPPEND UIDPLUS"),
		[]maStep{
			maC(fmt.Sprintf("M2 APPEND \"INBOX\" {%d+}\r\n%s {%d}\r\n", len(small.Literal), maLit(small), len(big.Literal))),
			maS("+ OK\r\n"),
			maC(maLit(big) + " {" + fmt.Sprint(len(small.Literal)) + "+}\r\n" + maLit(small) + "\r\n"),
			maS("M2 OK [APPENDUID 1 1:3] Append completed.\r\n"),
		},
		maLogout("M3"))...)
	w := maDialFake(t, f, "user", "pass")
	if _, uids, err := w.Append(context.Background(), "INBOX", []appendMessage{small, big, small}); err != nil || len(uids) != 3 {
		t.Errorf("Append = %v, %v", uids, err)
	}
	w.Close()
	f.check(t)
}

// Without MULTIAPPEND but with LITERAL+, the APPENDs are pipelined: the
// fake reads all three commands before it answers any.
func TestMultiAppendFallbackPipelined(t *testing.T) {
	m := []appendMessage{maMsg("a"), maMsg("b"), maMsg("c")}
	var cmds string
	for i := range m {
		cmds += fmt.Sprintf("M%d APPEND \"INBOX\" {%d+}\r\n%s\r\n", i+2, len(m[i].Literal), maLit(m[i]))
	}
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 LITERAL+ UIDPLUS"),
		[]maStep{
			maC(cmds),
			maS("M2 OK [APPENDUID 5 1] done\r\n* 2 EXISTS\r\nM3 OK [APPENDUID 5 2] done\r\nM4 OK [APPENDUID 5 3] done\r\n"),
		},
		maLogout("M5"))...)
	w := maDialFake(t, f, "user", "pass")
	v, uids, err := w.Append(context.Background(), "INBOX", m)
	if err != nil || v != 5 || !slices.Equal(uids, []uint32{1, 2, 3}) {
		t.Errorf("Append = %d, %v, %v; want 5, [1 2 3], nil", v, uids, err)
	}
	w.Close()
	f.check(t)
}

// Without MULTIAPPEND nor LITERAL+: one APPEND at a time, each literal
// after a continuation request.
func TestMultiAppendFallbackSync(t *testing.T) {
	m1, m2 := maMsg("a"), maMsg("b")
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 UIDPLUS"),
		[]maStep{
			maC(fmt.Sprintf("M2 APPEND \"INBOX\" (\\Flagged) {%d}\r\n", len(m1.Literal))),
			maS("+\r\n"),
			maC(maLit(m1) + "\r\n"),
			maS("M2 OK [APPENDUID 9 4] done\r\n"),
			maC(fmt.Sprintf("M3 APPEND \"INBOX\" {%d}\r\n", len(m2.Literal))),
			maS("+ Ready for literal data\r\n"),
			maC(maLit(m2) + "\r\n"),
			maS("M3 OK [APPENDUID 9 6] done\r\n"),
		},
		maLogout("M4"))...)
	w := maDialFake(t, f, "user", "pass")
	m1.Flags = []string{`\Flagged`}
	v, uids, err := w.Append(context.Background(), "INBOX", []appendMessage{m1, m2})
	if err != nil || v != 9 || !slices.Equal(uids, []uint32{4, 6}) {
		t.Errorf("Append = %d, %v, %v; want 9, [4 6], nil", v, uids, err)
	}
	w.Close()
	f.check(t)
}

// A NO in the middle of a pipelined fallback: the other messages of the
// window are stored and reported, and the NO is returned.
func TestMultiAppendFallbackPartialNO(t *testing.T) {
	m := []appendMessage{maMsg("a"), maMsg("b"), maMsg("c")}
	var cmds string
	for i := range m {
		cmds += fmt.Sprintf("M%d APPEND \"INBOX\" {%d+}\r\n%s\r\n", i+2, len(m[i].Literal), maLit(m[i]))
	}
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 LITERAL+ UIDPLUS"),
		[]maStep{
			maC(cmds),
			maS("M2 OK [APPENDUID 5 1] done\r\nM3 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\nM4 OK [APPENDUID 5 2] done\r\n"),
		},
		maLogout("M5"))...)
	w := maDialFake(t, f, "user", "pass")
	v, uids, err := w.Append(context.Background(), "INBOX", m)
	var re *maResponseError
	if !errors.As(err, &re) || re.Code != "OVERQUOTA" || re.Status != "NO" || v != 5 || !slices.Equal(uids, []uint32{1, 0, 2}) {
		t.Errorf("Append = %d, %v, %v; want 5, [1 0 2], NO [OVERQUOTA]", v, uids, err)
	}
	if err != nil && !strings.Contains(err.Error(), "[OVERQUOTA] Quota exceeded") {
		t.Errorf("error %q lacks the server's text", err)
	}
	w.Close()
	f.check(t)
}

func TestMultiAppendAppendUIDRanges(t *testing.T) {
	m := []appendMessage{maMsg("a"), maMsg("b"), maMsg("c"), maMsg("d")}
	cmd := "M2 APPEND \"INBOX\""
	for _, x := range m {
		cmd += fmt.Sprintf(" {%d+}\r\n%s", len(x.Literal), maLit(x))
	}
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS"),
		[]maStep{
			maC(cmd + "\r\n"),
			maS("M2 OK [APPENDUID 38505 3955:3957,3960] APPEND completed\r\n"),
			maC(cmd[:1] + "3" + cmd[2:] + "\r\n"),
			maS("M3 OK [APPENDUID 38505 3955:3957] APPEND completed\r\n"), // one short
		},
		maLogout("M4"))...)
	w := maDialFake(t, f, "user", "pass")
	v, uids, err := w.Append(context.Background(), "INBOX", m)
	if err != nil || v != 38505 || !slices.Equal(uids, []uint32{3955, 3956, 3957, 3960}) {
		t.Errorf("Append = %d, %v, %v; want 38505, [3955 3956 3957 3960], nil", v, uids, err)
	}
	if _, _, err := w.Append(context.Background(), "INBOX", m); err == nil || !strings.Contains(err.Error(), "3 UIDs for 4 messages") {
		t.Errorf("Append with a short APPENDUID: err = %v", err)
	}
	w.Close() // the connection is still in step: LOGOUT is sent
	f.check(t)
}

func TestMaParseAppendUID(t *testing.T) {
	for _, tc := range []struct {
		arg  string
		max  int
		v    uint32
		uids []uint32
	}{
		{"38505 3955:3957,3960", 10, 38505, []uint32{3955, 3956, 3957, 3960}},
		{"1 7", 1, 1, []uint32{7}},
		{"1 5:3", 3, 1, []uint32{3, 4, 5}},
		{"4294967295 4294967294:4294967295", 2, 4294967295, []uint32{4294967294, 4294967295}},
		{"1 1:4294967295", 100, 0, nil},
		{"1 1:5", 4, 0, nil},
		{"0 1", 1, 0, nil},
		{"1 0", 1, 0, nil},
		{"1 *", 1, 0, nil},
		{"1 1,", 2, 0, nil},
		{"1 1:", 2, 0, nil},
		{"1", 1, 0, nil},
		{"1  2", 1, 0, nil},
		{"1 4294967296", 1, 0, nil},
		{"1 +5", 1, 0, nil},
		{"x 1", 1, 0, nil},
	} {
		v, uids, err := maParseAppendUID(tc.arg, tc.max)
		if (err == nil) != (tc.uids != nil) || v != tc.v || !slices.Equal(uids, tc.uids) {
			t.Errorf("maParseAppendUID(%q, %d) = %d, %v, %v; want %d, %v", tc.arg, tc.max, v, uids, err, tc.v, tc.uids)
		}
	}
}

// The server refuses a synchronising literal with NO [TRYCREATE]: the client
// sends no literal, reports the code, and the connection stays usable.
func TestMultiAppendTryCreate(t *testing.T) {
	m := maMsg("x")
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 MULTIAPPEND UIDPLUS"),
		[]maStep{
			maC(fmt.Sprintf("M2 APPEND \"Nope\" {%d}\r\n", len(m.Literal))),
			maS("M2 NO [TRYCREATE] Mailbox doesn't exist: Nope\r\n"),
			maC(fmt.Sprintf("M3 APPEND \"INBOX\" {%d}\r\n", len(m.Literal))),
			maS("+ OK\r\n"),
			maC(maLit(m) + "\r\n"),
			maS("M3 OK [APPENDUID 3 1] done\r\n"),
		},
		maLogout("M4"))...)
	w := maDialFake(t, f, "user", "pass")
	_, uids, err := w.Append(context.Background(), "Nope", []appendMessage{m})
	var re *maResponseError
	if !errors.As(err, &re) || re.Code != "TRYCREATE" || uids != nil || !strings.Contains(err.Error(), "NO [TRYCREATE] Mailbox doesn't exist: Nope") {
		t.Fatalf("Append to a missing mailbox: %v, %v", uids, err)
	}
	if _, uids, err := w.Append(context.Background(), "INBOX", []appendMessage{m}); err != nil || !slices.Equal(uids, []uint32{1}) {
		t.Errorf("Append after the NO = %v, %v", uids, err)
	}
	w.Close()
	f.check(t)
}

func TestMultiAppendBye(t *testing.T) {
	m := maMsg("x")
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 LITERAL+ MULTIAPPEND"),
		[]maStep{
			maC(fmt.Sprintf("M2 APPEND \"INBOX\" {%d+}\r\n%s\r\n", len(m.Literal), maLit(m))),
			maS("* BYE Server shutting down.\r\n"),
			{hangup: true},
		})...)
	w := maDialFake(t, f, "user", "pass")
	_, _, err := w.Append(context.Background(), "INBOX", []appendMessage{m})
	if err == nil || !strings.Contains(err.Error(), "BYE Server shutting down.") {
		t.Errorf("Append = %v, want the BYE", err)
	}
	if _, _, err2 := w.Append(context.Background(), "INBOX", []appendMessage{m}); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("Append after BYE = %v, want %v", err2, err)
	}
	w.Close()
	f.check(t)
}

// Garbage from the server gives an error, never a panic or a hang.
func TestMultiAppendGarbage(t *testing.T) {
	m := maMsg("x")
	cmd := fmt.Sprintf("M2 APPEND \"INBOX\" {%d+}\r\n%s\r\n", len(m.Literal), maLit(m))
	for _, answer := range []string{
		"garbage\r\n",
		"\x00\x01\x02 \xff\xfe\r\n",
		"M2\r\n",
		"M2 MAYBE\r\n",
		"M2 BYE\r\n",
		"M9 OK done\r\n",
		"+ more please\r\n",
		"M2 OK [APPENDUID 1 x:y] done\r\n",
		"M2 OK [APPENDUID 1 2 done\r\n",
		"M2 OK [APPENDUID 1 1:5] done\r\n",
		"M2 OK [APPENDUID 1 1:4294967295] done\r\n",
		"M2 OK [APPENDUID 0 1] done\r\n",
		"M2 OK [] done\r\n",
		"* 1 FETCH (BODY[] {99999999999999999999}\r\n",
		"* 1 FETCH (BODY[] {100}\r\nshort",
		"M2 OK done", // no CRLF, then EOF
		strings.Repeat("* ", 600000) + "\r\n",
	} {
		t.Run(fmt.Sprintf("%.20q", answer), func(t *testing.T) {
			f := maStartFake(t, maScript(
				maLogin("IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS"),
				[]maStep{maC(cmd), maS(answer), {hangup: true}})...)
			w := maDialFake(t, f, "user", "pass")
			v, uids, err := w.Append(context.Background(), "INBOX", []appendMessage{m})
			t.Log(err)
			if err == nil {
				t.Errorf("Append = %d, %v, nil; want an error", v, uids)
			}
			w.Close()
			f.check(t)
		})
	}
	for _, greeting := range []string{
		"HTTP/1.0 400 Bad Request\r\n",
		"* BYE Too many connections\r\n",
		"* OK [CAPABILITY IMAP4rev1 ready\r\n",
		"",
	} {
		t.Run(fmt.Sprintf("greeting %.20q", greeting), func(t *testing.T) {
			f := maStartFake(t, maS(greeting), maStep{hangup: true})
			if _, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, Timeout: time.Second}, "user", "pass"); err == nil {
				t.Error("dial succeeded")
			}
			f.check(t)
		})
	}
}

// Untagged responses, some with literals that look like our tagged
// response, are taken in or skipped.
func TestMultiAppendUntagged(t *testing.T) {
	m := maMsg("x")
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 LITERAL+ MULTIAPPEND UIDPLUS"),
		[]maStep{
			maC(fmt.Sprintf("M2 APPEND \"INBOX\" {%d+}\r\n%s\r\n", len(m.Literal), maLit(m))),
			maS("* 3 EXISTS\r\n* OK [ALERT] look {5}\r\n* 1 FETCH (BODY[] {9}\r\nM2 NO x\r\n FLAGS {4}\r\n\r\nM2)\r\n" +
				"* CAPABILITY IMAP4rev1 MULTIAPPEND LITERAL+ UIDPLUS XFOO\r\nM2 OK [APPENDUID 4 7] done\r\n"),
		},
		maLogout("M3"))...)
	w := maDialFake(t, f, "user", "pass")
	if _, uids, err := w.Append(context.Background(), "INBOX", []appendMessage{m}); err != nil || !slices.Equal(uids, []uint32{7}) {
		t.Errorf("Append = %v, %v; want [7], nil", uids, err)
	}
	if !w.Caps()["XFOO"] {
		t.Errorf("untagged CAPABILITY not taken in: %v", w.Caps())
	}
	w.Close()
	f.check(t)
}

func TestMultiAppendLoginQuoting(t *testing.T) {
	const pass = `p\a"ss`
	f := maStartFake(t, maScript(
		[]maStep{
			maS("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
			maC(`M1 LOGIN "us\"er" "p\\a\"ss"` + "\r\n"),
			maS("M1 OK [CAPABILITY IMAP4rev1 MULTIAPPEND] Logged in\r\n"),
		},
		maLogout("M2"))...)
	w, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, Timeout: time.Second}, `us"er`, pass)
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.check(t)

	// A password with CR LF goes as a literal, non-synchronising with LITERAL+.
	// A failed login's error has the server's text, not the password.
	const secret = "se\r\ncr\u00e9t"
	f = maStartFake(t,
		maS("* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"),
		maC("M1 LOGIN \"user\" {9+}\r\n"+secret+"\r\n"),
		maS("M1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"))
	_, err = dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, Timeout: time.Second}, "user", secret)
	var re *maResponseError
	if !errors.As(err, &re) || re.Code != "AUTHENTICATIONFAILED" || strings.Contains(err.Error(), "cr") {
		t.Errorf("dial = %v; want NO [AUTHENTICATIONFAILED] without the password", err)
	}
	f.check(t)

	f = maStartFake(t, maS("* OK [CAPABILITY IMAP4rev1] ready\r\n"))
	if _, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr}, "user", "a\x00b"); err == nil || strings.Contains(err.Error(), "a\x00b") {
		t.Errorf("dial with NUL in password: %v", err)
	}
	f.check(t)
}

func TestMultiAppendAuthenticatePlain(t *testing.T) {
	ir := "AHVzZXIAcGFzcw==" // base64("\x00user\x00pass")
	for _, tc := range []struct {
		name, logout string
		script       []maStep
	}{
		{"SASL-IR", "M3", []maStep{
			maS("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN SASL-IR] ready\r\n"),
			maC("M1 AUTHENTICATE PLAIN " + ir + "\r\n"),
			maS("M1 OK Logged in\r\n"),
			maC("M2 CAPABILITY\r\n"),
			maS("* CAPABILITY IMAP4rev1 MULTIAPPEND\r\nM2 OK done\r\n"),
		}},
		{"continuation", "M2", []maStep{
			maS("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=PLAIN] ready\r\n"),
			maC("M1 AUTHENTICATE PLAIN\r\n"),
			maS("+ \r\n"),
			maC(ir + "\r\n"),
			maS("M1 OK [CAPABILITY IMAP4rev1 MULTIAPPEND] Logged in\r\n"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := maStartFake(t, maScript(tc.script, maLogout(tc.logout))...)
			w := maDialFake(t, f, "user", "pass")
			if !w.Caps()["MULTIAPPEND"] || w.Caps()["LOGINDISABLED"] {
				t.Errorf("Caps() = %v", w.Caps())
			}
			w.Close()
			f.check(t)
		})
	}
	f := maStartFake(t, maS("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n"))
	if _, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr}, "user", "pass"); err == nil {
		t.Error("dial succeeded without a way to log in")
	}
	f.check(t)
}

// Without capabilities in the greeting or the login OK, the client asks.
func TestMultiAppendCapabilityCommand(t *testing.T) {
	f := maStartFake(t, maScript(
		[]maStep{
			maS("* OK Hello\r\n"),
			maC("M1 CAPABILITY\r\n"),
			maS("* CAPABILITY IMAP4rev1\r\nM1 OK done\r\n"),
			maC("M2 LOGIN \"user\" \"pass\"\r\n"),
			maS("M2 OK Logged in\r\n"),
			maC("M3 CAPABILITY\r\n"),
			maS("M3 OK [CAPABILITY IMAP4rev1 UIDPLUS] done\r\n"),
		},
		maLogout("M4"))...)
	w := maDialFake(t, f, "user", "pass")
	if !w.Caps()["UIDPLUS"] {
		t.Errorf("Caps() = %v", w.Caps())
	}
	w.Close()
	f.check(t)
}

func TestMultiAppendMailboxUTF7(t *testing.T) {
	m := maMsg("x")
	f := maStartFake(t, maScript(
		maLogin("IMAP4rev1 LITERAL+ MULTIAPPEND"),
		[]maStep{
			maC(fmt.Sprintf("M2 APPEND \"&AMk-v&AOk-nements/Kontakte\" {%d+}\r\n%s\r\n", len(m.Literal), maLit(m))),
			maS("M2 OK done\r\n"),
		},
		maLogout("M3"))...)
	w := maDialFake(t, f, "user", "pass")
	if _, _, err := w.Append(context.Background(), "Événements/Kontakte", []appendMessage{m}); err != nil {
		t.Error(err)
	}
	w.Close()
	f.check(t)

	for in, want := range map[string]string{
		"INBOX":                   "INBOX",
		"Événements/Kontakte":     "&AMk-v&AOk-nements/Kontakte",
		"Entwürfe":                "Entw&APw-rfe",
		"A & B":                   "A &- B",
		"~peter/mail/台北/日本語":      "~peter/mail/&U,BTFw-/&ZeVnLIqe-",
		"tab\there":               "tab&AAk-here",
		"emoji 😀":                 "emoji &2D3eAA-",
		"ÄÖÜäöüß":                 "&AMQA1gDcAOQA9gD8AN8-",
		`quote" back\slash`:       `quote" back\slash`,
		"Gel&ouml;scht Elemente":  "Gel&-ouml;scht Elemente",
		"Ünterordner/Ünter/Ünter": "&ANw-nterordner/&ANw-nter/&ANw-nter",
	} {
		if got, err := maEncodeMailbox(in); got != want || err != nil {
			t.Errorf("maEncodeMailbox(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "a\xffb"} {
		if _, err := maEncodeMailbox(bad); err == nil {
			t.Errorf("maEncodeMailbox(%q) succeeded", bad)
		}
	}
}

func TestMultiAppendBadInput(t *testing.T) {
	f := maStartFake(t, maScript(maLogin("IMAP4rev1 LITERAL+ MULTIAPPEND"), maLogout("M2"))...)
	w := maDialFake(t, f, "user", "pass")
	for _, m := range []appendMessage{
		{Flags: []string{`\Seen)`}, Literal: []byte("x")},
		{Flags: []string{""}, Literal: []byte("x")},
		{Flags: []string{`\*`}, Literal: []byte("x")},
		{Flags: []string{"a b"}, Literal: []byte("x")},
		{Date: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Literal: []byte("x")},
	} {
		if _, _, err := w.Append(context.Background(), "INBOX", []appendMessage{m}); err == nil {
			t.Errorf("Append(%+v) succeeded", m)
		}
	}
	if v, uids, err := w.Append(context.Background(), "INBOX", nil); v != 0 || uids != nil || err != nil {
		t.Errorf("Append of nothing = %d, %v, %v", v, uids, err)
	}
	w.Close() // nothing was sent but LOGOUT
	f.check(t)
}

func TestMultiAppendTLS(t *testing.T) {
	t.Run("STARTTLS", func(t *testing.T) {
		f := maStartFake(t, maScript(
			[]maStep{
				maS("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"),
				maC("M1 STARTTLS\r\n"),
				maS("M1 OK Begin TLS negotiation now.\r\n"),
				{tls: true},
				maC("M2 CAPABILITY\r\n"),
				maS("* CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR LITERAL+\r\nM2 OK done\r\n"),
				maC("M3 LOGIN \"user\" \"pass\"\r\n"),
				maS("M3 OK [CAPABILITY IMAP4rev1 MULTIAPPEND LITERAL+] Logged in\r\n"),
			},
			maLogout("M4"))...)
		w, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, TLS: TLSStartTLS, TLSConfig: maTestTLS(true), Timeout: 3 * time.Second}, "user", "pass")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := w.conn.(*tls.Conn); !ok || !w.Caps()["MULTIAPPEND"] {
			t.Errorf("conn %T, caps %v", w.conn, w.Caps())
		}
		w.Close()
		f.check(t)
	})
	t.Run("implicit", func(t *testing.T) {
		f := maStartFake(t, maScript([]maStep{{tls: true}}, maLogin("IMAP4rev1 MULTIAPPEND"), maLogout("M2"))...)
		w, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, TLS: TLSImplicit, TLSConfig: maTestTLS(true), Timeout: 3 * time.Second}, "user", "pass")
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		f.check(t)
	})
	t.Run("no STARTTLS", func(t *testing.T) {
		f := maStartFake(t, maS("* OK [CAPABILITY IMAP4rev1] ready\r\n"))
		if _, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, TLS: TLSStartTLS}, "user", "pass"); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("dial = %v", err)
		}
		f.check(t)
	})
	t.Run("injection", func(t *testing.T) { // CVE-2011-0411 style: data after the OK
		f := maStartFake(t,
			maS("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"),
			maC("M1 STARTTLS\r\n"),
			maS("M1 OK Begin TLS negotiation now.\r\n* CAPABILITY IMAP4rev1 LITERAL+\r\n"))
		if _, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, TLS: TLSStartTLS, TLSConfig: maTestTLS(true)}, "user", "pass"); err == nil {
			t.Error("dial succeeded")
		}
		f.check(t)
	})
	t.Run("untrusted", func(t *testing.T) {
		f := maStartFake(t, maStep{tls: true})
		if _, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, TLS: TLSImplicit}, "user", "pass"); err == nil {
			t.Error("dial succeeded with an unknown certificate")
		}
		<-f.done
	})
}

func TestMultiAppendTimeoutAndCancel(t *testing.T) {
	m := maMsg("x")
	script := maScript(
		maLogin("IMAP4rev1 LITERAL+ MULTIAPPEND"),
		[]maStep{maC(fmt.Sprintf("M2 APPEND \"INBOX\" {%d+}\r\n%s\r\n", len(m.Literal), maLit(m)))}) // and no answer

	f := maStartFake(t, script...)
	w, err := dialMultiAppender(context.Background(), &maDialOptions{Address: f.addr, Timeout: 200 * time.Millisecond}, "user", "pass")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = w.Append(context.Background(), "INBOX", []appendMessage{m})
	if !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Append = %v after %v; want a timeout after 200ms", err, time.Since(start))
	}
	if _, _, err2 := w.Append(context.Background(), "INBOX", []appendMessage{m}); err2 == nil {
		t.Error("Append after a timeout succeeded")
	}
	w.Close()
	f.check(t)

	f = maStartFake(t, script...)
	w = maDialFake(t, f, "user", "pass")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	_, _, err = w.Append(ctx, "INBOX", []appendMessage{m})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("Append = %v after %v; want context.Canceled", err, time.Since(start))
	}
	w.Close()
	f.check(t)

	if _, err := dialMultiAppender(ctx, &maDialOptions{Address: f.addr}, "user", "pass"); !errors.Is(err, context.Canceled) {
		t.Errorf("dial with a cancelled context: %v", err)
	}
}

// FuzzMaParseResponse feeds server output to the response reader and parser.
func FuzzMaParseResponse(f *testing.F) {
	for _, s := range []string{
		"* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR] Dovecot ready.\r\n",
		"M2 OK [APPENDUID 38505 3955:3957,3960] Append completed.\r\n",
		"M2 NO [TRYCREATE] Mailbox doesn't exist: Foo\r\n",
		"* 1 FETCH (BODY[] {9}\r\nM2 NO x\r\n)\r\n",
		"+ go ahead\r\n",
		"* BYE bye\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		w := &multiAppender{loggingOut: true}
		w.use(&maFuzzConn{Reader: strings.NewReader(s)})
		for i := 0; i < 100; i++ {
			line, err := w.readLine()
			if err != nil {
				break
			}
			r, err := maParseResponse(line)
			if err != nil {
				continue
			}
			if r.Tag == "" || r.Tag != "+" && r.Kind == "" {
				t.Fatalf("maParseResponse(%q) = %+v", line, r)
			}
			if r.Code == "APPENDUID" {
				v, uids, err := maParseAppendUID(r.CodeArg, 1000)
				if err == nil && (v == 0 || len(uids) == 0 || len(uids) > 1000 || slices.Contains(uids, 0)) {
					t.Fatalf("maParseAppendUID(%q) = %d, %v", r.CodeArg, v, uids)
				}
			}
		}
		// And the same input through the whole response loop.
		w = &multiAppender{}
		w.use(&maFuzzConn{Reader: strings.NewReader(s)})
		w.readTagged(map[string]*maResponse{"M1": nil, "M2": nil})
	})
}

type maFuzzConn struct {
	net.Conn
	io.Reader
}

func (c *maFuzzConn) Read(p []byte) (int, error)  { return c.Reader.Read(p) }
func (c *maFuzzConn) Write(p []byte) (int, error) { return len(p), nil }

// maDovecotMsg is a ~2 KB message with a unique Message-ID.
func maDovecotMsg(i int) appendMessage {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: a@example.org\r\nTo: b@example.org\r\nSubject: message %d\r\nMessage-ID: <%d.%d@multiappend.test>\r\nDate: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\n", i, i, time.Now().UnixNano())
	for b.Len() < 2000 {
		b.WriteString("The quick brown fox jumps over the lazy dog, again and again.\r\n")
	}
	return appendMessage{Literal: b.Bytes()}
}

// maDovecotFetch reads mailbox with go-imap's client: its UIDVALIDITY and
// every message's UID, flags (without \Recent), INTERNALDATE and body.
func maDovecotFetch(t *testing.T, addr, user, pass, mailbox string) (uint32, []*imapclient.FetchMessageBuffer) {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return sel.UIDValidity, nil
	}
	got, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range got {
		g.Flags = slices.DeleteFunc(g.Flags, func(f imap.Flag) bool { return f == `\Recent` })
	}
	c.Logout().Wait()
	return sel.UIDValidity, got
}

// maDovecotCheck checks that mailbox holds exactly msgs, with uids (when not nil).
func maDovecotCheck(t *testing.T, addr, user, pass, mailbox string, uidValidity uint32, uids []uint32, msgs []appendMessage) {
	t.Helper()
	v, got := maDovecotFetch(t, addr, user, pass, mailbox)
	if len(got) != len(msgs) || uids != nil && v != uidValidity {
		t.Fatalf("%s holds %d messages with UIDVALIDITY %d; want %d, %d", mailbox, len(got), v, len(msgs), uidValidity)
	}
	for i, g := range got {
		var flags []string
		for _, f := range g.Flags {
			flags = append(flags, string(f))
		}
		slices.Sort(flags)
		m := msgs[i]
		if uids != nil && uint32(g.UID) != uids[i] {
			t.Errorf("message %d: UID %d, want %d", i, g.UID, uids[i])
		}
		if !bytes.Equal(g.FindBodySection(&imap.FetchItemBodySection{Peek: true}), m.Literal) {
			t.Errorf("message %d: body differs", i)
		}
		if !slices.Equal(flags, slices.Sorted(slices.Values(m.Flags))) {
			t.Errorf("message %d: flags %v, want %v", i, flags, m.Flags)
		}
		if !m.Date.IsZero() && !g.InternalDate.Equal(m.Date) {
			t.Errorf("message %d: INTERNALDATE %v, want %v", i, g.InternalDate, m.Date)
		}
	}
}

func TestMultiAppendDovecot(t *testing.T) {
	const user, pass = "alice", `s3cr"et\`
	ctx := context.Background()
	msgs := []appendMessage{maDovecotMsg(1), maDovecotMsg(2), maDovecotMsg(3)}
	msgs[0].Flags, msgs[0].Date = []string{`\Seen`, `\Flagged`}, time.Date(2023, 7, 14, 9, 30, 0, 0, time.FixedZone("", 2*3600))
	msgs[2].Flags = []string{"$Label1"}
	msgs[2].Literal = append(bytes.Repeat([]byte("X-Pad: 0123456789012345678901234567890123456789\r\n"), 200), msgs[2].Literal...) // > 4096

	t.Run("Full", func(t *testing.T) {
		srv := dovetest.Start(t, &dovetest.Options{Profile: dovetest.ProfileFull})
		srv.AddUser(t, user, pass)
		w, err := dialMultiAppender(ctx, &maDialOptions{Address: srv.Addr, Timeout: 30 * time.Second}, user, pass)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		for _, c := range []string{"MULTIAPPEND", "LITERAL+", "UIDPLUS"} {
			if !w.Caps()[c] {
				t.Fatalf("Dovecot lacks %s after login: %v", c, w.Caps())
			}
		}

		const mbox = "Événements/Kontakte & Co" // dovetest: separator "/"
		_, _, err = w.Append(ctx, mbox, msgs)
		var re *maResponseError
		if !errors.As(err, &re) || re.Code != "TRYCREATE" {
			t.Fatalf("Append to a missing mailbox: %v; want NO [TRYCREATE]", err)
		}
		c, err := imapclient.DialInsecure(srv.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(user, pass).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Create(mbox, nil).Wait(); err != nil {
			t.Fatal(err)
		}
		v, uids, err := w.Append(ctx, mbox, msgs)
		if err != nil || v == 0 || len(uids) != 3 {
			t.Fatalf("Append = %d, %v, %v", v, uids, err)
		}
		maDovecotCheck(t, srv.Addr, user, pass, mbox, v, uids, msgs)
	})

	// ProfileMinimal announces only IMAP4rev1 LITERAL+: one pipelined
	// APPEND per message, and no UIDs (Dovecot sends APPENDUID anyway, but
	// a client must go by what is announced).
	t.Run("Minimal", func(t *testing.T) {
		srv := dovetest.Start(t, &dovetest.Options{Profile: dovetest.ProfileMinimal})
		srv.AddUser(t, user, pass)
		w, err := dialMultiAppender(ctx, &maDialOptions{Address: srv.Addr, Timeout: 30 * time.Second}, user, pass)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if w.Caps()["MULTIAPPEND"] || !w.Caps()["LITERAL+"] {
			t.Fatalf("Caps() = %v", w.Caps())
		}
		v, uids, err := w.Append(ctx, "INBOX", msgs)
		if err != nil {
			t.Fatal(err)
		}
		if v != 0 || uids != nil {
			t.Errorf("Append = %d, %v; want no UIDs without UIDPLUS", v, uids)
		}
		maDovecotCheck(t, srv.Addr, user, pass, "INBOX", v, uids, msgs)
	})

	t.Run("TLS", func(t *testing.T) {
		srv := dovetest.Start(t, &dovetest.Options{TLS: true})
		srv.AddUser(t, user, pass)
		for _, o := range []maDialOptions{
			{Address: srv.Addr, TLS: TLSStartTLS},
			{Address: srv.TLSAddr, TLS: TLSImplicit},
		} {
			o.TLSConfig, o.Timeout = &tls.Config{RootCAs: srv.RootCAs}, 30*time.Second
			w, err := dialMultiAppender(ctx, &o, user, pass)
			if err != nil {
				t.Fatalf("%s: %v", o.TLS, err)
			}
			if _, ok := w.conn.(*tls.Conn); !ok || !w.Caps()["MULTIAPPEND"] {
				t.Errorf("%s: conn %T, caps %v", o.TLS, w.conn, w.Caps())
			}
			if _, _, err := w.Append(ctx, "INBOX", msgs[:1]); err != nil {
				t.Errorf("%s: %v", o.TLS, err)
			}
			if err := w.Close(); err != nil {
				t.Errorf("%s: Close: %v", o.TLS, err)
			}
		}
	})
}

// BenchmarkMultiAppend measures messages stored per second in Dovecot with
// one APPEND per message (batch=1) and with MULTIAPPEND of 100 (batch=100).
func BenchmarkMultiAppend(b *testing.B) {
	srv := dovetest.Start(b, &dovetest.Options{Profile: dovetest.ProfileFull})
	srv.AddUser(b, "bench", "pass")
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			w, err := dialMultiAppender(ctx, &maDialOptions{Address: srv.Addr, Timeout: time.Minute}, "bench", "pass")
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			msgs := make([]appendMessage, batch)
			for i := range msgs {
				msgs[i] = maDovecotMsg(i)
				msgs[i].Flags = []string{`\Seen`}
			}
			b.SetBytes(int64(batch * len(msgs[0].Literal)))
			n := 0
			for b.Loop() {
				if _, _, err := w.Append(ctx, "INBOX", msgs); err != nil {
					b.Fatal(err)
				}
				n += batch
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func TestAppendBatches(t *testing.T) {
	for _, tc := range []struct {
		sizes   []int
		n, size int
		want    []int // messages per batch
	}{
		{nil, 10, 100, nil},
		{[]int{10, 10, 10}, 10, 100, []int{3}},
		{[]int{10, 10, 10, 10, 10}, 2, 100, []int{2, 2, 1}},
		{[]int{40, 40, 40, 40}, 10, 100, []int{2, 2}},
		{[]int{40, 200, 40}, 10, 100, []int{1, 1, 1}}, // too large: alone
		{[]int{50, 50, 1}, 10, 100, []int{2, 1}},
	} {
		var got []int
		next := 0
		for _, b := range appendBatches(len(tc.sizes), func(i int) int { return tc.sizes[i] }, tc.n, tc.size) {
			if b[0] != next || b[1] <= b[0] {
				t.Errorf("%v: batch %v after %d", tc.sizes, b, next)
			}
			got, next = append(got, b[1]-b[0]), b[1]
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) || next != len(tc.sizes) {
			t.Errorf("appendBatches(%v, %d, %d) = %v, want %v", tc.sizes, tc.n, tc.size, got, tc.want)
		}
	}
}

// maCountConn counts the bytes written to a connection.
type maCountConn struct {
	net.Conn
	mu      sync.Mutex
	written []byte
}

func (c *maCountConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.written = append(c.written, b...)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *maCountConn) sent() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.written)
}

// TestMultiAppendStream: AppendStream sends each message before the
// next is made (so the server stores while the caller builds), and a
// message that cannot be made cuts the command: nothing is stored, the
// connection is unusable.
func TestMultiAppendStream(t *testing.T) {
	const user, pass = "alice", "pw"
	ctx := context.Background()
	srv := dovetest.Start(t, nil)
	srv.AddUser(t, user, pass)
	var conn *maCountConn
	dial := func() *multiAppender {
		w, err := dialMultiAppender(ctx, &maDialOptions{Address: srv.Addr, Timeout: 30 * time.Second,
			wrap: func(c net.Conn) net.Conn { conn = &maCountConn{Conn: c}; return conn }}, user, pass)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { w.Close() })
		return w
	}
	w := dial()
	msgs := []appendMessage{maDovecotMsg(1), maDovecotMsg(2), maDovecotMsg(3)}
	_, _, err := w.AppendStream(ctx, "INBOX", len(msgs), func(i int) (*appendMessage, error) {
		for j := range i {
			if !bytes.Contains(conn.sent(), msgs[j].Literal) {
				t.Errorf("message %d is made before message %d was sent", i, j)
			}
		}
		return &msgs[i], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	v, uids, err := w.AppendStream(ctx, "INBOX", 0, nil)
	if err != nil || v != 0 || uids != nil {
		t.Errorf("AppendStream of nothing = %d, %v, %v", v, uids, err)
	}

	// The third message fails: the first two, sent already, are not kept.
	w2 := dial()
	broken := errors.New("cannot make it")
	_, _, err = w2.AppendStream(ctx, "INBOX", 3, func(i int) (*appendMessage, error) {
		if i == 2 {
			return nil, broken
		}
		return &msgs[i], nil
	})
	if !errors.Is(err, broken) {
		t.Fatalf("AppendStream with a failing message: %v, want %v", err, broken)
	}
	if _, _, err := w2.Append(ctx, "INBOX", msgs[:1]); err == nil {
		t.Error("the connection of a cut command is still used")
	}
	w2.Close()
	// Dovecot drops the half-received MULTIAPPEND with the connection.
	for range 50 {
		if strings.Contains(srv.Log(), "Disconnected") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, got := maDovecotFetch(t, srv.Addr, user, pass, "INBOX")
	if len(got) != 3 {
		t.Errorf("INBOX holds %d messages after a cut MULTIAPPEND, want the 3 of the first", len(got))
	}
}
