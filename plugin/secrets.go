package plugin

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"syncml-imap/pim"
	"syncml-imap/syncml"
)

// SecretsFile is a syncml.SecretSource read from a file of
// "user:{PLAIN}password" or "user:{MD5}B64(MD5(user:password))" lines
// (see config.Auth.SecretsFile). It is read once; the daemon reloads it
// by restarting.
type SecretsFile struct {
	secrets map[string]*syncml.Secret
}

// LoadSecrets reads a secrets file. Errors name the line, never a secret.
func LoadSecrets(path string) (*SecretsFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("plugin: auth.secrets_file: %w", err)
	}
	f := &SecretsFile{secrets: map[string]*syncml.Secret{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, secret, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("plugin: %s:%d: want user:secret", path, n)
		}
		switch {
		case strings.HasPrefix(secret, "{PLAIN}"):
			f.secrets[user] = &syncml.Secret{Password: strings.TrimPrefix(secret, "{PLAIN}")}
		case strings.HasPrefix(secret, "{MD5}"):
			f.secrets[user] = &syncml.Secret{HashB64: strings.TrimPrefix(secret, "{MD5}")}
		default:
			return nil, fmt.Errorf("plugin: %s:%d: secret of %q must start with {PLAIN} or {MD5}", path, n, user)
		}
	}
	return f, nil
}

// Secret implements syncml.SecretSource.
func (f *SecretsFile) Secret(_ context.Context, user string) (*syncml.Secret, error) {
	if s, ok := f.secrets[user]; ok {
		return s, nil
	}
	return nil, syncml.ErrNoSecret
}

// MasterAuth is IMAPAuth with a Dovecot-style master user, so that a
// mailbox can be opened for a device that authenticated with an MD5
// digest against a stored hash.
type MasterAuth struct {
	IMAPAuth
	Master, Password, Separator string
}

// LoginAs implements syncml.MasterAuthenticator. As with Login, the
// client's address goes to the IMAP server, and an IMAP server that
// cannot log in now matches pim.ErrUnavailable.
func (a *MasterAuth) LoginAs(ctx context.Context, user string) (pim.Store, error) {
	login := user + a.Separator + a.Master
	st, err := a.Budget.await(ctx, login, func() (*accountStore, error) {
		return dial(ctx, a.Options, login, a.Password)
	})
	if err != nil {
		return nil, fmt.Errorf("plugin: master login for %q: %w", user, err)
	}
	return st, nil
}
