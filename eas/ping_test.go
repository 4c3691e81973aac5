package eas

import (
	"context"
	"testing"

	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
)

func TestPingAndItemOperations(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "contacts")))
	p.sync(t, el("", "Collection", tx("", "SyncKey", "1"), tx("", "CollectionId", "contacts")))
	if _, a := p.post("Ping", "secret", el("Ping", "Ping", tx("", "HeartbeatInterval", "30"),
		el("", "Folders", el("", "Folder", tx("", "Id", "contacts"), tx("", "Class", "Contacts"))))); text(a, "Status") != "5" || text(a, "HeartbeatInterval") != "60" {
		t.Errorf("short heartbeat: %s", wbxml.Format(a))
	}
	if _, a := p.post("Ping", "secret", nil); text(a, "Status") != "3" {
		t.Errorf("a first Ping naming nothing: %s", wbxml.Format(a))
	}
	it := &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:New One\r\nN:One;New;;;\r\nEND:VCARD\r\n")}
	st.Put(ctx, pim.Contacts, it)
	_, a := p.post("Ping", "secret", el("Ping", "Ping", tx("", "HeartbeatInterval", "120"),
		el("", "Folders", el("", "Folder", tx("", "Id", "contacts"), tx("", "Class", "Contacts")))))
	if text(a, "Status") != "2" || text(child(a, "Folders"), "Folder") != "contacts" {
		t.Errorf("a change: %s", wbxml.Format(a))
	}
	// A Ping naming nothing repeats the last one.
	if _, a = p.post("Ping", "secret", nil); text(a, "Status") != "2" {
		t.Errorf("a repeated Ping: %s", wbxml.Format(a))
	}
	_, a = p.post("ItemOperations", "secret", el("ItemOperations", "ItemOperations", el("", "Fetch", tx("", "Store", "Mailbox"),
		tx("AirSync", "CollectionId", "contacts"), tx("AirSync", "ServerId", it.ID))))
	f := child(child(a, "Response"), "Fetch")
	if text(a, "Status") != "1" || text(f, "Status") != "1" || text(child(f, "Properties"), "FileAs") != "New One" {
		t.Errorf("fetch: %s", wbxml.Format(a))
	}
}
