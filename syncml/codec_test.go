package syncml

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syncml-imap/pim"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parse(t testing.TB, b []byte) *Message {
	t.Helper()
	root, err := DecodeXML(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseMessage(root)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestFixturesRoundTrip: every fixture decodes, encodes and decodes again
// to the same message.
func TestFixturesRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.xml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		m := parse(t, readFixture(t, filepath.Base(f)))
		var buf bytes.Buffer
		if err := EncodeXML(&buf, m.Element()); err != nil {
			t.Fatal(err)
		}
		again := parse(t, buf.Bytes())
		if !reflect.DeepEqual(stripXMLData(m), stripXMLData(again)) {
			t.Errorf("%s: round trip differs\n%s", f, buf.String())
		}
	}
}

// stripXMLData drops parsed sub-documents' namespaces, which the encoder
// may write differently.
func stripXMLData(m *Message) *Message {
	var fix func(e *Element, inherited string)
	fix = func(e *Element, inherited string) {
		if e.NS == "" {
			e.NS = inherited
		}
		for _, c := range e.Children {
			fix(c, e.NS)
		}
	}
	for _, c := range m.Body {
		if a, ok := c.(*Access); ok {
			for _, it := range a.Items {
				if it.Data != nil && it.Data.XML != nil {
					fix(it.Data.XML, "")
				}
			}
		}
	}
	return m
}

func TestParseFixtureContent(t *testing.T) {
	m := parse(t, readFixture(t, "pkg1-slow.xml"))
	if m.Hdr.VerDTD != "1.2" || m.Hdr.Source.LocName != "alice" || m.Hdr.Meta.MaxMsgSize != 20000 || !m.Final {
		t.Errorf("header %+v", m.Hdr)
	}
	if m.Hdr.Cred.Meta.Type != "syncml:auth-basic" || m.Hdr.Cred.Data != "YWxpY2U6cHc=" {
		t.Errorf("cred %+v", m.Hdr.Cred)
	}
	put := m.Body[0].(*Access)
	if put.Op != "Put" || put.Items[0].Data.XML.Name != "DevInf" || put.Items[0].Data.XML.ChildText("Man") != "Test & Co" {
		t.Errorf("put %+v", put)
	}
	al := m.Body[2].(*Alert)
	if al.Data != "201" || al.Items[0].Meta.Anchor.Next != "42" || al.Items[0].Target.LocURI != "./contacts" {
		t.Errorf("alert %+v", al)
	}

	m = parse(t, readFixture(t, "pkg3-sync.xml"))
	sy := m.Body[1].(*Sync)
	if *sy.NumberOfChanges != 3 || len(sy.Commands) != 3 {
		t.Fatalf("sync %+v", sy)
	}
	add := sy.Commands[0].(*Change)
	if !strings.Contains(add.Items[0].Data.Text, "FN:Ann <Alpha> & Co\n") {
		t.Errorf("CDATA item data %q", add.Items[0].Data.Text)
	}
	rep := sy.Commands[1].(*Change)
	if d, ok := itemData(rep, rep.Items[0]); !ok || !strings.Contains(string(d), "FN:Bo") {
		t.Errorf("b64 item data %q", d)
	}
	if _, ok := m.Body[3].(*Unknown); !ok {
		t.Errorf("Exec not parsed as Unknown: %T", m.Body[3])
	}
}

func TestMalformedInput(t *testing.T) {
	for _, in := range []string{
		"", "<", "not xml", "<SyncML/>", "<Foo><SyncHdr/><SyncBody/></Foo>",
		"<SyncML><SyncHdr><VerDTD>1.2</VerDTD></SyncHdr><SyncBody/></SyncML>",
		strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100),
	} {
		root, err := DecodeXML(strings.NewReader(in))
		if err == nil {
			_, err = ParseMessage(root)
		}
		if err == nil {
			t.Errorf("%q: accepted", in)
		}
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.xml")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := DecodeXML(bytes.NewReader(b))
		if err != nil {
			return
		}
		m, err := ParseMessage(root)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := EncodeXML(&buf, m.Element()); err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeXML(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatalf("re-encoded message does not decode: %v\n%s", err, buf.Bytes())
		}
	})
}

func TestSameContent(t *testing.T) {
	a := []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=cell:1\r\nEND:VCARD\r\n")
	b := []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:x\r\nTEL;TYPE=CELL:1\r\nTITLE:\r\nADR:;;;;;;\r\nFN:Ann\r\nREV:2026\r\nEND:VCARD\r\n")
	if !pim.SameContent(a, b) {
		t.Error("echo with empty properties and bookkeeping counted as a change")
	}
	c := []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nTEL;TYPE=cell:2\r\nEND:VCARD\r\n")
	if pim.SameContent(a, c) {
		t.Error("a changed phone number counted as the same")
	}
	ev := []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	ev2 := []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\nDESCRIPTION:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	if !pim.SameContent(ev, ev2) {
		t.Error("DESCRIPTION repeating SUMMARY counted as a change")
	}
}

func TestIdentity(t *testing.T) {
	if a, b := pim.IdentityOf("contacts", []byte("BEGIN:VCARD\r\nFN:Ann  Alpha\r\nEND:VCARD\r\n")), pim.IdentityOf("contacts", []byte("BEGIN:VCARD\r\nFN:ann alpha\r\nEND:VCARD\r\n")); a != b {
		t.Errorf("%+v != %+v", a, b)
	}
	ev := pim.IdentityOf("calendar", []byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:u\r\nSUMMARY:S\r\nDTSTART:20261201T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	if ev.UID != "u" || ev.Fields != "s|20261201T090000Z" {
		t.Errorf("event identity %+v", ev)
	}
}

// refuseAll is an pim.Authenticator that refuses every login: the header
// paths below never reach a store (the real one is tested in plugin and
// integration, against Dovecot).
type refuseAll struct{}

func (refuseAll) Login(context.Context, string, string) (pim.Store, error) {
	return nil, pim.ErrAuthFailed
}

func TestHeaderStatuses(t *testing.T) {
	s := NewServer(ServerOptions{Auth: refuseAll{}})
	cases := []struct {
		mutate func(string) string
		want   string
	}{
		{func(x string) string { return strings.Replace(x, "<VerDTD>1.2</VerDTD>", "<VerDTD>9.9</VerDTD>", 1) }, "505"},
		{func(x string) string { return strings.Replace(x, "SyncML/1.2", "SyncML/9", 1) }, "513"},
		{func(x string) string { return x[:strings.Index(x, "<Cred>")] + x[strings.Index(x, "</Cred>")+7:] }, "407"},
		{func(x string) string {
			return strings.Replace(x, "YWxpY2U6cHc=", base64.StdEncoding.EncodeToString([]byte("alice:wrong")), 1)
		}, "401"},
	}
	for _, c := range cases {
		body := c.mutate(string(readFixture(t, "pkg1-slow.xml")))
		resp, err := s.Handle(context.Background(), &Request{Body: []byte(body), BaseURL: "http://x/syncml"})
		if err != nil {
			t.Fatal(err)
		}
		m := parse(t, resp.Body)
		st := m.Body[0].(*Status)
		if st.Cmd != "SyncHdr" || st.Data != c.want || len(m.Body) != 1 || m.Hdr.RespURI != "" {
			t.Errorf("want %s: got %+v, %d commands, RespURI %q", c.want, st, len(m.Body), m.Hdr.RespURI)
		}
		if (c.want == "401" || c.want == "407") && (st.Chal == nil || st.Chal.Meta.Type != "syncml:auth-basic") {
			t.Errorf("%s without a basic Chal", c.want)
		}
	}
}

// TestDecodeXMLIgnoresEpilog: bytes after the root element closes (a
// trailing NUL or newline, as some devices send, or junk) are ignored,
// as the WBXML decoder ignores what follows the root's END; the document
// decodes as without them.
func TestDecodeXMLIgnoresEpilog(t *testing.T) {
	doc := readFixture(t, "pkg1-slow.xml")
	want := parse(t, doc)
	for _, tc := range []struct{ name, tail string }{
		{"NUL", "\x00"},
		{"CRLF", "\r\n"},
		{"NUL and CRLF", "\x00\r\n"},
		{"junk", "\xff\x80 abc <"},
		{"second root", "<SyncML><SyncHdr/></SyncML>"},
		{"unclosed comment", "<!-- "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, err := DecodeXML(strings.NewReader(string(doc) + tc.tail))
			if err != nil {
				t.Fatalf("DecodeXML: %v", err)
			}
			m, err := ParseMessage(root)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("decoded with %q after the root differs from the document alone", tc.tail)
			}
		})
	}
	// What comes before the root closes still counts.
	if _, err := DecodeXML(strings.NewReader("<SyncML><SyncHdr>\x00</SyncHdr></SyncML>")); err == nil {
		t.Error("a NUL inside the document was accepted")
	}
}
