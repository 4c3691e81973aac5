// Package pim is the protocol-neutral core of syncml-imap: a person's
// personal information items (contacts, events, tasks) in a store, and
// what every front (SyncML, CalDAV/CardDAV, ActiveSync) needs to sync them
// with devices: the store interface and its optional capabilities, the
// item kinds, and the errors a front turns into its own statuses; item
// identity, merge and conflict resolution; per-device policies, filters
// and slots; and the change feed, a device's Replica of each database
// (what changed since its sync point, what it now holds).
//
// It knows no wire protocol and no IMAP: fronts translate their anchors
// and forms onto it, and a store (imapstore, or one in memory for tests)
// implements it.
package pim
