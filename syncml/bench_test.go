package syncml

import (
	"bytes"
	"context"
	"fmt"
	"testing"
)

// BenchmarkSlowSync1000 runs the engine alone (in process, in-memory
// store, no network) through a slow sync in which the client sends 1,000
// contacts in one package: packages 1, 3 and 5, XML encode and decode
// included.
func BenchmarkSlowSync1000(b *testing.B) {
	b.Run("empty-mailbox", func(b *testing.B) { benchSlowSync(b, false) })
	// The same 1,000 contacts already in the mailbox: every client item
	// is matched against the server's (no duplicates).
	b.Run("all-matching", func(b *testing.B) { benchSlowSync(b, true) })
}

func benchSlowSync(b *testing.B, prefill bool) {
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	encode := func(msgID int, sid string, final bool, cmds ...Command) []byte {
		m := &Message{Hdr: SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: sid, MsgID: fmt.Sprint(msgID),
			Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: "IMEI:1"}}, Body: cmds, Final: final}
		if msgID == 1 {
			m.Hdr.Cred = &Cred{Data: "YWxpY2U6cHc="}
		}
		for i, c := range cmds {
			c.SetID(fmt.Sprint(i + 1))
		}
		var buf bytes.Buffer
		EncodeXML(&buf, m.Element())
		return buf.Bytes()
	}
	sync := &Sync{Target: loc("contacts"), Source: loc("ab")}
	var server [][]byte
	for i := 0; i < 1000; i++ {
		server = append(server, []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %04d\r\nN:%04d;Person;;;\r\nTEL;TYPE=CELL:+49 170 %07d\r\nEMAIL:p%04d@example.org\r\nEND:VCARD\r\n", i, i, i, i)))
		sync.Commands = append(sync.Commands, &Change{Op: "Add", Items: []Item{{Source: loc(fmt.Sprint(i)),
			Data: &Data{Text: fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %04d\r\nN:%04d;Person;;;\r\nTEL;TYPE=CELL:+49 170 %07d\r\nEMAIL:p%04d@example.org\r\nEND:VCARD\r\n", i, i, i, i)}}}})
	}
	pkg3 := encode(2, "1", true, sync)
	b.SetBytes(int64(len(pkg3)))
	b.ReportAllocs()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		store := newMemStore()
		if prefill {
			for _, data := range server {
				store.Put(ctx, "contacts", &StoreItem{Data: data})
			}
		}
		b.StartTimer()
		srv := NewServer(ServerOptions{Auth: memAuth{store}})
		sid := fmt.Sprint(i)
		resp, err := srv.Handle(ctx, &Request{Body: encode(1, sid, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}}}}}), BaseURL: "http://x/syncml"})
		if err != nil {
			b.Fatal(err)
		}
		key := sessionKeyOf(b, resp.Body)
		body := bytes.Replace(pkg3, []byte("<SessionID>1</SessionID>"), []byte("<SessionID>"+sid+"</SessionID>"), 1)
		if resp, err = srv.Handle(ctx, &Request{Body: body, SessionKey: key, BaseURL: "http://x/syncml"}); err != nil {
			b.Fatal(err)
		}
		if resp, err = srv.Handle(ctx, &Request{Body: encode(3, sid, true), SessionKey: key, BaseURL: "http://x/syncml"}); err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(resp.Body, []byte("<Final/>")) {
			b.Fatal("session did not end")
		}
		if n := len(store.items["contacts"]); n != 1000 {
			b.Fatalf("%d contacts after the slow sync, want 1000", n)
		}
	}
}

func sessionKeyOf(b *testing.B, body []byte) string {
	root, err := DecodeXML(bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	m, err := ParseMessage(root)
	if err != nil {
		b.Fatal(err)
	}
	i := bytes.LastIndex([]byte(m.Hdr.RespURI), []byte("s="))
	if i < 0 {
		b.Fatalf("no session key in %q", m.Hdr.RespURI)
	}
	return m.Hdr.RespURI[i+2:]
}
