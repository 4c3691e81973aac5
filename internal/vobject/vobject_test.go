package vobject

import (
	"strings"
	"testing"
)

func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimPrefix(s, "\n"), "\n", "\r\n"))
}

func TestVLinesUnfolding(t *testing.T) {
	data := crlf(`
BEGIN:VCARD
VERSION:2.1
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=
=BCrgen
NOTE:a long
  folded note
item1.EMAIL;INTERNET;PREF:j@example.org
TEL;CELL;VOICE:+49 1
END:VCARD
`)
	lines := Lines(data)
	want := map[string]string{
		"N":     "Müller;Jürgen",
		"NOTE":  "a long folded note",
		"EMAIL": "j@example.org",
		"TEL":   "+49 1",
	}
	got := map[string]Line{}
	for _, l := range lines {
		got[l.Name] = l
	}
	for name, v := range want {
		if got[name].Value != v {
			t.Errorf("%s = %q, want %q", name, got[name].Value, v)
		}
	}
	if g := got["EMAIL"].Group; g != "item1" {
		t.Errorf("EMAIL group = %q, want item1", g)
	}
	if p := got["TEL"].Params["TYPE"]; p != "CELL,VOICE" {
		t.Errorf("bare vCard 2.1 params = %q, want CELL,VOICE", p)
	}
	if o := got["N"].Orig; o != "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=\r\n=BCrgen\r\n" {
		t.Errorf("QP line not kept as it stood: %q", o)
	}
}

func TestEnsureUID(t *testing.T) {
	tests := []struct {
		name, comp, in, want string
		changed              bool
	}{
		{
			name: "vcard without UID",
			comp: "VCARD",
			in:   "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nUID:X\r\nEND:VCARD\r\n", changed: true,
		},
		{
			name: "vcard with UID untouched",
			comp: "VCARD",
			in:   "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:keep\r\nFN:A\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:keep\r\nFN:A\r\nEND:VCARD\r\n",
		},
		{
			name: "LF only, grouped UID counts",
			comp: "VCARD",
			in:   "BEGIN:VCARD\nx.UID:g\nEND:VCARD\n",
			want: "BEGIN:VCARD\nx.UID:g\nEND:VCARD\n",
		},
		{
			name: "event and exception both get it, alarm UID does not count",
			comp: "VEVENT",
			in: "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:a\r\nBEGIN:VALARM\r\nUID:alarm\r\nEND:VALARM\r\nEND:VEVENT\r\n" +
				"BEGIN:VEVENT\r\nRECURRENCE-ID:20260101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			want: "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:a\r\nBEGIN:VALARM\r\nUID:alarm\r\nEND:VALARM\r\nUID:X\r\nEND:VEVENT\r\n" +
				"BEGIN:VEVENT\r\nRECURRENCE-ID:20260101T100000Z\r\nUID:X\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
			changed: true,
		},
		{
			name: "folded line starting with UID text is not a UID",
			comp: "VCARD",
			in:   "BEGIN:VCARD\r\nNOTE:x\r\n UID:no\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nNOTE:x\r\n UID:no\r\nUID:X\r\nEND:VCARD\r\n", changed: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := EnsureUID([]byte(tt.in), tt.comp, "X")
			if string(got) != tt.want || changed != tt.changed {
				t.Errorf("EnsureUID = %q, %v\nwant %q, %v", got, changed, tt.want, tt.changed)
			}
		})
	}
}

func TestParseVObjectsTolerant(t *testing.T) {
	for _, in := range []string{
		"", "garbage", ":", "BEGIN:VCARD", "END:VCARD\r\nBEGIN:VCARD\r\nFN:x\r\n",
		"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n", "BEGIN:VCARD\r\n=\r\n;;;:\r\nEND:VCARD",
	} {
		Parse([]byte(in)) // must not panic
	}
	objs := Parse(crlf(`
BEGIN:VCALENDAR
BEGIN:VEVENT
SUMMARY:x
END:VCALENDAR
`))
	if len(objs) != 1 || len(objs[0].Children) != 1 || objs[0].Children[0].PropValue("SUMMARY") != "x" {
		t.Fatalf("unterminated VEVENT not recovered: %+v", objs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE:a=\r\nb\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1\r\nDTSTART;TZID=\"a:b\":20260101T100000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, o := range Parse(data) {
			o.PropValue("UID")
		}
		out, _ := EnsureUID(data, "VCARD", "U")
		if len(out) < len(data) {
			t.Fatalf("EnsureUID lost bytes")
		}
	})
}
