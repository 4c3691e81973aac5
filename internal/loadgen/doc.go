// Package loadgen plays SyncML devices over HTTP against a running
// syncml-imap daemon and measures it: a slow sync of N new contacts, an
// unchanged two-way sync, a two-way sync with k changes, a refresh from the
// server of N contacts to a fresh device, and C sessions at once. Beside
// them it measures the IMAP server itself (APPEND one by one and
// MULTIAPPEND of the same messages into a scratch folder) so that the
// daemon's figures can be read as a ratio of what the mail server can do.
//
// Its client is a SyncML 1.2 client of its own, not the engine's test
// device: it authenticates with basic credentials in the SyncHdr, follows
// the server's RespURI, keeps its messages under the server's MaxMsgSize
// (a big package goes in several messages, Final on the last), announces
// and enforces its own MaxMsgSize, answers every server command with a
// Status, pulls the rest of a package with Alert 222 and sends its Map in
// as many messages as it takes. Every session is checked: every item sent
// acknowledged, every item the server should send received, every command
// answered; a failed check is an error, never a figure.
//
// It is not a test of correctness in depth (the engine's and the
// integration tests are), and it starts nothing: the daemon and the IMAP
// server run already (integration/load_test.go starts both for a
// self-hosted run; cmd/syncml-load runs against existing ones).
package loadgen
