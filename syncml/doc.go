// Package syncml is the SyncML (OMA Data Synchronization 1.1 and 1.2)
// protocol: the message model, its codecs, sessions, authentication,
// status and alert codes, device information and the sync engine.
//
// It knows nothing of IMAP: the engine talks to a small store interface
// that package plugin implements on top of package imapstore.
package syncml
