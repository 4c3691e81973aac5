package syncml

import (
	"bytes"
	"context"
	"strings"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"testing"
)

func bigCard(name string, n int) string {
	// A photo-like payload: base64 text folded as vCard 3.0 does.
	var b strings.Builder
	b.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:" + name + "\r\nPHOTO;ENCODING=b;TYPE=JPEG:")
	const alphabet = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo&<>ü" // with characters XML escapes, and a 2-byte rune
	runes := []rune(alphabet)
	for i := 0; i < n; i++ {
		b.WriteRune(runes[i%len(runes)])
		if i%74 == 73 {
			b.WriteString("\r\n ")
		}
	}
	b.WriteString("\r\nEND:VCARD\r\n")
	return b.String()
}

func slowSession(t *testing.T, store *memstore.Store) *driver {
	d := newDriver(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	r := d.message(1, true, &Alert{Data: "201", Items: []Item{{Target: loc("contacts"), Source: loc("ab"), Meta: &Meta{Anchor: &Anchor{Next: "1"}, MaxObjSize: 1 << 20}}}})
	if got := statuses(r); len(got) != 2 {
		t.Fatalf("alert: %v", got)
	}
	return d
}

// TestChunkedFromClient: a contact in three chunks is answered 213, 213,
// then 201, and stored whole; a wrong total gives 424; another item
// before the last chunk abandons the object (Alert 223).
func TestChunkedFromClient(t *testing.T) {
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	card := bigCard("Big Photo", 6000)
	parts := []string{card[:2000], card[2000:4500], card[4500:]}
	chunk := func(i int, size int64) *Sync {
		it := Item{Source: loc("L1"), Data: &Data{Text: parts[i]}, MoreData: i < 2}
		if i == 0 {
			it.Meta = &Meta{Size: size}
		}
		return &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{&Change{Op: OpAdd, Meta: &Meta{Type: "text/vcard"}, Items: []Item{it}}}}
	}

	store := newMemStore()
	d := slowSession(t, store)
	for i, want := range []string{"213", "213", "201"} {
		r := d.message(2+i, i == 2, chunk(i, int64(len(card))))
		got := statuses(r)
		if len(got) < 3 || !strings.HasPrefix(got[2], "Add 2 "+want) {
			t.Fatalf("chunk %d: %v, want %s", i, got, want)
		}
	}
	if len(store.Items("contacts")) != 1 {
		t.Fatalf("%d items", len(store.Items("contacts")))
	}
	for _, v := range store.Items("contacts") {
		if string(v) != card {
			t.Errorf("reassembled item differs (%d vs %d bytes)", len(v), len(card))
		}
	}

	store = newMemStore()
	d = slowSession(t, store)
	d.message(2, false, chunk(0, int64(len(card))+10))
	d.message(3, false, chunk(1, 0))
	r := d.message(4, true, chunk(2, 0))
	if got := statuses(r); !strings.HasPrefix(got[2], "Add 2 424") || len(store.Items("contacts")) != 0 {
		t.Errorf("size mismatch: %v, %d stored", got, len(store.Items("contacts")))
	}

	store = newMemStore()
	d = slowSession(t, store)
	d.message(2, false, chunk(0, int64(len(card))))
	r = d.message(3, true, &Sync{Target: loc("contacts"), Source: loc("ab"), Commands: []Command{
		&Change{Op: OpAdd, Items: []Item{{Source: loc("L2"), Data: &Data{Text: vc("Small")}}}}}})
	var abandoned bool
	for _, a := range commands[*Alert](r) {
		if a.Data == "223" && a.Items[0].Target.LocURI == "L1" {
			abandoned = true
		}
	}
	if !abandoned || len(store.Items("contacts")) != 1 {
		t.Errorf("interleaved item: alert 223 %v, %d stored", abandoned, len(store.Items("contacts")))
	}

	d = slowSession(t, newMemStore())
	noSize := chunk(0, 0)
	r = d.message(2, false, noSize)
	if got := statuses(r); !strings.HasPrefix(got[2], "Add 2 411") {
		t.Errorf("first chunk without Size: %v", got)
	}
	d = slowSession(t, newMemStore())
	r = d.message(2, false, chunk(0, 1<<30))
	if got := statuses(r); !strings.HasPrefix(got[2], "Add 2 413") {
		t.Errorf("object over MaxObjSize: %v", got)
	}
}

// TestChunkedToClient: an item larger than the client's MaxMsgSize goes
// in chunks, each message within the limit; they reassemble exactly.
func TestChunkedToClient(t *testing.T) {
	store := newMemStore()
	card := bigCard("Server Photo", 9000)
	store.Put(context.Background(), "contacts", &pim.Item{Data: []byte(card)})
	store.Put(context.Background(), "contacts", &pim.Item{Data: []byte(vc("Small"))})
	d := slowSession(t, store)
	loc := func(s string) *Loc { return &Loc{LocURI: s} }
	r := d.message(2, true, &Sync{Target: loc("contacts"), Source: loc("ab")})
	var got strings.Builder
	chunks, size, msg, done := 0, int64(0), 3, false
	for {
		var b bytes.Buffer
		EncodeXML(&b, r.Element())
		if b.Len() > 3000 {
			t.Errorf("message of %d bytes over MaxMsgSize 3000", b.Len())
		}
		for _, sy := range commands[*Sync](r) {
			for i, c := range sy.Commands {
				it := c.(*Change).Items[0]
				if done || (!strings.Contains(it.Data.Text, "Server Photo") && chunks == 0) {
					continue
				}
				if it.MoreData && i != len(sy.Commands)-1 {
					t.Error("a chunk that is not the last item of its message")
				}
				if chunks == 0 {
					size = metaSize(it.Meta)
				} else if it.Meta != nil && it.Meta.Size != 0 {
					t.Error("Size on a later chunk")
				}
				chunks++
				got.WriteString(it.Data.Text)
				if !it.MoreData {
					done = true
				}
			}
		}
		if r.Final {
			break
		}
		if msg > 60 {
			t.Fatal("package never ends")
		}
		r = d.message(msg, false, &Alert{Data: "222", Items: []Item{{Target: loc("http://127.0.0.1/syncml"), Source: loc("IMEI:3550000")}}})
		msg++
	}
	if got.String() != card || size != int64(len(card)) {
		t.Errorf("reassembled %d bytes (Size %d), want %d", got.Len(), size, len(card))
	}
	if msg < 6 {
		t.Errorf("only %d messages: the item was not chunked", msg-2)
	}
}

func TestRestoreCRLF(t *testing.T) {
	for in, want := range map[string]string{
		"BEGIN:VCARD\nFN:a\nEND:VCARD\n":       "BEGIN:VCARD\r\nFN:a\r\nEND:VCARD\r\n",
		"BEGIN:VCARD\r\nFN:a\r\nEND:VCARD\r\n": "BEGIN:VCARD\r\nFN:a\r\nEND:VCARD\r\n",
		"no line end":                          "no line end",
	} {
		if got := string(restoreCRLF([]byte(in))); got != want {
			t.Errorf("restoreCRLF(%q) = %q", in, got)
		}
	}
}

// TestChunkBoundaries: chunks never begin or end with white space (clients
// trim it) and always reassemble exactly.
func TestChunkBoundaries(t *testing.T) {
	card := bigCard("X", 200000)
	c := &Change{Op: OpAdd, Items: []Item{{Source: &Loc{LocURI: "g"}, Data: &Data{Text: card}}}}
	got, first, n := "", true, 0
	for {
		h, r, ok := splitChange(c, 9000, first)
		if !ok {
			got += c.Items[0].Data.Text
			break
		}
		text := h.Items[0].Data.Text
		if isSpaceByte(text[0]) || isSpaceByte(text[len(text)-1]) || isSpaceByte(r.Items[0].Data.Text[0]) {
			t.Fatalf("chunk %d cut at white space", n)
		}
		first = false
		got += text
		c = r
		n++
	}
	if got != card || n < 20 {
		t.Fatalf("reassembled %d of %d bytes in %d chunks", len(got), len(card), n)
	}
}
