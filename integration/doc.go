// Package integration holds end-to-end tests: a real Dovecot and the real
// SyncEvolution client, both started by the tests themselves, against the
// syncml-imap daemon. It has no code of its own beyond the tests.
package integration
