package plugin

import (
	"context"
	"errors"
	"fmt"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/pim"
)

// ErrNoPassword: OpenAccount got no password and no master user is
// configured, so it cannot log in.
var ErrNoPassword = errors.New("plugin: no password")

// loginError is a refused login: its text says who and why in the
// admin's words, and it still matches pim.ErrAuthFailed.
type loginError struct{ msg string }

func (e *loginError) Error() string { return e.msg }
func (e *loginError) Unwrap() error { return pim.ErrAuthFailed }

// OpenAccount opens a user's mailbox for the admin commands. It logs in
// as user with password; with an empty password and a configured master
// user it logs in through the master user instead (Dovecot's
// auth_master_user_separator: login name "<user><separator><master>" with
// the master's password). A refused login matches pim.ErrAuthFailed,
// an IMAP server that cannot be reached or cannot log in now
// pim.ErrUnavailable, no password at all ErrNoPassword; no error
// carries a password.
func OpenAccount(ctx context.Context, cfg *config.Config, user, password string) (pim.Store, error) {
	return openAccount(ctx, cfg, user, password, false)
}

// OpenAccountReadOnly opens the mailbox as OpenAccount does, for the
// commands that only read (devices list and show, export): the store
// creates no folder (a missing one reads as empty) and refuses writes
// (imapstore.ErrReadOnly), so that looking at an account leaves it as
// it was.
func OpenAccountReadOnly(ctx context.Context, cfg *config.Config, user, password string) (pim.Store, error) {
	return openAccount(ctx, cfg, user, password, true)
}

func openAccount(ctx context.Context, cfg *config.Config, user, password string, readOnly bool) (pim.Store, error) {
	if user == "" {
		return nil, errors.New("plugin: open account: no user name")
	}
	login, via := user, ""
	if password == "" {
		if cfg.IMAP.MasterUser == "" {
			return nil, fmt.Errorf("%w for %s: set SYNCML_IMAP_PASSWORD, answer the prompt, or configure [imap] master_user", ErrNoPassword, user)
		}
		login, password = user+cfg.IMAP.MasterSeparator+cfg.IMAP.MasterUser, cfg.IMAP.MasterPassword
		via = cfg.IMAP.MasterUser
	}
	opts, err := StoreOptions(cfg, nil)
	if err != nil {
		return nil, err
	}
	opts.ReadOnly = readOnly
	acct, err := imapstore.Dial(ctx, opts, login, password)
	if errors.Is(err, imapstore.ErrAuthFailed) {
		// Dovecot answers an unknown user like a wrong password.
		if via != "" {
			return nil, &loginError{fmt.Sprintf("plugin: login failed for %s through master user %s: wrong master password, no such user, or [imap] master_separator %q differs from Dovecot's auth_master_user_separator",
				user, via, cfg.IMAP.MasterSeparator)}
		}
		return nil, &loginError{fmt.Sprintf("plugin: login failed for %s: wrong password (or no such user)", user)}
	}
	if errors.Is(err, imapstore.ErrUnavailable) {
		return nil, &mappedError{fmt.Errorf("plugin: open account of %s: the IMAP server is unavailable (not a wrong password; try again later): %w", user, err), pim.ErrUnavailable}
	}
	if err != nil {
		return nil, fmt.Errorf("plugin: open account of %s: %w", user, err)
	}
	return &accountStore{acct: acct}, nil
}

// AdminDevices manages the device slots of the account behind store, with
// as many slots as the configuration grants.
func AdminDevices(cfg *config.Config, store pim.Store) *pim.Devices {
	return pim.NewDevices(store, cfg.Sync.MaxDevices)
}
