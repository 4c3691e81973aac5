package syncml

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"strings"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
	"time"
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
		sync.Commands = append(sync.Commands, &Change{Op: OpAdd, Items: []Item{{Source: loc(fmt.Sprint(i)),
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
				store.Put(ctx, "contacts", &pim.Item{Data: data})
			}
		}
		b.StartTimer()
		srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
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
		if n := len(store.Items("contacts")); n != 1000 {
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

// BenchmarkQuietSync5000Events: a two-way sync where nothing changed, of
// a device holding 5,000 events (a fifth weekly series), with and without
// a calendar window: what re-deciding the window every session costs. It
// reports the device state's size too.
func BenchmarkQuietSync5000Events(b *testing.B) {
	for _, window := range []bool{false, true} {
		b.Run(fmt.Sprintf("window=%v", window), func(b *testing.B) {
			ctx := context.Background()
			store := newMemStore()
			for i := 0; i < 5000; i++ {
				start := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i) * 3 * time.Hour)
				rule := ""
				if i%5 == 0 {
					rule = "RRULE:FREQ=WEEKLY;COUNT=20\r\n"
				}
				store.Put(ctx, "calendar", &pim.Item{Data: []byte(fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e%d\r\nSUMMARY:Event %d\r\nDTSTART:%s\r\nDTEND:%s\r\n%sEND:VEVENT\r\nEND:VCALENDAR\r\n",
					i, i, start.Format("20060102T150405Z"), start.Add(time.Hour).Format("20060102T150405Z"), rule))})
			}
			p := pim.DefaultPolicy()
			if window {
				p.CalendarPast, p.CalendarFuture = 30*24*time.Hour, 365*24*time.Hour
			}
			srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw"), Policy: p})
			now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
			srv.opts.now = func() time.Time { return now }
			benchSession(b, srv, "calendar", "s0", "201", "", "0", true)
			if store.State()["device/IMEI:1/calendar"] == nil {
				b.Fatalf("first session not committed: %q", keys(store.State()))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				benchSession(b, srv, "calendar", fmt.Sprint("q", i), "200", fmt.Sprint(i), fmt.Sprint(i+1), false)
			}
			b.ReportMetric(float64(len(store.State()["device/IMEI:1/calendar"])), "state-bytes")
		})
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// BenchmarkTwoWaySync is the engine alone (in-memory store) in a two-way
// sync of a device holding n contacts: nothing changed (quiet), or k=10
// changed on the server. What it reports per sync grows with what
// changed, not with n, when the bulk state is left alone; state-read-B is
// the state bytes read per sync.
func BenchmarkTwoWaySync(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		for _, changes := range []int{0, 10} {
			b.Run(fmt.Sprintf("n=%d/changes=%d", n, changes), func(b *testing.B) {
				ctx := context.Background()
				store := newMemStore()
				var ids []string
				for i := 0; i < n; i++ {
					it := &pim.Item{Data: []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %06d\r\nN:%06d;Person;;;\r\nEMAIL:p%06d@example.org\r\nEND:VCARD\r\n", i, i, i))}
					store.Put(ctx, "contacts", it)
					ids = append(ids, it.ID)
				}
				srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
				defer srv.Close()
				benchSession(b, srv, "contacts", "s0", "201", "", "0", true)
				b.ResetTimer()
				bytesRead := 0
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					for j := 0; j < changes; j++ {
						id := ids[(i*changes+j)%n]
						store.Put(ctx, "contacts", &pim.Item{ID: id, Data: []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Changed %s %d\r\nEND:VCARD\r\n", id, i))})
					}
					before := store.Stats().BytesLoaded
					b.StartTimer()
					benchSession(b, srv, "contacts", fmt.Sprint("q", i), "200", fmt.Sprint(i), fmt.Sprint(i+1), changes > 0)
					bytesRead += store.Stats().BytesLoaded - before
				}
				b.ReportMetric(float64(bytesRead)/float64(b.N), "state-read-B")
			})
		}
	}
}

// benchSession runs one session of device IMEI:1 for database db (alert
// code, anchors), answering the server's Adds with a Map when maps.
func benchSession(b *testing.B, srv *Server, db, sid, code, last, next string, maps bool) {
	ctx := context.Background()
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	key := ""
	final := true
	post := func(msgID int, cmds ...Command) *Message {
		m := &Message{Hdr: SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: sid, MsgID: fmt.Sprint(msgID),
			Target: Loc{LocURI: "http://127.0.0.1/syncml"}, Source: Loc{LocURI: "IMEI:1"}, Meta: &Meta{MaxMsgSize: 1 << 20}}, Body: cmds, Final: final}
		if msgID == 1 {
			m.Hdr.Cred = &Cred{Data: "YWxpY2U6cHc="}
		}
		for i, c := range cmds {
			c.SetID(fmt.Sprint(i + 1))
		}
		var buf bytes.Buffer
		EncodeXML(&buf, m.Element())
		resp, err := srv.Handle(ctx, &Request{Body: buf.Bytes(), SessionKey: key, BaseURL: "http://x/syncml"})
		if err != nil {
			b.Fatal(err)
		}
		root, err := DecodeXML(bytes.NewReader(resp.Body))
		if err != nil {
			b.Fatal(err)
		}
		out, err := ParseMessage(root)
		if err != nil {
			b.Fatal(err)
		}
		if _, k, ok := strings.Cut(out.Hdr.RespURI, "?s="); ok {
			key = k
		}
		return out
	}
	post(1, &Alert{Data: code, Items: []Item{{Target: loc(db), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Last: last, Next: next}}}}})
	r := post(2, &Sync{Target: loc(db), Source: loc("ab")})
	msgID := 2
	var mi []MapItem
	for {
		for _, sy := range commands[*Sync](r) {
			for _, ch := range sy.Commands {
				if x := ch.(*Change); x.Op == OpAdd && maps {
					mi = append(mi, MapItem{Target: x.Items[0].Source.LocURI, Source: "L" + x.Items[0].Source.LocURI})
				}
			}
		}
		if r.Final {
			break
		}
		msgID++
		r = post(msgID, &Alert{Data: "222", Items: []Item{{Target: loc("http://127.0.0.1/syncml"), Source: loc("IMEI:1")}}})
	}
	// The Map in messages of at most 2,000 items, as a client within a
	// MaxMsgSize sends it.
	var last3 *Message
	for {
		msgID++
		chunk := mi[:min(len(mi), 2000)]
		mi = mi[len(chunk):]
		if len(chunk) == 0 {
			last3 = post(msgID)
			break
		}
		final = len(mi) == 0
		last3 = post(msgID, &Map{Target: *loc(db), Source: *loc("ab"), MapItems: chunk})
		final = true
		if len(mi) == 0 {
			break
		}
	}
	if hdrCode(last3) >= 300 {
		b.Fatalf("session %s ended %d", sid, hdrCode(last3))
	}
}

// BenchmarkRefreshFromServer is the engine alone (in-memory store) in a
// refresh from the server of n contacts to a device (MaxMsgSize 1 MiB),
// Map included; the store's reads return copies, as the IMAP store's do. It reports the most heap the session used above what was
// in use before it (the store's items were): peak-heap-MiB counts all
// heap objects (garbage not yet collected too, so it follows the GC's
// pacing), peak-live-MiB what the collections found live. The server
// holds per item only small strings (its map, what it sends) and about
// one message of contents, so the figures grow far slower than n: read
// them side by side. Run with -benchtime=1x for the large n.
func BenchmarkRefreshFromServer(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ctx := context.Background()
			store := newMemStore()
			store.Configure(func(o *memstore.Options) { o.CopyGets = true })
			for i := 0; i < n; i++ {
				store.Put(ctx, "contacts", &pim.Item{Data: []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person %06d\r\nN:%06d;Person;;;\r\nTEL;TYPE=CELL:+49 170 %07d\r\nEMAIL:p%06d@example.org\r\nEND:VCARD\r\n", i, i, i, i))})
			}
			srv := NewServer(ServerOptions{Auth: store.Auth("alice", "pw")})
			defer srv.Close()
			var peak heapPeak
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				stop := sampleHeap()
				benchSession(b, srv, "contacts", fmt.Sprint("r", i), "205", "", fmt.Sprint(i+1), true)
				p := stop()
				peak.objects, peak.live = max(peak.objects, p.objects), max(peak.live, p.live)
			}
			b.StopTimer()
			if st := store.State()[pim.ReplicaKey("IMEI:1", "contacts")]; st == nil {
				b.Fatal("the refresh did not commit")
			}
			b.ReportMetric(float64(peak.objects)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(peak.live)/(1<<20), "peak-live-MiB")
		})
	}
}

// heapPeak is the most heap in use while it was sampled, above what was
// in use at the start: all objects, and the live heap found by the
// collections.
type heapPeak struct{ objects, live uint64 }

// sampleHeap samples the heap every millisecond until the returned stop
// is called, which tells the peak.
func sampleHeap() (stop func() heapPeak) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	read := func() heapPeak {
		metrics.Read(sample)
		return heapPeak{sample[0].Value.Uint64(), sample[1].Value.Uint64()}
	}
	runtime.GC()
	base := read()
	done, result := make(chan struct{}), make(chan heapPeak)
	go func() {
		peak := base
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			s := read()
			peak.objects, peak.live = max(peak.objects, s.objects), max(peak.live, s.live)
			select {
			case <-done:
				result <- heapPeak{peak.objects - base.objects, peak.live - base.live}
				return
			case <-t.C:
			}
		}
	}()
	return func() heapPeak { close(done); return <-result }
}
