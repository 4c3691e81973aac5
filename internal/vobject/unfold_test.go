package vobject

import (
	"reflect"
	"strings"
	"testing"
)

func TestUnfold(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		keepSpace bool
		want      []string
	}{
		{"CRLF and LF", "A:1\r\nB:2\nC:3", false, []string{"A:1", "B:2", "C:3"}},
		{"byte order mark", "\xef\xbb\xbfA:1\r\n", false, []string{"A:1"}},
		{"RFC 5545 folding drops one white space", "NOTE:a\r\n  b\r\n\tc\r\n", false, []string{"NOTE:a bc"}},
		{"RFC 822 folding keeps it", "NOTE:a\r\n  b\r\n\tc\r\n", true, []string{"NOTE:a  b\tc"}},
		{"empty lines dropped, no continuation after them", "A:1\r\n\r\n b\r\n", false, []string{"A:1", " b"}},
		{"QP soft break", "N;ENCODING=QUOTED-PRINTABLE:M=C3=BC=\r\nller\r\nX:y\r\n", false,
			[]string{"N;ENCODING=QUOTED-PRINTABLE:M=C3=BCller", "X:y"}},
		{"bare 2.1 QP parameter, lower case", "NOTE;quoted-printable:a=\r\nb=\r\nc\r\n", false, []string{"NOTE;quoted-printable:abc"}},
		{"QP soft break, parameter with a quoted colon", "NOTE;X-A=\"a:b\";ENCODING=QUOTED-PRINTABLE:x=\r\ny\r\n", false,
			[]string{"NOTE;X-A=\"a:b\";ENCODING=QUOTED-PRINTABLE:xy"}},
		{"QP only in the value is no soft break", "NOTE:QUOTED-PRINTABLE=\r\nX:y\r\n", false, []string{"NOTE:QUOTED-PRINTABLE=", "X:y"}},
		{"trailing = without QP", "URL:http://x/?a=\r\nB:1\r\n", false, []string{"URL:http://x/?a=", "B:1"}},
		{"QP header complete only after folding", "NOTE;ENCODING=\r\n QUOTED-PRINTABLE:a=\r\nb\r\n", false,
			[]string{"NOTE;ENCODING=QUOTED-PRINTABLE:ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unfold([]byte(tt.in), tt.keepSpace); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Unfold(%q, %v) = %q, want %q", tt.in, tt.keepSpace, got, tt.want)
			}
		})
	}
}

// BenchmarkUnfoldSoftBreaks: a value of many QP soft breaks unfolds in
// linear time (each line used to copy the whole value so far).
func BenchmarkUnfoldSoftBreaks(b *testing.B) {
	data := []byte("NOTE;ENCODING=QUOTED-PRINTABLE:" + strings.Repeat("=41=\r\n", 20000) + "x\r\n")
	for b.Loop() {
		if got := Unfold(data, false); len(got) != 1 {
			b.Fatalf("%d lines", len(got))
		}
	}
}

func TestUnfolder(t *testing.T) {
	data := "\xef\xbb\xbfA:1\r\n b\r\n\r\nC;ENCODING=QUOTED-PRINTABLE:x=\rEND:VCARD\n \n\xef\xbb\xbfD:2\n   \nE:3"
	var got []Folded
	u := NewUnfolder([]byte(data), &UnfoldOptions{KeepSpace: true, BlankEnds: true, Orig: true, EndsSoftBreak: func(l string) bool { return l == "END:VCARD" }})
	var spans []string
	for u.Next() {
		f := u.Line()
		spans = append(spans, data[f.Start:f.End])
		f.Start, f.End = 0, 0
		got = append(got, f)
	}
	if want := []string{"A:1\r\n b\r\n", "C;ENCODING=QUOTED-PRINTABLE:x=\r", "END:VCARD\n", "D:2\n", "E:3"}; !reflect.DeepEqual(spans, want) {
		t.Errorf("spans %q, want %q", spans, want)
	}
	want := []Folded{
		{Text: "A:1 b", First: 1, Last: 2, Orig: "A:1\r\n b\r\n"},
		{Text: "C;ENCODING=QUOTED-PRINTABLE:x=", First: 4, Last: 4, Orig: "C;ENCODING=QUOTED-PRINTABLE:x=\r\n", StrayBreak: true},
		{Text: "END:VCARD", First: 5, Last: 5, Orig: "END:VCARD\r\n"},
		{Text: "D:2", First: 7, Last: 7, Orig: "D:2\r\n"},
		{Text: "E:3", First: 9, Last: 9, Orig: "E:3\r\n"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if phys := PhysicalLines([]byte(data)); len(phys) != 9 || phys[0] != "A:1" || phys[6] != "D:2" || phys[5] != " " {
		t.Errorf("PhysicalLines = %q", phys)
	}
}

// FuzzUnfolder: logical lines come in order, cover the physical lines
// they name, and stand in the data where they say.
func FuzzUnfolder(f *testing.F) {
	f.Add([]byte("A:1\r\n b\r\n\r\nC;QUOTED-PRINTABLE:x=\rEND:VCARD\n"), true)
	f.Add([]byte("\xef\xbb\xbfX:y\n\n\xef\xbb\xbfZ;ENCODING=QUOTED-PRINTABLE:=\n=\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, v21 bool) {
		opts := &UnfoldOptions{KeepSpace: v21, BlankEnds: v21, Orig: true, EndsSoftBreak: func(l string) bool { return l == "END:VCARD" }}
		phys := PhysicalLines(data)
		u := NewUnfolder(data, opts)
		last, end := 0, 0
		for u.Next() {
			l := u.Line()
			if l.Text == "" || l.First <= last || l.Last < l.First || l.Last > len(phys) || l.Start < end || l.End < l.Start || l.End > len(data) {
				t.Fatalf("%q: line %+v after line %d ending at %d", data, l, last, end)
			}
			if n := strings.Count(l.Orig, "\r\n"); n != l.Last-l.First+1 {
				t.Fatalf("%q: %+v: %d original lines", data, l, n)
			}
			last, end = l.Last, l.End
		}
	})
}
