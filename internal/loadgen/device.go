package loadgen

import (
	"fmt"
	"sort"
	"strconv"

	"syncml-imap/syncml"
)

// Device is one simulated phone: its address book under its own IDs
// (LUIDs 1, 2, 3... as phones number them), what changed since its last
// session, and the anchors of that session. It is used by one goroutine
// at a time.
type Device struct {
	ID      string
	account Account
	number  int // its number among the user's devices

	items    map[string]string // LUID → vCard
	nextLUID int
	// dirty: what changed since the last completed session, by LUID:
	// "Add", "Replace" or "Delete".
	dirty map[string]syncml.ChangeOp
	made  int // contacts this device made (numbers their FN)
	// last is our Next anchor of the last completed session; serverLast
	// the server's (OMA-TS-DS_Protocol 1.2, 2.2.2: the server's Last must
	// equal it for a normal sync).
	last, serverLast string
	sessions         int
	devinfSent       bool
}

// NewDevice is device number n of the account, with the ID
// "IMEI:load-<user>-<n>" and an empty address book.
func NewDevice(acct Account, n int) *Device {
	return &Device{ID: fmt.Sprintf("IMEI:load-%s-%d", acct.User, n), account: acct, number: n,
		items: map[string]string{}, dirty: map[string]syncml.ChangeOp{}}
}

// Len is how many contacts the device holds.
func (d *Device) Len() int { return len(d.items) }

// Names are the FN of its contacts.
func (d *Device) Names() map[string]bool {
	out := make(map[string]bool, len(d.items))
	for _, v := range d.items {
		out[fnOf(v)] = true
	}
	return out
}

// MakeContacts adds n new contacts of the device's own.
func (d *Device) MakeContacts(n int) {
	for range n {
		d.made++
		luid := d.add(contact(d.account.User, d.number, d.made, 0))
		d.dirty[luid] = syncml.OpAdd
	}
}

// Change edits n of its contacts (the oldest first, then on round the
// book): their NOTE becomes revision rev.
func (d *Device) Change(n, rev int) {
	luids := d.luids()
	for i := range min(n, len(luids)) {
		l := luids[(rev*n+i)%len(luids)]
		d.items[l] = withNote(d.items[l], fmt.Sprintf("revision %d of a contact the load generator made", rev))
		if d.dirty[l] != "Add" {
			d.dirty[l] = syncml.OpReplace
		}
	}
}

// add keeps data under a new LUID.
func (d *Device) add(data string) string {
	d.nextLUID++
	luid := strconv.Itoa(d.nextLUID)
	d.items[luid] = data
	return luid
}

// luids are the device's IDs in the order it made them.
func (d *Device) luids() []string {
	out := make([]string, 0, len(d.items))
	for l := range d.items {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i])
		b, _ := strconv.Atoi(out[j])
		return a < b
	})
	return out
}

// outgoing is what the device sends in package 3 of a sync in mode:
// everything in a slow sync or a refresh from the client, its changes in
// a two-way or one-way sync from the client, nothing otherwise.
func (d *Device) outgoing(mode syncml.AlertCode) []syncml.Command {
	var cmds []syncml.Command
	change := func(op syncml.ChangeOp, luid string) {
		c := &syncml.Change{Op: op, Items: []syncml.Item{{Source: &syncml.Loc{LocURI: luid}}}}
		if op != syncml.OpDelete {
			c.Meta = &syncml.Meta{Type: "text/vcard"}
			c.Items[0].Data = &syncml.Data{Text: d.items[luid]}
		}
		cmds = append(cmds, c)
	}
	switch mode {
	case syncml.AlertSlowSync, syncml.AlertRefreshFromClient:
		for _, l := range d.luids() {
			change("Add", l)
		}
	case syncml.AlertTwoWay, syncml.AlertOneWayFromClient:
		for _, l := range d.luids() {
			if op := d.dirty[l]; op != "" {
				change(op, l)
			}
		}
		var gone []string
		for l, op := range d.dirty {
			if op == syncml.OpDelete {
				gone = append(gone, l)
			}
		}
		sort.Strings(gone)
		for _, l := range gone {
			change("Delete", l)
		}
	}
	return cmds
}

// devInf is how the device describes itself (OMA-TS-DS_DevInf 1.2): one
// contacts datastore that takes and sends vCard 3.0 (and 2.1), every sync
// type, no large objects.
func (d *Device) devInf() *syncml.DevInf {
	return &syncml.DevInf{VerDTD: "1.2", Man: "syncml-imap", Mod: "loadgen", SwV: "1.0", DevID: d.ID, DevTyp: "phone",
		UTC: true, SupportNumberOfChanges: true,
		DataStores: []syncml.DataStore{{
			SourceRef: localDB, DisplayName: "Contacts",
			RxPref:    syncml.ContentType{CTType: "text/vcard", VerCT: "3.0"},
			Rx:        []syncml.ContentType{{CTType: "text/x-vcard", VerCT: "2.1"}},
			TxPref:    syncml.ContentType{CTType: "text/vcard", VerCT: "3.0"},
			SyncTypes: []int{1, 2, 3, 4, 5, 6, 7},
		}}}
}

// The databases: the device's own, and the server's it syncs with.
const (
	localDB  = "./contacts"
	serverDB = "contacts"
)
