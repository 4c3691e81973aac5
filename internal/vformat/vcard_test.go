package vformat

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	govcard "github.com/emersion/go-vcard"

	"syncml-imap/internal/vobject"
)

var vcardUpdate = flag.Bool("vcard.update", false, "rewrite testdata/vcard/golden/*")

// vcardCRLF turns a readable multi-line literal into CRLF input.
func vcardCRLF(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimPrefix(s, "\n"), "\n", "\r\n"))
}

// vcardUnfold30 returns the logical lines of CRLF 3.0 output.
func vcardUnfold30(b []byte) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if strings.HasPrefix(l, " ") && len(out) > 0 {
			out[len(out)-1] += l[1:]
			continue
		}
		out = append(out, l)
	}
	return out
}

// vcardCheck30 fails unless out is well-formed vCard 3.0: valid UTF-8, CRLF only, physical lines of at most 75 octets
// each holding whole UTF-8 sequences, content lines NAME[;params]:value,
// balanced BEGIN/END and exactly one VERSION per card. It also has
// github.com/emersion/go-vcard decode every card.
func vcardCheck30(t testing.TB, out []byte) {
	t.Helper()
	if len(out) == 0 {
		t.Fatal("empty output")
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		t.Fatalf("output does not end in CRLF: %q", vcardTail(out))
	}
	if bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) || bytes.Count(out, []byte("\r")) != bytes.Count(out, []byte("\r\n")) {
		t.Fatalf("bare CR or LF in output:\n%q", out)
	}
	phys := strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n")
	for i, l := range phys {
		if len(l) > 75 {
			t.Fatalf("line %d longer than 75 octets (%d): %q", i+1, len(l), l)
		}
		if !utf8.ValidString(l) {
			t.Fatalf("line %d is not valid UTF-8 (folded inside a sequence?): %q", i+1, l)
		}
		if l == "" {
			t.Fatalf("empty line %d in output:\n%s", i+1, out)
		}
		if strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			t.Fatalf("control character in line %d: %q", i+1, l)
		}
	}
	depth, cards := 0, 0
	versions := 0
	for _, l := range vcardUnfold30(out) {
		colon := strings.IndexByte(l, ':')
		if colon <= 0 {
			t.Fatalf("content line without name or colon: %q", l)
		}
		name := l[:colon]
		if i := strings.IndexByte(name, ';'); i >= 0 {
			name = name[:i]
		}
		for _, c := range []byte(name) {
			if c != '.' && !vobject.IsName(string(c)) {
				t.Fatalf("bad property name in %q", l)
			}
		}
		switch strings.ToUpper(l) {
		case "BEGIN:VCARD":
			if depth != 0 {
				t.Fatalf("nested BEGIN:VCARD in output:\n%s", out)
			}
			depth, versions = 1, 0
			cards++
			continue
		case "END:VCARD":
			if depth != 1 {
				t.Fatalf("unbalanced END:VCARD in output:\n%s", out)
			}
			if versions != 1 {
				t.Fatalf("card with %d VERSION lines:\n%s", versions, out)
			}
			depth = 0
			continue
		}
		if depth != 1 {
			t.Fatalf("line outside a card: %q", l)
		}
		if strings.EqualFold(name, "VERSION") || strings.HasSuffix(strings.ToUpper(name), ".VERSION") {
			versions++
			if l != "VERSION:3.0" {
				t.Fatalf("bad version line %q", l)
			}
		}
	}
	if depth != 0 || cards == 0 {
		t.Fatalf("unterminated or missing card:\n%s", out)
	}
	dec := govcard.NewDecoder(bytes.NewReader(out))
	for n := 0; ; n++ {
		card, err := dec.Decode()
		if err == io.EOF {
			if n != cards {
				t.Fatalf("go-vcard decoded %d cards, want %d", n, cards)
			}
			break
		}
		if err != nil {
			t.Fatalf("go-vcard cannot decode card %d: %v\n%s", n+1, err, out)
		}
		if v := card.Value(govcard.FieldVersion); v != "3.0" {
			t.Fatalf("go-vcard sees VERSION %q", v)
		}
	}
}

// vcardCheck21 fails unless out looks like what a vCard 2.1 device can
// read: CRLF lines, VERSION:2.1 after BEGIN, QP lines (soft breaks) of at
// most 76 characters, base64 values on indented lines closed by a blank
// line.
func vcardCheck21(t testing.TB, out []byte) {
	t.Helper()
	if bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) || bytes.Count(out, []byte("\r")) != bytes.Count(out, []byte("\r\n")) {
		t.Fatalf("bare CR or LF in output:\n%q", out)
	}
	phys := strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n")
	if len(phys) < 3 || phys[0] != "BEGIN:VCARD" || phys[1] != "VERSION:2.1" || phys[len(phys)-1] != "END:VCARD" {
		t.Fatalf("not a 2.1 card:\n%s", out)
	}
	inQP, inB64 := false, false
	for i, l := range phys {
		switch {
		case inB64:
			if l == "" {
				inB64 = false
				continue
			}
			if !strings.HasPrefix(l, " ") || strings.Trim(l[1:], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != "" {
				t.Fatalf("line %d: bad base64 line %q", i+1, l)
			}
			if len(l) > 76 {
				t.Fatalf("line %d: base64 line longer than 76: %q", i+1, l)
			}
			continue
		case inQP:
			if len(l) > 76 {
				t.Fatalf("line %d: QP line longer than 76: %q", i+1, l)
			}
		default:
			head, _, _ := strings.Cut(l, ":")
			up := strings.ToUpper(head)
			if strings.Contains(up, "ENCODING=BASE64") {
				inB64 = true
				continue
			}
			if strings.Contains(up, "QUOTED-PRINTABLE") && len(l) > 76 && len(head)+2 <= 76 {
				t.Fatalf("line %d: QP line longer than 76: %q", i+1, l)
			}
			inQP = strings.Contains(up, "QUOTED-PRINTABLE")
		}
		if inQP {
			if strings.HasSuffix(l, " ") || strings.HasSuffix(l, "\t") || strings.HasSuffix(l, " =") || strings.HasSuffix(l, "\t=") {
				t.Fatalf("line %d: white space at the end of a QP line: %q", i+1, l)
			}
			inQP = strings.HasSuffix(l, "=")
		}
		if !utf8.ValidString(l) {
			t.Fatalf("line %d: invalid UTF-8 %q", i+1, l)
		}
	}
}

func vcardTail(b []byte) []byte {
	if len(b) > 40 {
		return b[len(b)-40:]
	}
	return b
}

func vcardMust30(t *testing.T, in []byte) []byte {
	t.Helper()
	out, err := VCard21To30(in)
	if err != nil {
		t.Fatalf("VCard21To30: %v", err)
	}
	vcardCheck30(t, out)
	return out
}

func vcardMust21(t *testing.T, in []byte) []byte {
	t.Helper()
	out, err := VCard30To21(in)
	if err != nil {
		t.Fatalf("VCard30To21: %v", err)
	}
	vcardCheck21(t, out)
	return out
}

// ---------------------------------------------------------------------------
// 2.1 -> 3.0, one rule per case

func TestVCard21To30Rules(t *testing.T) {
	tests := []struct {
		name string
		in   string   // body lines between VERSION:2.1 and END:VCARD
		want []string // logical lines that must be in the output
		not  []string // substrings that must not be in the output
	}{
		{"bare params", "TEL;CELL;VOICE:+49 170 1234567", []string{"TEL;TYPE=CELL,VOICE:+49 170 1234567"}, nil},
		{"repeated TYPE", "TEL;TYPE=WORK;TYPE=VOICE:1", []string{"TEL;TYPE=WORK,VOICE:1"}, nil},
		{"type case and duplicates", "TEL;work;Voice;WORK:1", []string{"TEL;TYPE=WORK,VOICE:1"}, nil},
		{"PREF and INTERNET", "EMAIL;PREF;INTERNET:a@example.org", []string{"EMAIL;TYPE=PREF,INTERNET:a@example.org"}, nil},
		{"QP UTF-8", "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;", []string{"N:Müller;Jürgen;;;"}, []string{"CHARSET", "QUOTED"}},
		{"QP ISO-8859-1", "FN;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:J=FCrgen M=FCller", []string{"FN:Jürgen Müller"}, nil},
		{"Windows-1252 euro", "NOTE;CHARSET=WINDOWS-1252;ENCODING=QUOTED-PRINTABLE:5 =80", []string{"NOTE:5 €"}, nil},
		{"ISO-8859-1 read as Windows-1252", "NOTE;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:=80 5", []string{"NOTE:€ 5"}, nil},
		{"KOI8-R via charmap", "NOTE;CHARSET=KOI8-R;ENCODING=QUOTED-PRINTABLE:=F0=D2=C9=D7=C5=D4", []string{"NOTE:Привет"}, nil},
		{"ISO-8859-2 via charmap", "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-2:=A3=F3d=BC", []string{"NOTE:Łódź"}, nil},
		{"charset alias cp1250", "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=cp1250:=8A", []string{"NOTE:Š"}, nil},
		{"bare charset and encoding", "N;UTF-8;QUOTED-PRINTABLE:=C3=85;B", []string{"N:Å;B"}, nil},
		{"unknown charset, valid UTF-8", "NOTE;CHARSET=X-UNKNOWN:ÄÖ", []string{"NOTE:ÄÖ"}, nil},
		{"raw 8-bit without charset", "FN:G\xe4rtner", []string{"FN:Gärtner"}, nil},
		{"raw UTF-8 without charset", "FN:Gärtner", []string{"FN:Gärtner"}, nil},
		{"QP soft line break", "NOTE;ENCODING=QUOTED-PRINTABLE:first part, =\nsecond part", []string{`NOTE:first part\, second part`}, nil},
		{"QP soft break before continuation with blank", "NOTE;QUOTED-PRINTABLE:a=\n b", []string{"NOTE:a b"}, nil},
		{"QP line breaks", "NOTE;ENCODING=QUOTED-PRINTABLE:line 1=0D=0Aline 2=0D=0A=0D=0Aline 4", []string{`NOTE:line 1\nline 2\n\nline 4`}, nil},
		{"QP lower-case hex and bad escape", "NOTE;ENCODING=QUOTED-PRINTABLE:a=3db =zz", []string{"NOTE:a=b =zz"}, nil},
		{"QP trailing = before END", "NOTE;ENCODING=QUOTED-PRINTABLE:x=", []string{"NOTE:x"}, nil},
		{"2.1 folding keeps the space", "NOTE:Hello\n world", []string{"NOTE:Hello world"}, nil},
		{"stray line break kept", "NOTE:first\nsecond line", []string{`NOTE:first\nsecond line`}, nil},
		{"TEXT escaping", `NOTE:a, b; c \; d \\ e`, []string{`NOTE:a\, b\; c \; d \\ e`}, nil},
		{"backslash n is literal in 2.1", `NOTE:C:\new`, []string{`NOTE:C:\\new`}, nil},
		{"structured ADR keeps structure", "ADR;WORK:;;Main St. 1, 2nd floor;Town;;12345;Country", []string{`ADR;TYPE=WORK:;;Main St. 1\, 2nd floor;Town;;12345;Country`}, nil},
		{"escaped semicolon in N", `N:Last;First \; special;;;`, []string{`N:Last;First \; special;;;`}, nil},
		{"ORG units", "ORG:Firma GmbH;Abt. 1;Gruppe, Nord", []string{`ORG:Firma GmbH;Abt. 1;Gruppe\, Nord`}, nil},
		{"CATEGORIES with semicolons", "CATEGORIES:Business;VIP", []string{"CATEGORIES:Business,VIP"}, nil},
		{"CATEGORIES with commas", `CATEGORIES:Business,Fun\, Games`, []string{`CATEGORIES:Business,Fun\, Games`}, nil},
		{"grouped property", "item1.EMAIL;INTERNET:a@example.org\nitem1.X-ABLabel:work", []string{"item1.EMAIL;TYPE=INTERNET:a@example.org", "item1.X-ABLABEL:work"}, nil},
		{"X- and unknown properties kept", "X-FOO;X-BAR=1:v1;v2\nFOO-BAR:x, y", []string{"X-FOO;X-BAR=1:v1;v2", `FOO-BAR:x\, y`}, nil},
		{"VALUE=URL", "PHOTO;VALUE=URL:http://example.org/a,b.jpg", []string{"PHOTO;VALUE=uri:http://example.org/a,b.jpg"}, nil},
		{"VALUE=INLINE dropped", "NOTE;VALUE=INLINE:x", []string{"NOTE:x"}, nil},
		{"VALUE=CONTENT-ID", "PHOTO;VALUE=CONTENT-ID:<jsmith.part3.960129T083020.xyzMail@host3.com>", []string{"PHOTO;VALUE=uri:cid:jsmith.part3.960129T083020.xyzMail@host3.com"}, nil},
		{"GEO", "GEO:37.24,-17.87", []string{"GEO:37.24;-17.87"}, nil},
		{"URL and TEL are not TEXT", "URL:http://example.org/?a=1,2;b\nTEL:+1 (555) 123;ext", []string{"URL:http://example.org/?a=1,2;b", "TEL:+1 (555) 123;ext"}, nil},
		{"8BIT dropped", "NOTE;ENCODING=8BIT:x", []string{"NOTE:x"}, []string{"8BIT"}},
		{"params quoted when needed", "X-A;X-P=a b:v", []string{`X-A;X-P="a b":v`}, nil},
		{"base64 indented with blank line", "PHOTO;ENCODING=BASE64;TYPE=JPEG:\n /9j/4AAQ\n SkZJRg==\n\nUID:1", []string{"PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRg==", "UID:1"}, nil},
		{"base64 unindented", "PHOTO;JPEG;BASE64:\n/9j/4AAQ\nSkZJRg==\n\nUID:1", []string{"PHOTO;TYPE=JPEG;ENCODING=b:/9j/4AAQSkZJRg==", "UID:1"}, nil},
		{"base64 on first line, no blank line", "LOGO;ENCODING=BASE64;TYPE=GIF:R0lGOD\n lhAQAB\nUID:1", []string{"LOGO;ENCODING=b;TYPE=GIF:R0lGODlhAQAB", "UID:1"}, nil},
		{"B encoding", "KEY;ENCODING=B:AAAA BBBB", []string{"KEY;ENCODING=b:AAAABBBB"}, nil},
		{"control characters dropped", "NOTE:a\x00b\x07c\td", []string{"NOTE:abc\td"}, nil},
		{"empty values kept", "EMAIL:\nURL:", []string{"EMAIL:", "URL:"}, nil},
		{"lower-case names", "n:Doe;John\nfn:John Doe\ntel;cell:1", []string{"N:Doe;John", "FN:John Doe", "TEL;TYPE=CELL:1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "BEGIN:VCARD\nVERSION:2.1\n" + tc.in + "\nEND:VCARD\n"
			out := vcardMust30(t, vcardCRLF(in))
			lines := vcardUnfold30(out)
			if lines[1] != "VERSION:3.0" {
				t.Errorf("second line = %q, want VERSION:3.0", lines[1])
			}
			for _, w := range tc.want {
				if !slices.Contains(lines, w) {
					t.Errorf("missing line %q in\n%s", w, out)
				}
			}
			for _, n := range tc.not {
				if bytes.Contains(out, []byte(n)) {
					t.Errorf("unexpected %q in\n%s", n, out)
				}
			}
		})
	}
}

func TestVCard21To30Whole(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "minimal card, LF input, FN made from N",
			in:   "BEGIN:VCARD\nVERSION:2.1\nN:M\xfcller;J\xfcrgen;;Dr.;\nTEL;CELL:1\nEND:VCARD\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Müller;Jürgen;;Dr.;\r\nFN:Dr. Jürgen Müller\r\nTEL;TYPE=CELL:1\r\nEND:VCARD\r\n",
		},
		{
			name: "no N, no FN, no VERSION, BOM",
			in:   "\xef\xbb\xbfBEGIN:VCARD\r\nORG:ACME;Sales\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nFN:ACME\r\nORG:ACME;Sales\r\nEND:VCARD\r\n",
		},
		{
			name: "VERSION moved first, old version 2.0",
			in:   "BEGIN:VCARD\r\nFN:A\r\nN:A;;;;\r\nVERSION:2.0\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nN:A;;;;\r\nEND:VCARD\r\n",
		},
		{
			name: "two cards, text around them, missing END",
			in:   "junk\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nN:A\r\nFN:A\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nN:B\r\nFN:B\r\nEND:VCARD\r\ntrailer\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nN:A\r\nFN:A\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nN:B\r\nFN:B\r\nEND:VCARD\r\n",
		},
		{
			name: "AGENT with nested 2.1 vCard",
			in:   "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Boss;Betty\r\nFN:Betty Boss\r\nAGENT:\r\nBEGIN:VCARD\r\nVERSION:2.1\r\nN:Friday;Fred\r\nFN:Fred Friday\r\nTEL;WORK:+1-213-555-1234\r\nNOTE:a, b\r\nEND:VCARD\r\nTEL:1\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Boss;Betty\r\nFN:Betty Boss\r\n" +
				`AGENT:BEGIN:VCARD\nVERSION:3.0\nN:Friday\;Fred\nFN:Fred Friday\nTEL\;TYPE=W` + "\r\n" +
				` ORK:+1-213-555-1234\nNOTE:a\\\, b\nEND:VCARD` + "\r\nTEL:1\r\nEND:VCARD\r\n",
		},
		{
			name: "folding at 75 octets never splits UTF-8",
			in:   "BEGIN:VCARD\r\nVERSION:2.1\r\nN:X\r\nFN:X\r\nNOTE;CHARSET=UTF-8:" + strings.Repeat("ä", 40) + "\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nN:X\r\nFN:X\r\nNOTE:" + strings.Repeat("ä", 35) + "\r\n " + strings.Repeat("ä", 5) + "\r\nEND:VCARD\r\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := vcardMust30(t, []byte(tc.in))
			if string(out) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out, tc.want)
			}
		})
	}
}

func TestVCard21To30Modern(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "3.0 unchanged but normalised: CRLF, refolded, params and escapes as written",
			in:   "BEGIN:VCARD\nVERSION:3.0\nN:Doe;John;;;\nFN:John Doe\nX-TEST;PARAMETER2=\"quoted because of spaces\":a\\,b\nTEL;type=work;type=voice:1\nNOTE:This is a long line that was folded by the writer at a differen\n t place than we would fold it.\nitem1.EMAIL;type=INTERNET:a@b\nEND:VCARD\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nX-TEST;PARAMETER2=\"quoted because of spaces\":a\\,b\r\nTEL;type=work;type=voice:1\r\n" +
				"NOTE:This is a long line that was folded by the writer at a different place\r\n  than we would fold it.\r\nitem1.EMAIL;type=INTERNET:a@b\r\nEND:VCARD\r\n",
		},
		{
			name: "3.0 with QP, CHARSET and BASE64 decoded",
			in:   "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nN;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:M=FCller;J=\r\n=FCrgen\r\nNOTE;ENCODING=QUOTED-PRINTABLE:a=0D=0Ab\r\nPHOTO;ENCODING=BASE64;TYPE=JPEG:AAAA\r\n  BBBB\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nN:Müller;Jürgen\r\nNOTE:a\\nb\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAAABBBB\r\nEND:VCARD\r\n",
		},
		{
			name: "4.0 becomes 3.0 (TestVCard40To30 has the details)",
			in:   "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Simon\r\nTEL;VALUE=uri;TYPE=\"work,voice\";PREF=1:tel:+1-418-656-9254;ext=102\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nFN:Simon\r\nTEL;TYPE=WORK,VOICE,PREF:+1-418-656-9254;ext=102\r\nEND:VCARD\r\n",
		},
		{
			name: "3.0 folded piece of white space kept",
			in:   "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nNOTE:a\r\n  \r\n\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nNOTE:a \r\nEND:VCARD\r\n",
		},
		{
			name: "3.0 with invalid UTF-8 and duplicate VERSION",
			in:   "BEGIN:VCARD\r\nVERSION:3.0\r\nVERSION:3.0\r\nFN:G\xe4rtner\r\nEND:VCARD\r\n",
			want: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Gärtner\r\nEND:VCARD\r\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := vcardMust30(t, []byte(tc.in))
			if string(out) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out, tc.want)
			}
		})
	}
}

func TestVCardNotAVCard(t *testing.T) {
	for _, in := range []string{"", "hello", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "N:Doe\r\nEND:VCARD\r\n", "\xff\xfe"} {
		if _, err := VCard21To30([]byte(in)); !errors.Is(err, VCardErrNotVCard) {
			t.Errorf("VCard21To30(%q) error = %v, want VCardErrNotVCard", in, err)
		}
		if _, err := VCard30To21([]byte(in)); !errors.Is(err, VCardErrNotVCard) {
			t.Errorf("VCard30To21(%q) error = %v, want VCardErrNotVCard", in, err)
		}
	}
}

func TestVCardUTF16Input(t *testing.T) {
	s := "BEGIN:VCARD\r\nVERSION:2.1\r\nN:Ö\r\nFN:Ö\r\nEND:VCARD\r\n"
	in := []byte{0xFF, 0xFE}
	for _, r := range s {
		in = append(in, byte(r), byte(r>>8))
	}
	out := vcardMust30(t, in)
	if !bytes.Contains(out, []byte("\r\nFN:Ö\r\n")) {
		t.Errorf("UTF-16 input not decoded:\n%s", out)
	}
}

// TestVCardShiftJIS: a Japanese phone's card, in Shift_JIS both plain and
// quoted-printable. The vCard reader knew only single-byte charsets and
// read these as Windows-1252; it now shares vCalendar's decoder
// (vobject.DecodeCharset).
func TestVCardShiftJIS(t *testing.T) {
	in := []byte("BEGIN:VCARD\r\nVERSION:2.1\r\n" +
		"N;CHARSET=SHIFT_JIS:\x8e\x52\x93\x63;\x91\xbe\x98\x59\r\n" +
		"ADR;HOME;CHARSET=SHIFT_JIS;ENCODING=QUOTED-PRINTABLE:;;;=93=8C=8B=9E=93=73\r\n" +
		"NOTE;CHARSET=Shift_JIS;QUOTED-PRINTABLE:=93=8C=\r\n=8B=9E\r\n" +
		"END:VCARD\r\n")
	lines := vcardUnfold30(vcardMust30(t, in))
	for _, want := range []string{"N:山田;太郎", "ADR;TYPE=HOME:;;;東京都", "NOTE:東京", "FN:太郎 山田"} {
		if !slices.Contains(lines, want) {
			t.Errorf("no %q in\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// ---------------------------------------------------------------------------
// 3.0 -> 2.1, one rule per case

func TestVCard30To21Rules(t *testing.T) {
	tests := []struct {
		name    string
		version string
		in      string   // body lines
		want    []string // physical output lines, in this order, consecutive
	}{
		{"TYPE list to bare", "3.0", "TEL;TYPE=CELL,VOICE:+49 1", []string{"TEL;CELL;VOICE:+49 1"}},
		{"repeated TYPE, case", "3.0", "TEL;TYPE=work;TYPE=Voice:1", []string{"TEL;WORK;VOICE:1"}},
		{"odd type value kept named", "3.0", "TEL;TYPE=x-a b:1", []string{"TEL;TYPE=X-A B:1"}},
		{"non-ASCII as QP UTF-8", "3.0", "FN:Jürgen Müller", []string{"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller"}},
		{"line breaks as QP", "3.0", `NOTE:line 1\nline 2`, []string{"NOTE;ENCODING=QUOTED-PRINTABLE:line 1=0D=0Aline 2"}},
		{"trailing = protected", "3.0", "NOTE:ends with=", []string{"NOTE;ENCODING=QUOTED-PRINTABLE:ends with=3D"}},
		{"trailing space encoded", "3.0", `NOTE:ä `, []string{"NOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=A4=20"}},
		{"long ASCII line not folded", "3.0", "NOTE:" + strings.Repeat("abc ", 30), []string{"NOTE:" + strings.Repeat("abc ", 30)}},
		{"QP soft breaks at 76", "3.0", "NOTE:" + strings.Repeat("Grüße ", 14), []string{
			"NOTE;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Gr=C3=BC=C3=9Fe Gr=C3=BC=C3=9F=",
			"e Gr=C3=BC=C3=9Fe Gr=C3=BC=C3=9Fe Gr=C3=BC=C3=9Fe Gr=C3=BC=C3=9Fe Gr=C3=BC=",
			"=C3=9Fe Gr=C3=BC=C3=9Fe Gr=C3=BC=C3=9Fe Gr=C3=BC=C3=9Fe Gr=C3=BC=C3=9Fe Gr=",
			"=C3=BC=C3=9Fe Gr=C3=BC=C3=9Fe Gr=C3=BC=C3=9Fe=20",
		}},
		{"TEXT escaping", "3.0", `NOTE:a\, b\; c\\d\:e`, []string{`NOTE:a, b\; c\\d:e`}},
		{"structured with escaped comma", "3.0", `N:Doe\, Jr.;John;;;`, []string{"N:Doe, Jr.;John;;;"}},
		{"ADR with escaped semicolon", "3.0", `ADR;TYPE=HOME:;;Street 1\; Back;Town;;1;DE`, []string{`ADR;HOME:;;Street 1\; Back;Town;;1;DE`}},
		{"ORG units", "3.0", `ORG:ACME\, Inc.;Sales;EMEA`, []string{"ORG:ACME, Inc.;Sales;EMEA"}},
		{"CATEGORIES list", "3.0", `CATEGORIES:a,b\,c`, []string{`CATEGORIES:a,b\,c`}},
		{"NICKNAME kept", "3.0", `NICKNAME:Bob`, []string{"NICKNAME:Bob"}},
		{"GEO", "3.0", "GEO:30.12;-130.34", []string{"GEO:30.12,-130.34"}},
		{"VALUE=uri", "3.0", "PHOTO;VALUE=uri;TYPE=image/png:http://example.org/p.png", []string{"PHOTO;VALUE=URL;TYPE=PNG:http://example.org/p.png"}},
		{"VALUE=date dropped", "3.0", "BDAY;VALUE=date:1980-01-02", []string{"BDAY:1980-01-02"}},
		{"CHARSET param replaced", "3.0", `NOTE;CHARSET="UTF-8":plain`, []string{"NOTE:plain"}},
		{"grouped and X- kept", "3.0", "item1.EMAIL;type=INTERNET;type=pref:a@b\nitem1.X-ABLabel:_$!<Other>!$_", []string{"item1.EMAIL;INTERNET;PREF:a@b", "item1.X-ABLABEL:_$!<Other>!$_"}},
		{"type that looks like a 2.1 keyword", "3.0", "X-A;TYPE=BASE64,url:v", []string{"X-A;TYPE=BASE64;TYPE=URL:v"}},
		{"X- param with quotes", "3.0", `X-TEST;PARAMETER2="a:b":v`, []string{`X-TEST;PARAMETER2="a:b":v`}},
		{"photo base64 2.1 style", "3.0", "PHOTO;ENCODING=b;TYPE=JPEG:" + strings.Repeat("QUJD", 20), []string{
			"PHOTO;ENCODING=BASE64;TYPE=JPEG:",
			" " + strings.Repeat("QUJD", 18),
			" " + strings.Repeat("QUJD", 2),
			"",
			"END:VCARD",
		}},
		{"4.0 PREF, tel: URI", "4.0", `TEL;VALUE=uri;TYPE="work,voice";PREF=1:tel:+1-418-656-9254`, []string{"TEL;WORK;VOICE;PREF:+1-418-656-9254"}},
		{"4.0 data: URI photo", "4.0", "PHOTO:data:image/jpeg;base64,/9j/4AAQ", []string{"PHOTO;ENCODING=BASE64;TYPE=JPEG:", " /9j/4AAQ", ""}},
		{"4.0 geo: URI", "4.0", "GEO:geo:46.772673,-71.282945", []string{"GEO:46.772673,-71.282945"}},
		{"AGENT text becomes nested card", "3.0", `AGENT:BEGIN:VCARD\nVERSION:3.0\nN:Friday\;Fred\nFN:Fred\nTEL\;TYPE=WORK\,VOICE:1\nEND:VCARD`, []string{
			"AGENT:", "BEGIN:VCARD", "VERSION:2.1", "N:Friday;Fred", "FN:Fred", "TEL;WORK;VOICE:1", "END:VCARD",
		}},
		{"AGENT uri", "3.0", `AGENT;VALUE=uri:CID:JQPUBLIC.part3.960129T083020.xyzMail@host3.com`, []string{"AGENT;VALUE=URL:CID:JQPUBLIC.part3.960129T083020.xyzMail@host3.com"}},
		{"2.1 input is normalised", "2.1", "TEL;TYPE=CELL;TYPE=VOICE:1\nNOTE;ENCODING=QUOTED-PRINTABLE:a=0D=0Ab", []string{"TEL;CELL;VOICE:1", "NOTE;ENCODING=QUOTED-PRINTABLE:a=0D=0Ab"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "BEGIN:VCARD\nVERSION:" + tc.version + "\n" + tc.in + "\nEND:VCARD\n"
			out := vcardMust21(t, vcardCRLF(in))
			phys := strings.Split(string(out), "\r\n")
			start := slices.Index(phys, tc.want[0])
			if start < 0 || start+len(tc.want) > len(phys) || !slices.Equal(phys[start:start+len(tc.want)], tc.want) {
				t.Errorf("want lines\n%s\nin\n%s", strings.Join(tc.want, "\n"), out)
			}
		})
	}
}

func TestVCard30To21Whole(t *testing.T) {
	in := vcardCRLF(`
BEGIN:VCARD
VERSION:3.0
N:Müller;Jürgen;;;
FN:Jürgen Müller
TEL;TYPE=CELL,VOICE:+49 170 1
NOTE:Zeile 1\nZeile 2
END:VCARD
`)
	want := "BEGIN:VCARD\r\nVERSION:2.1\r\n" +
		"N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n" +
		"FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen M=C3=BCller\r\n" +
		"TEL;CELL;VOICE:+49 170 1\r\n" +
		"NOTE;ENCODING=QUOTED-PRINTABLE:Zeile 1=0D=0AZeile 2\r\n" +
		"END:VCARD\r\n"
	out := vcardMust21(t, in)
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

// ---------------------------------------------------------------------------
// Round trips

// vcardNorm reduces a 3.0 card to comparable property strings using the
// independent parser in internal/vobject: group and name, the parameter
// set (TYPE values upper-cased and sorted; CHARSET and default VALUE
// types, which 2.1 cannot express, left out) and the value split into
// components as its property type says and unescaped (so "a,b" and "a\,b"
// inside N/ADR compare equal, since 2.1 has no lists there).
func vcardNorm(t *testing.T, card []byte) []string {
	t.Helper()
	var out []string
	for _, l := range vobject.Lines(card) {
		switch l.Name {
		case "BEGIN", "END", "VERSION":
			continue
		}
		var ps []string
		for k, v := range l.Params {
			switch {
			case k == "CHARSET":
				continue
			case k == "VALUE" && (strings.EqualFold(v, "date") || strings.EqualFold(v, "text") || strings.EqualFold(v, "date-time")):
				continue
			case k == "TYPE":
				var ts []string
				for _, x := range strings.Split(v, ",") {
					if x = strings.ToUpper(strings.TrimSpace(x)); x != "" && !slices.Contains(ts, x) {
						ts = append(ts, x)
					}
				}
				if len(ts) == 0 {
					continue
				}
				slices.Sort(ts)
				v = strings.Join(ts, ",")
			case k == "ENCODING" || k == "VALUE":
				v = strings.ToLower(v)
			}
			ps = append(ps, k+"="+v)
		}
		slices.Sort(ps)
		val := l.Value
		if strings.EqualFold(l.Params["ENCODING"], "b") {
			val = strings.Join(strings.Fields(val), "")
		} else {
			val = strings.Join(vcardSplit(val, vcardKindOf(l.Name, strings.ToLower(l.Params["VALUE"])), true), "\x00")
		}
		out = append(out, strings.ToLower(l.Group)+"."+l.Name+";"+strings.Join(ps, ";")+":"+val)
	}
	return out
}

var vcardRoundTripCards = map[string]string{
	"umlauts and multi-line note": `
BEGIN:VCARD
VERSION:3.0
N:Gärtner;Anna;Maria;Frau;
FN:Anna Maria Gärtner
NOTE:Kundin seit 2019.\nBitte nur vormittags anrufen\, nicht montags.\n\nGrü
 ße\; Ende
ORG:Grün & Söhne GmbH;Einkauf;Team Süd
TITLE:Einkäuferin
BDAY:1975-03-12
CATEGORIES:Kunden,VIP,Grün & Blau
END:VCARD
`,
	"several TEL EMAIL ADR with types": `
BEGIN:VCARD
VERSION:3.0
N:Doe;John;Q.;Mr.;Jr.
FN:Mr. John Q. Doe Jr.
TEL;TYPE=WORK,VOICE;TYPE=PREF:+1 555 0100
TEL;TYPE=HOME,VOICE:+1 555 0101
TEL;TYPE=CELL:+1 555 0102
TEL;TYPE=WORK,FAX:+1 555 0103
EMAIL;TYPE=INTERNET,WORK:john@work.example
EMAIL;TYPE=INTERNET,HOME:john@home.example
ADR;TYPE=WORK,POSTAL:PO Box 1;Suite 5;1 Main St.\, Building 2;Springfield;IL;62701;USA
ADR;TYPE=HOME:;;12 Elm Street;Shelbyville;IL;62565;USA
LABEL;TYPE=WORK:1 Main St.\nSpringfield\, IL 62701\nUSA
URL:https://john.example/a,b;c
GEO:39.78;-89.65
REV:2024-01-15T10:15:00Z
UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1
END:VCARD
`,
	"grouped and X- properties": `
BEGIN:VCARD
VERSION:3.0
PRODID:-//Apple Inc.//macOS 13.4//EN
N:Appleseed;Johnny;;;
FN:Johnny Appleseed
item1.EMAIL;type=INTERNET;type=pref:johnny@example.com
item1.X-ABLabel:_$!<Other>!$_
item2.ADR;type=HOME;type=pref:;;3 Orchard Lane;Cupertino;CA;95014;USA
item2.X-ABADR:us
X-ABUID:5AD380FD-B2DE-4261-BA99-DE1D1DB52FBE\:ABPerson
X-EVOLUTION-FILE-AS:Appleseed\, Johnny
X-TEST;PARAMETER1=nonquoted;PARAMETER2="quoted because of spaces":Content with\nMultiple\nText lines\nand national chars: äöü
X-FOOBAR-EXTENSION;X-FOOBAR-PARAMETER=foobar:kept\; never sent
NICKNAME:Johnny,Apple
X-SOCIALPROFILE;type=twitter:https://twitter.com/johnny
END:VCARD
`,
	"special characters": `
BEGIN:VCARD
VERSION:3.0
N:Last;First \; special \;;middle;Mr.;
FN:Mr. First \; special \; middle Last
NOTE:comma \, colon : semicolon \; backslash \\ tab 	tab trailing=
X-EVOLUTION-FILE-AS:Last\, First \; special \;
EMAIL:
NOTE:a colon is not a special character so here it comes : and not quoting necessary
END:VCARD
`,
}

func TestVCardRoundTrip30To21To30(t *testing.T) {
	cards := map[string][]byte{}
	for name, s := range vcardRoundTripCards {
		cards[name] = vcardCRLF(s)
	}
	for _, f := range []string{"evolution30.vcf", "apple30.vcf"} {
		b, err := os.ReadFile(filepath.Join("testdata", "vcard", f))
		if err != nil {
			t.Fatal(err)
		}
		cards[f] = b
	}
	photo, err := os.ReadFile(filepath.Join("testdata", "vcard", "apple30.vcf"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(photo, []byte("PHOTO;ENCODING=b")) || len(photo) < 5000 {
		t.Fatal("apple30.vcf should carry a ~5 kB photo")
	}
	for name, in := range cards {
		t.Run(name, func(t *testing.T) {
			v21 := vcardMust21(t, in)
			back := vcardMust30(t, v21)
			want, got := vcardNorm(t, in), vcardNorm(t, back)
			if !slices.Equal(want, got) {
				for i := 0; i < max(len(want), len(got)); i++ {
					var w, g string
					if i < len(want) {
						w = want[i]
					}
					if i < len(got) {
						g = got[i]
					}
					if w != g {
						t.Errorf("property %d:\n want %q\n got  %q", i, w, g)
					}
				}
				t.Logf("2.1 form:\n%s\nback:\n%s", v21, back)
			}
			// The 3.0 result is stable from here on.
			again := vcardMust30(t, vcardMust21(t, back))
			if !bytes.Equal(again, back) {
				t.Errorf("second round trip differs:\n%s\nvs\n%s", again, back)
			}
		})
	}
}

// TestVCardRoundTrip21 checks that a device's 2.1 card, stored as 3.0 and
// sent back, keeps its values, and that storing it again changes nothing.
func TestVCardRoundTrip21(t *testing.T) {
	for _, f := range []string{"nokia21.vcf", "sonyericsson21.vcf", "outlook21.vcf", "agent21.vcf"} {
		t.Run(f, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "vcard", f))
			if err != nil {
				t.Fatal(err)
			}
			v30 := vcardMust30(t, in)
			v21 := vcardMust21(t, v30)
			again := vcardMust30(t, v21)
			if !slices.Equal(vcardNorm(t, v30), vcardNorm(t, again)) {
				t.Errorf("2.1 -> 3.0 -> 2.1 -> 3.0 changed the card:\n%s\nvs\n%s", v30, again)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Golden files for whole real-world-like cards

func TestVCardGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "vcard", "*.vcf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".vcf")
		t.Run(base, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, dir := range []struct {
				suffix string
				conv   func([]byte) ([]byte, error)
			}{{".30.vcf", VCard21To30}, {".21.vcf", VCard30To21}} {
				out, err := dir.conv(in)
				if err != nil {
					t.Fatal(err)
				}
				if dir.suffix == ".30.vcf" {
					vcardCheck30(t, out)
				} else {
					vcardCheck21(t, out)
				}
				golden := filepath.Join("testdata", "vcard", "golden", base+dir.suffix)
				if *vcardUpdate {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, out, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test -run TestVCardGolden -vcard.update)", err)
				}
				if !bytes.Equal(out, want) {
					t.Errorf("%s differs from %s:\n%s", base+dir.suffix, golden, out)
				}
			}
		})
	}
}

// TestVCardFixtureTraits pins the points of the device fixtures that the
// golden files would otherwise only hold implicitly.
func TestVCardFixtureTraits(t *testing.T) {
	read := func(f string) []string {
		in, err := os.ReadFile(filepath.Join("testdata", "vcard", f))
		if err != nil {
			t.Fatal(err)
		}
		return vcardUnfold30(vcardMust30(t, in))
	}
	nokia := read("nokia21.vcf")
	for _, w := range []string{
		"N:Müller;Jürgen;;Dr.;",
		"TEL;TYPE=PREF,CELL,VOICE:+49 170 1234567",
		`ADR;TYPE=HOME:;;Straße des 17. Juni 1\nHinterhaus;Berlin;;10623;Deutschland`,
		`NOTE:Preis: 5 €\, Rabatt 10 %\nzweite Zeile mit einem sehr langen Text\, der mit einem weichen Zeilenumbruch fortgesetzt wird\; Ende.`,
		"X-EPOCSECONDNAME:Jürgi",
	} {
		if !slices.Contains(nokia, w) {
			t.Errorf("nokia21: missing %q", w)
		}
	}
	var photo string
	for _, l := range nokia {
		if strings.HasPrefix(l, "PHOTO;TYPE=JPEG;ENCODING=b:") {
			photo = strings.TrimPrefix(l, "PHOTO;TYPE=JPEG;ENCODING=b:")
		}
	}
	raw, _ := os.ReadFile(filepath.Join("testdata", "vcard", "nokia21.vcf"))
	var want strings.Builder
	inPhoto := false
	for _, l := range strings.Split(string(raw), "\r\n") {
		switch {
		case strings.HasPrefix(l, "PHOTO;"):
			inPhoto = true
		case inPhoto && strings.HasPrefix(l, " "):
			want.WriteString(strings.TrimSpace(l))
		default:
			inPhoto = false
		}
	}
	if photo == "" || photo != want.String() {
		t.Errorf("nokia21: photo data not kept exactly (%d vs %d chars)", len(photo), want.Len())
	}

	outlook := read("outlook21.vcf")
	for _, w := range []string{"N;LANGUAGE=de:Gärtner;Anna;Maria;Frau;", "ORG:Grün & Söhne GmbH;Einkauf", `LABEL;TYPE=WORK,PREF:Gartenweg 5\n50667 Köln NRW\nDeutschland`, "EMAIL;TYPE=PREF,INTERNET:anna.gaertner@gruen-soehne.example"} {
		if !slices.Contains(outlook, w) {
			t.Errorf("outlook21: missing %q", w)
		}
	}
	se := read("sonyericsson21.vcf")
	for _, w := range []string{"N:Åström;Björn;;;", "CATEGORIES:Business,VIP", `TITLE:S\;ales\, Nordic`, "X-IRMC-LUID:000200000F3A"} {
		if !slices.Contains(se, w) {
			t.Errorf("sonyericsson21: missing %q", w)
		}
	}
}

// ---------------------------------------------------------------------------
// Fuzzing

func vcardFuzzSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "vcard", "*.vcf"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("BEGIN:VCARD\r\nVERSION:2.1\r\nN;ENCODING=QUOTED-PRINTABLE:a=\r\nb\r\nAGENT:\r\nBEGIN:VCARD\r\nAGENT:\r\nBEGIN:VCARD\r\nN:x\r\nEND:VCARD\r\nEND:VCARD\r\nEND:VCARD\r\n"))
	f.Add([]byte("BEGIN:VCARD\nVERSION:4.0\nPHOTO:data:image/png;base64,iVBO\nEND:VCARD\n"))
}

func FuzzVCard21To30(f *testing.F) {
	vcardFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := VCard21To30(in)
		if err != nil {
			if !errors.Is(err, VCardErrNotVCard) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		vcardCheck30(t, out)
		if !bytes.Contains(out, []byte("\r\nVERSION:3.0\r\n")) {
			t.Fatalf("no VERSION line in\n%s", out)
		}
		// Converting the output again changes nothing.
		again, err := VCard21To30(out)
		if err != nil {
			t.Fatalf("output does not convert again: %v", err)
		}
		if !bytes.Equal(again, out) {
			t.Fatalf("VCard21To30 is not idempotent:\n%q\n%q", out, again)
		}
	})
}

func FuzzVCard30To21(f *testing.F) {
	vcardFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := VCard30To21(in)
		if err != nil {
			if !errors.Is(err, VCardErrNotVCard) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
			t.Fatalf("bare LF in output:\n%q", out)
		}
		if !utf8.Valid(out) {
			t.Fatalf("output is not UTF-8:\n%q", out)
		}
		// What a 2.1 device gets must come back as a valid 3.0 card.
		back, err := VCard21To30(out)
		if err != nil {
			t.Fatalf("2.1 output does not convert back: %v\n%s", err, out)
		}
		vcardCheck30(t, back)
	})
}

// TestVCardBareB: a bare "B" is the b encoding, as vCalendar read it; the
// vCard reader took it for a TYPE and kept the base64 as text.
func TestVCardBareB(t *testing.T) {
	out := vcardMust30(t, vcardCRLF("\nBEGIN:VCARD\nVERSION:2.1\nN:A\nPHOTO;JPEG;B:/9j/\n 4AAQ\nEND:VCARD\n"))
	if lines := vcardUnfold30(out); !slices.Contains(lines, "PHOTO;TYPE=JPEG;ENCODING=b:/9j/4AAQ") {
		t.Errorf("bare B:\n%s", out)
	}
}
