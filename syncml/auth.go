package syncml

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
)

// MD5 authentication (OMA-TS-SyncML_RepPro 1.2, syncml:auth-md5):
//
//	SyncML 1.1, 1.2: B64(MD5(B64(MD5("user:password")) + ":" + nonce))
//	SyncML 1.0:      B64(MD5("user:password:nonce"))
//
// with the nonce as raw bytes (it travels base64 in NextNonce). The server
// needs the password, or B64(MD5("user:password")), to check a digest;
// IMAP never reveals either, so MD5 is offered only when a SecretSource is
// configured. The nonce the server issues in a Chal is kept per device, in
// the store, for the client's next message or session.

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

// MasterAuthenticator is an Authenticator that can also open a user's
// store without the user's password (a Dovecot master user).
type MasterAuthenticator interface {
	Authenticator
	LoginAs(ctx context.Context, user string) (Store, error)
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
