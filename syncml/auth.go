package syncml

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"syncml-imap/pim"
	"time"
)

// MD5 authentication (OMA-TS-SyncML_RepPro 1.2, syncml:auth-md5):
//
//	SyncML 1.1, 1.2: B64(MD5(B64(MD5("user:password")) + ":" + nonce))
//	SyncML 1.0:      B64(MD5("user:password:nonce"))
//
// with the nonce as raw bytes (it travels base64 in NextNonce). The server
// needs the password, or B64(MD5("user:password")), to check a digest;
// IMAP never reveals either, so MD5 is offered only when a SecretSource is
// configured. A challenge's nonce is computed from the user's secret, the
// device and the time slot, so issuing it stores nothing; the nonce given
// with 212 for the device's next session is kept in its mailbox.

// Secret is what the server knows of a user for MD5: the password, or only
// its hash B64(MD5("user:password")) (then the store is opened through a
// MasterAuthenticator, and SyncML 1.0 digests cannot be checked).
type Secret struct {
	Password string
	HashB64  string
}

// SecretSource looks up users' secrets. ErrNoSecret: the user has none.
type SecretSource interface {
	Secret(ctx context.Context, user string) (*Secret, error)
}

// ErrNoSecret is returned by a SecretSource for an unknown user.
var ErrNoSecret = errors.New("syncml: no secret for user")

// MasterAuthenticator is an pim.Authenticator that can also open a user's
// store without the user's password (a Dovecot master user).
type MasterAuthenticator interface {
	pim.Authenticator
	LoginAs(ctx context.Context, user string) (pim.Store, error)
}

// md5Hash is B64(MD5("user:password")).
func md5Hash(user, password string) string {
	h := md5.Sum([]byte(user + ":" + password))
	return base64.StdEncoding.EncodeToString(h[:])
}

// md5Digest computes the digest a client sends.
func md5Digest(user string, sec *Secret, nonce []byte, v10 bool) (string, bool) {
	if v10 {
		if sec.Password == "" {
			return "", false
		}
		h := md5.Sum(append([]byte(user+":"+sec.Password+":"), nonce...))
		return base64.StdEncoding.EncodeToString(h[:]), true
	}
	hash := sec.HashB64
	if sec.Password != "" {
		hash = md5Hash(user, sec.Password)
	}
	if hash == "" {
		return "", false
	}
	h := md5.Sum(append([]byte(hash+":"), nonce...))
	return base64.StdEncoding.EncodeToString(h[:]), true
}

// checkMD5 compares the client's digest (base64, or the 16 raw bytes some
// WBXML clients send) with the expected one, in constant time.
func checkMD5(data, user string, sec *Secret, nonce []byte, v10 bool) bool {
	want, ok := md5Digest(user, sec, nonce, v10)
	if !ok {
		return false
	}
	got := data
	if len(data) == md5.Size {
		got = base64.StdEncoding.EncodeToString([]byte(data))
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func newNonce() []byte {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("syncml: crypto/rand: " + err.Error())
	}
	return b
}

func nonceKey(deviceID string) string { return "device/" + deviceID + "/nonce" }

// authenticate checks the header credentials and opens the user's store:
// basic by logging in to IMAP with them, MD5 against the configured
// secret. It returns the header status and the challenge to send. A
// message without valid credentials leaves nothing behind: no session
// (the server keeps none for it), no mailbox write.
func (s *session) authenticate(ctx context.Context, msg *Message) (StatusCode, *Chal) {
	ctx = pim.WithDevice(ctx, s.deviceID)
	basicChal := &Chal{Meta: &Meta{Type: "syncml:auth-basic", Format: "b64"}}
	cred := msg.Hdr.Cred
	if cred == nil || cred.Data == "" {
		// A client that names itself (LocName) and has a secret is asked
		// for MD5, others for basic.
		if chal := s.md5Challenge(ctx, msg.Hdr.Source.LocName); chal != nil {
			return StatusMissingCredentials, chal
		}
		return StatusMissingCredentials, basicChal
	}
	typ := "syncml:auth-basic"
	if cred.Meta != nil && cred.Meta.Type != "" {
		typ = cred.Meta.Type
	}
	switch typ {
	case "syncml:auth-md5":
		return s.authMD5(ctx, msg)
	case "syncml:auth-basic":
	default:
		return StatusInvalidCredentials, basicChal
	}
	user, pass, ok := basicCred(cred)
	if !ok {
		return StatusInvalidCredentials, basicChal
	}
	s.user = user
	s.log = s.log.With("user", user)
	auth := s.srv.opts.Auth
	st, err := auth.Login(ctx, user, pass)
	if errors.Is(err, pim.ErrUnavailable) && s.srv.releaseIdle(user) > 0 {
		// Perhaps the IMAP server's connection limit, reached by the
		// user's idle sessions: once more with their connections given
		// back.
		st, err = auth.Login(ctx, user, pass)
	}
	if err != nil {
		return s.loginFailed(err), basicChal
	}
	// The connection may be given back while the session is idle; the
	// same login opens the next one (the server's own use of a password
	// it checked: not counted as a device's attempt).
	s.store = &sessionStore{st: st, reopen: func(ctx context.Context) (pim.Store, error) {
		return auth.Login(pim.WithSecretLogin(pim.WithDevice(ctx, s.deviceID)), user, pass)
	}}
	s.store.ownRecords(s.deviceID)
	s.log.Info("authenticated", "method", "basic")
	return StatusAuthAccepted, nil
}

// basicCred decodes syncml:auth-basic credentials.
func basicCred(cred *Cred) (user, pass string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred.Data))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(raw), ":")
	return user, pass, ok && user != ""
}

// credUser is the user a message's credentials name ("" for none).
func credUser(msg *Message) string {
	cred := msg.Hdr.Cred
	if cred == nil || cred.Data == "" {
		return ""
	}
	if cred.Meta != nil && cred.Meta.Type == "syncml:auth-md5" {
		return msg.Hdr.Source.LocName
	}
	user, _, _ := basicCred(cred)
	return user
}

// loginFailed logs why a login did not open the store and returns the
// header status: 401 only for wrong credentials; when the IMAP server
// cannot answer (down, timing out, over its limits) the device is told
// 503, so that nobody re-enters a right password.
func (s *session) loginFailed(err error) StatusCode {
	if errors.Is(err, pim.ErrAuthFailed) {
		return StatusInvalidCredentials
	}
	s.log.Error("login failed: mail server unavailable", "err", err)
	s.unavailable = true
	return StatusServiceUnavailable
}

// md5Key is the key of a user's challenge nonces: derived from the
// secret, so any instance with the same secrets issues and checks the
// same nonces, and nobody without the secret can compute one.
func md5Key(user string, sec *Secret) []byte {
	h := sha256.New()
	h.Write([]byte("syncml-imap nonce\x00" + strings.ToLower(user) + "\x00" + sec.Password + "\x00" + sec.HashB64))
	return h.Sum(nil)
}

// nonceSlot is how long a challenge nonce is issued for; it is accepted
// in its slot and the next one.
const nonceSlot = 5 * time.Minute

// slotNonce is the challenge nonce of a user's device in a time slot.
// A challenge thus needs no state: the server computes the nonce again
// when the digest comes (the device never sends the nonce back).
func slotNonce(user, device string, sec *Secret, slot int64) []byte {
	m := hmac.New(sha256.New, md5Key(user, sec))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(slot))
	m.Write([]byte(device + "\x00"))
	m.Write(b[:])
	return m.Sum(nil)[:16]
}

func (s *session) nonceSlotNow() int64 { return s.srv.opts.now().UnixNano() / int64(nonceSlot) }

func md5Chal(nonce []byte) *Chal {
	return &Chal{Meta: &Meta{Type: "syncml:auth-md5", Format: "b64", NextNonce: base64.StdEncoding.EncodeToString(nonce)}}
}

// nonceRecord is what the device's mailbox keeps of its nonces, written
// only once its credentials were verified.
type nonceRecord struct {
	// Next was issued at the end of its last authenticated session, for
	// its next one (OMA-TS-SyncML_RepPro: the nonce of a Chal is for the
	// client's next Cred); spent when used.
	Next []byte `json:",omitempty"`
	// Spent is the newest slot whose challenge nonce was used: a digest
	// over it or an older one is a replay.
	Spent int64 `json:",omitempty"`
}

func loadNonces(ctx context.Context, st pim.Store, device string) (*nonceRecord, error) {
	raw, err := st.LoadState(ctx, nonceKey(device))
	if err != nil {
		return nil, err
	}
	rec := &nonceRecord{}
	if raw != nil && json.Unmarshal(raw, rec) != nil {
		rec = &nonceRecord{Next: raw} // kept by an earlier version: the nonce itself
	}
	return rec, nil
}

func saveNonces(ctx context.Context, st pim.Store, device string, rec *nonceRecord) error {
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return st.SaveState(ctx, nonceKey(device), raw)
}

// secretOf is the user's MD5 secret; nil when MD5 is not possible.
func (s *session) secretOf(ctx context.Context, user string) *Secret {
	if s.srv.opts.Secrets == nil || user == "" {
		return nil
	}
	sec, err := s.srv.opts.Secrets.Secret(ctx, user)
	if err != nil {
		if !errors.Is(err, ErrNoSecret) {
			s.log.Error("secret lookup", "user", user, "err", err)
		}
		return nil
	}
	if sec.Password == "" {
		if _, ok := s.srv.opts.Auth.(MasterAuthenticator); !ok {
			s.log.Warn("MD5 secret is a hash but no master user is configured", "user", user)
			return nil
		}
	}
	return sec
}

// openForMD5 opens a user's store for MD5: with the password when the
// secret has it, else through the master user.
func (s *session) openForMD5(ctx context.Context, user string, sec *Secret) (pim.Store, error) {
	if sec.Password != "" {
		// The server's own use of the secret: not a login attempt of the
		// device (the digest is what is checked, and throttled).
		return s.srv.opts.Auth.Login(pim.WithSecretLogin(ctx), user, sec.Password)
	}
	return s.srv.opts.Auth.(MasterAuthenticator).LoginAs(ctx, user)
}

// md5Challenge is the MD5 challenge for a user that has a secret (nil
// for others): the slot's nonce, computed, not stored.
func (s *session) md5Challenge(ctx context.Context, user string) *Chal {
	sec := s.secretOf(ctx, user)
	if sec == nil {
		return nil
	}
	return md5Chal(slotNonce(user, s.deviceID, sec, s.nonceSlotNow()))
}

// authMD5 checks an MD5 digest: over the challenge nonce of this or the
// previous slot (computed), or over the nonce issued at the end of the
// device's last session (kept in its mailbox). Only a verified digest
// writes: the spent slot and the next session's nonce.
func (s *session) authMD5(ctx context.Context, msg *Message) (StatusCode, *Chal) {
	basicChal := &Chal{Meta: &Meta{Type: "syncml:auth-basic", Format: "b64"}}
	user := msg.Hdr.Source.LocName
	s.user = user
	th := s.srv.opts.Throttle
	if th != nil && !th.Allow(ctx, user) {
		return StatusInvalidCredentials, basicChal // locked out: not even the secret is looked up
	}
	sec := s.secretOf(ctx, user)
	if sec == nil {
		return StatusInvalidCredentials, basicChal
	}
	digest, v10 := strings.TrimSpace(msg.Hdr.Cred.Data), msg.Hdr.VerDTD == "1.0"
	slot := s.nonceSlotNow()
	chal := md5Chal(slotNonce(user, s.deviceID, sec, slot))
	matched := int64(-1)
	for _, sl := range []int64{slot, slot - 1} {
		if checkMD5(digest, user, sec, slotNonce(user, s.deviceID, sec, sl), v10) {
			matched = sl
			break
		}
	}
	// The mailbox is opened for the session, and to check a digest over
	// the nonce it keeps; failed digests are throttled, so a guesser gets
	// few such logins.
	st, err := s.openForMD5(ctx, user, sec)
	if errors.Is(err, pim.ErrUnavailable) && s.srv.releaseIdle(user) > 0 {
		st, err = s.openForMD5(ctx, user, sec)
	}
	if err != nil {
		if code := s.loginFailed(err); code != StatusInvalidCredentials {
			return code, nil
		}
		s.log.Error("open mailbox for MD5", "err", err)
		return StatusInvalidCredentials, chal
	}
	rec, err := loadNonces(ctx, st, s.deviceID)
	if err != nil {
		st.Close()
		s.log.Error("read the device's nonce", "err", err)
		s.unavailable = true
		return StatusServiceUnavailable, nil
	}
	ok, replay := false, false
	switch {
	case matched >= 0 && matched > rec.Spent:
		ok = true
	case matched >= 0:
		replay = true
	case rec.Next != nil:
		ok = checkMD5(digest, user, sec, rec.Next, v10)
	}
	if th != nil {
		th.Record(ctx, user, ok)
	}
	if matched >= 0 {
		rec.Spent = max(rec.Spent, matched)
	}
	if !ok {
		if replay {
			s.log.Warn("MD5 digest over a spent nonce refused")
		}
		if rec.Next != nil {
			// The nonce kept for the device is still unspent: the retry
			// goes over it (the slot's may be spent already), and
			// nothing needs to be written.
			chal = md5Chal(rec.Next)
		}
		st.Close()
		return StatusInvalidCredentials, chal
	}
	rec.Next = newNonce()
	if err := saveNonces(ctx, st, s.deviceID, rec); err != nil {
		s.log.Error("save the device's next nonce", "err", err)
		chal = md5Chal(slotNonce(user, s.deviceID, sec, slot+1))
	} else {
		chal = md5Chal(rec.Next)
	}
	s.store = &sessionStore{st: st, reopen: func(ctx context.Context) (pim.Store, error) {
		return s.openForMD5(pim.WithDevice(ctx, s.deviceID), user, sec)
	}}
	s.store.ownRecords(s.deviceID)
	s.log = s.log.With("user", user)
	s.log.Info("authenticated", "method", "md5")
	return StatusAuthAccepted, chal
}
