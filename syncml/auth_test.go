package syncml

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
)

// Test vectors from the project's protocol notes (cross-checked against
// the OMA DM example formula).
func TestMD5Vectors(t *testing.T) {
	tests := []struct {
		user, pass string
		nonce      []byte
		v10        bool
		want       string
	}{
		{"Bruce2", "OhBehave", []byte("Nonce"), false, "Zz6EivR3yeaaENcRN6lpAQ=="},
		{"test", "secret", []byte("abcdef"), false, "TI4tsPqMjerGDP8gawt+NA=="},
		{"test", "secret", []byte("abcdef"), true, "9Kkn75ejqPhQIEU3rQXE8g=="},
	}
	for _, tt := range tests {
		got, ok := md5Digest(tt.user, &Secret{Password: tt.pass}, tt.nonce, tt.v10)
		if !ok || got != tt.want {
			t.Errorf("%s/%s/%q v10=%v: %s, want %s", tt.user, tt.pass, tt.nonce, tt.v10, got, tt.want)
		}
	}
	if h := md5Hash("test", "secret"); h != "i20da3+1Z6VdfXz+tHkdSA==" {
		t.Errorf("B64(MD5(test:secret)) = %s", h)
	}
	// Only the hash known: 1.1/1.2 digests check, 1.0 ones cannot.
	hashOnly := &Secret{HashB64: "i20da3+1Z6VdfXz+tHkdSA=="}
	if !checkMD5("TI4tsPqMjerGDP8gawt+NA==", "test", hashOnly, []byte("abcdef"), false) {
		t.Error("digest against the stored hash refused")
	}
	if checkMD5("9Kkn75ejqPhQIEU3rQXE8g==", "test", hashOnly, []byte("abcdef"), true) {
		t.Error("a 1.0 digest accepted without the password")
	}
	raw, _ := base64.StdEncoding.DecodeString("TI4tsPqMjerGDP8gawt+NA==")
	if !checkMD5(string(raw), "test", &Secret{Password: "secret"}, []byte("abcdef"), false) {
		t.Error("raw 16-byte digest (WBXML) refused")
	}
	if checkMD5("TI4tsPqMjerGDP8gawt+NA==", "test", &Secret{Password: "wrong"}, []byte("abcdef"), false) {
		t.Error("wrong password accepted")
	}
}

type memSecrets map[string]*Secret

func (m memSecrets) Secret(_ context.Context, user string) (*Secret, error) {
	if s, ok := m[user]; ok {
		return s, nil
	}
	return nil, ErrNoSecret
}

// memMaster adds a master login to alice's login to store.
type memMaster struct {
	pim.Authenticator
	store *memstore.Store
}

func (m memMaster) LoginAs(_ context.Context, user string) (pim.Store, error) {
	if user != "alice" {
		return nil, pim.ErrAuthFailed
	}
	return m.store, nil
}

func md5Message(t *testing.T, d *driver, msgID int, digest string) *Message {
	t.Helper()
	m := &Message{Hdr: SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: d.sid, MsgID: fmt.Sprint(msgID),
		Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: "IMEI:3550000", LocName: "alice"}},
		Body: []Command{&Alert{CmdID: "1", Data: "201", Items: []Item{{Target: &Loc{LocURI: "contacts"}, Source: &Loc{LocURI: "ab"},
			Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}}}, Final: true}
	if digest != "" {
		m.Hdr.Cred = &Cred{Meta: &Meta{Type: "syncml:auth-md5", Format: "b64"}, Data: digest}
	}
	var b bytes.Buffer
	EncodeXML(&b, m.Element())
	return d.send(b.String())
}

func hdrStatus(m *Message) *Status { return m.Body[0].(*Status) }

func TestMD5Session(t *testing.T) {
	for _, tc := range []struct {
		name   string
		secret *Secret
		master bool
	}{
		{"password", &Secret{Password: "pw"}, false},
		{"hash+master", &Secret{HashB64: md5Hash("alice", "pw")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			auth := store.Auth("alice", "pw")
			if tc.master {
				auth = memMaster{auth, store}
			}
			d := &driver{t: t, sid: "1", srv: NewServer(ServerOptions{Auth: auth, Secrets: memSecrets{"alice": tc.secret}})}
			nonceOf := func(st *Status) []byte {
				t.Helper()
				if st.Chal == nil || st.Chal.Meta.Type != "syncml:auth-md5" || st.Chal.Meta.NextNonce == "" {
					t.Fatalf("no MD5 challenge in %+v", st)
				}
				n, _ := base64.StdEncoding.DecodeString(st.Chal.Meta.NextNonce)
				return n
			}
			digest := func(nonce []byte) string {
				g, _ := md5Digest("alice", &Secret{Password: "pw"}, nonce, false)
				return g
			}
			newSession := func(sid string) { d.sid, d.key = sid, "" }
			// No credentials: 407 with an MD5 challenge; nothing is stored.
			st := hdrStatus(md5Message(t, d, 1, ""))
			if st.Data != "407" {
				t.Fatalf("no cred: %+v", st)
			}
			n1 := nonceOf(st)
			// A wrong digest: 401 and a challenge; still nothing stored.
			if bad := hdrStatus(md5Message(t, d, 2, "AAAAAAAAAAAAAAAAAAAAAA==")); bad.Data != "401" || nonceOf(bad) == nil {
				t.Fatalf("wrong digest: %+v", bad)
			}
			if store.Stats().Saves != 0 || len(store.State()) != 0 {
				t.Fatalf("unverified messages wrote %d state records: %v", store.Stats().Saves, store.State())
			}
			// The right digest over the challenge: 212 and the next nonce.
			good := digest(n1)
			r := md5Message(t, d, 3, good)
			if st := hdrStatus(r); st.Data != "212" || r.Hdr.RespURI == "" {
				t.Fatalf("right digest: %+v", st)
			}
			next := nonceOf(hdrStatus(r))
			// The same digest again, in a new session: a replay, refused.
			newSession("2")
			st = hdrStatus(md5Message(t, d, 1, good))
			if st.Data != "401" {
				t.Fatalf("replayed digest accepted: %s", st.Data)
			}
			// Over the nonce of that refusal: accepted.
			if st := hdrStatus(md5Message(t, d, 2, digest(nonceOf(st)))); st.Data != "212" {
				t.Fatalf("digest over the refusal's nonce: %+v", st)
			}
			next = nonceOf(st)
			_ = next
			// The next session uses the nonce it was given: accepted at once.
			newSession("3")
			r = md5Message(t, d, 1, digest(nonceOf(hdrStatus(md5Message(t, d, 1, "AAAAAAAAAAAAAAAAAAAAAA==")))))
			if st := hdrStatus(r); st.Data != "212" {
				t.Fatalf("digest after a challenge: %+v", st)
			}
			given := nonceOf(hdrStatus(r))
			newSession("4")
			if st := hdrStatus(md5Message(t, d, 1, digest(given))); st.Data != "212" {
				t.Fatalf("digest over the nonce given with 212: %+v", st)
			}
			// That nonce is spent now.
			newSession("5")
			if st := hdrStatus(md5Message(t, d, 1, digest(given))); st.Data != "401" {
				t.Fatalf("digest over a spent nonce: %+v", st)
			}
		})
	}
	// A user without a secret gets the basic challenge.
	d := &driver{t: t, sid: "1", srv: NewServer(ServerOptions{Auth: newMemStore().Auth("alice", "pw"), Secrets: memSecrets{}})}
	if st := hdrStatus(md5Message(t, d, 1, "AAAAAAAAAAAAAAAAAAAAAA==")); st.Data != "401" || st.Chal.Meta.Type != "syncml:auth-basic" {
		t.Errorf("unknown user: %+v", st)
	}
}

// countingThrottle allows max failures.
type countingThrottle struct{ fails, max, allowed int }

func (c *countingThrottle) Allow(context.Context, string) bool {
	c.allowed++
	return c.fails < c.max
}
func (c *countingThrottle) Record(_ context.Context, _ string, ok bool) {
	if !ok {
		c.fails++
	}
}

// TestMD5Throttled: wrong digests count as failed logins; once the
// throttle says no, even the right digest is refused.
func TestMD5Throttled(t *testing.T) {
	th := &countingThrottle{max: 2}
	d := &driver{t: t, sid: "1", srv: NewServer(ServerOptions{Auth: newMemStore().Auth("alice", "pw"), Secrets: memSecrets{"alice": &Secret{Password: "pw"}}, Throttle: th})}
	st := hdrStatus(md5Message(t, d, 1, ""))
	nonce, _ := base64.StdEncoding.DecodeString(st.Chal.Meta.NextNonce)
	for i := 2; i <= 3; i++ {
		bad := hdrStatus(md5Message(t, d, i, "AAAAAAAAAAAAAAAAAAAAAA=="))
		if bad.Data != "401" {
			t.Fatalf("wrong digest %d: %s", i, bad.Data)
		}
		nonce, _ = base64.StdEncoding.DecodeString(bad.Chal.Meta.NextNonce)
	}
	if th.fails != 2 {
		t.Fatalf("%d failures recorded, want 2", th.fails)
	}
	good, _ := md5Digest("alice", &Secret{Password: "pw"}, nonce, false)
	if st := hdrStatus(md5Message(t, d, 4, good)); st.Data != "401" {
		t.Errorf("locked out, the right digest got %s", st.Data)
	}
}
