package vobject

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// Lines keeps the physical lines with each logical one and finds a soft
// break behind a quoted colon in a parameter (it used to look at the first
// colon, quoted or not).
func TestLinesQuotedColonSoftBreak(t *testing.T) {
	lines := Lines(crlf(`
NOTE;X-A="a:b";ENCODING=QUOTED-PRINTABLE:M=C3=BC=
ller
`))
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1: %+v", len(lines), lines)
	}
	l := lines[0]
	if l.Value != "Müller" || l.Params["X-A"] != "a:b" {
		t.Errorf("value %q, X-A %q", l.Value, l.Params["X-A"])
	}
	if want := "NOTE;X-A=\"a:b\";ENCODING=QUOTED-PRINTABLE:M=C3=BC=\r\nller\r\n"; l.Orig != want {
		t.Errorf("Orig = %q, want %q", l.Orig, want)
	}
}

func TestIndexSplitUnquoted(t *testing.T) {
	for _, c := range []struct {
		s     string
		c     byte
		index int
		split []string
	}{
		{`DTSTART;TZID="a:b":2026`, ':', 18, []string{`DTSTART;TZID="a:b"`, `2026`}},
		{`a;b="x;y";c`, ';', 1, []string{"a", `b="x;y"`, "c"}},
		{`none`, ';', -1, []string{"none"}},
		{`a;"open;b`, ';', 1, []string{"a", `"open;b`}},
		{`"open:b`, ':', -1, nil},
		{``, ';', -1, []string{""}},
	} {
		if got := IndexUnquoted(c.s, c.c); got != c.index {
			t.Errorf("IndexUnquoted(%q, %q) = %d, want %d", c.s, c.c, got, c.index)
		}
		if c.split == nil {
			continue
		}
		if got := SplitUnquoted(c.s, c.c); !reflect.DeepEqual(got, c.split) {
			t.Errorf("SplitUnquoted(%q, %q) = %q, want %q", c.s, c.c, got, c.split)
		}
	}
	if got := SplitUnquoted(`x="a,b",y`, ','); !reflect.DeepEqual(got, []string{`x="a,b"`, "y"}) {
		t.Errorf("SplitUnquoted at ',' = %q", got)
	}
}

func TestQuoteParam(t *testing.T) {
	for in, want := range map[string]string{
		"Europe/Berlin":   "Europe/Berlin",
		"a:b":             `"a:b"`,
		"Doe, Jane":       `"Doe, Jane"`,
		`say "hi"`:        "say 'hi'",
		"two\r\nlines":    "two lines",
		`x;"y"`:           `"x;'y'"`,
		"":                "",
		"mailto:a@b.test": `"mailto:a@b.test"`,
	} {
		if got := QuoteParam(in); got != want {
			t.Errorf("QuoteParam(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeQP(t *testing.T) {
	for in, want := range map[string]string{
		"M=C3=BCller":     "Müller",
		"lower=c3=bc":     "lowerü",
		"a=3Db":           "a=b",
		"bad=ZZ=4":        "bad=ZZ=4", // not an escape: kept
		"soft=":           "soft",     // soft break at the end
		"a=\r\nb=\nc":     "abc",      // soft breaks inside (vCard stray lines)
		"trailing space ": "trailing space ",
		"=0D=0A":          "\r\n",
		"=\rx":            "=\rx",
		"":                "",
	} {
		if got := string(DecodeQP(in)); got != want {
			t.Errorf("DecodeQP(%q) = %q, want %q", in, got, want)
		}
		if got := string(DecodeQP([]byte(in))); got != want {
			t.Errorf("DecodeQP([]byte(%q)) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapeUnescapeText(t *testing.T) {
	for _, c := range []struct{ plain, escaped string }{
		{"plain", "plain"},
		{`a\b;c,d`, `a\\b\;c\,d`},
		{"one\ntwo", `one\ntwo`},
		{"ümlaut, ok", `ümlaut\, ok`},
	} {
		if got := EscapeText(c.plain); got != c.escaped {
			t.Errorf("EscapeText(%q) = %q, want %q", c.plain, got, c.escaped)
		}
		if got := UnescapeText(c.escaped); got != c.plain {
			t.Errorf("UnescapeText(%q) = %q, want %q", c.escaped, got, c.plain)
		}
	}
	// Every line break is one "\n"; UnescapeText reads "\N" too and keeps a
	// lone backslash at the end.
	if got := EscapeText("a\r\nb\rc\n"); got != `a\nb\nc\n` {
		t.Errorf("line breaks escaped as %q", got)
	}
	if got := UnescapeText(`A\NB\x\`); got != "A\nBx\\" {
		t.Errorf("UnescapeText = %q", got)
	}
}

func TestSplitJoinText(t *testing.T) {
	if got := SplitText(`Doe;Jane\; Ann;;Dr.\, PhD`, ';'); !reflect.DeepEqual(got, []string{"Doe", "Jane; Ann", "", "Dr., PhD"}) {
		t.Errorf("SplitText = %q", got)
	}
	if got := SplitText(`a\,b,c\nd,`, ','); !reflect.DeepEqual(got, []string{"a,b", "c\nd", ""}) {
		t.Errorf("SplitText at ',' = %q", got)
	}
	if got := SplitText(`end\`, ','); !reflect.DeepEqual(got, []string{`end\`}) {
		t.Errorf("SplitText with a lone backslash = %q", got)
	}
	parts := []string{"Doe", "Jane; Ann", "", "a\\b,c\nd"}
	joined := JoinText(parts, ';')
	if joined != `Doe;Jane\; Ann;;a\\b\,c\nd` {
		t.Errorf("JoinText = %q", joined)
	}
	if back := SplitText(joined, ';'); !reflect.DeepEqual(back, parts) {
		t.Errorf("SplitText(JoinText) = %q, want %q", back, parts)
	}
}

func TestWriteFolded(t *testing.T) {
	short := "SUMMARY:short"
	var b strings.Builder
	WriteFolded(&b, short)
	if b.String() != short+"\r\n" {
		t.Errorf("short line written as %q", b.String())
	}
	exact := "X:" + strings.Repeat("a", 73)
	b.Reset()
	WriteFolded(&b, exact)
	if b.String() != exact+"\r\n" {
		t.Errorf("75-octet line folded: %q", b.String())
	}
	// Two-octet characters: a cut at 75 would split one.
	long := "DESCRIPTION:" + strings.Repeat("ü", 100)
	b.Reset()
	WriteFolded(&b, long)
	out := b.String()
	phys := strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n")
	if len(phys) < 3 {
		t.Fatalf("not folded: %q", out)
	}
	for i, p := range phys {
		if len(p) > 75 {
			t.Errorf("line %d has %d octets", i, len(p))
		}
		if i > 0 && p[0] != ' ' {
			t.Errorf("continuation %d does not start with a space: %q", i, p)
		}
		if !utf8.ValidString(p) {
			t.Errorf("line %d splits a character: %q", i, p)
		}
	}
	if got := Unfold([]byte(out), false); len(got) != 1 || got[0] != long {
		t.Errorf("unfolds to %q", got)
	}
}

// FuzzTextRoundTrip: folding and TEXT escaping are undone by their
// counterparts.
func FuzzTextRoundTrip(f *testing.F) {
	f.Add("DESCRIPTION:" + strings.Repeat("ü€x", 60))
	f.Add(`a;b,c\d` + "\ne")
	f.Fuzz(func(t *testing.T, s string) {
		if back := UnescapeText(EscapeText(s)); back != strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s) {
			t.Fatalf("UnescapeText(EscapeText(%q)) = %q", s, back)
		}
		parts := strings.Split(s, "|")
		for i, p := range parts {
			parts[i] = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(p)
		}
		if back := SplitText(JoinText(parts, ';'), ';'); !reflect.DeepEqual(back, parts) {
			t.Fatalf("SplitText(JoinText(%q)) = %q", parts, back)
		}
		line := "X:" + s
		if strings.ContainsAny(s, "\r\n") {
			return // not one content line
		}
		var b strings.Builder
		WriteFolded(&b, line)
		for _, p := range strings.Split(strings.TrimSuffix(b.String(), "\r\n"), "\r\n") {
			if len(p) > 75 {
				t.Fatalf("%d-octet line in %q", len(p), b.String())
			}
		}
		if got := Unfold([]byte(b.String()), false); len(got) != 1 || got[0] != line {
			t.Fatalf("Unfold(WriteFolded(%q)) = %q", line, got)
		}
	})
}

func TestParamSet(t *testing.T) {
	s := ParamSet{}
	for _, p := range [][2]string{
		{"TYPE", "HOME"}, {"TYPE", "VOICE"}, // bare 2.1 types
		{"X-E", ""}, {"X-E", "a"}, // an empty first value gives way
		{"X-F", "a"}, {"X-F", ""}, {"X-F", "b"},
		{"CHARSET", "UTF-8"},
	} {
		s.Add(p[0], p[1])
	}
	want := map[string]string{"TYPE": "HOME,VOICE", "X-E": "a", "X-F": "a,,b", "CHARSET": "UTF-8"}
	if got := s.Joined(); !reflect.DeepEqual(got, want) {
		t.Errorf("Joined = %v, want %v", got, want)
	}
	if got := (ParamSet{}).Joined(); got == nil || len(got) != 0 {
		t.Errorf("empty Joined = %#v", got)
	}
}

// BenchmarkParseDeepNesting: blocks nested deep and END lines that close
// nothing cost linear time and memory (each line used to be copied into
// every open block, and each END searched the whole stack).
func BenchmarkParseDeepNesting(b *testing.B) {
	data := []byte("BEGIN:VCALENDAR\r\n" + strings.Repeat("BEGIN:X\r\n", 20000) + strings.Repeat("END:Y\r\n", 20000))
	for b.Loop() {
		if objs := Parse(data); len(objs) != 1 || len(objs[0].Lines) != 40001 {
			b.Fatalf("%d objects", len(objs))
		}
	}
}

// BenchmarkLinesRepeatedParams: a parameter repeated many times is joined
// in linear time.
func BenchmarkLinesRepeatedParams(b *testing.B) {
	data := []byte("TEL" + strings.Repeat(";HOME", 20000) + ":1\r\n")
	for b.Loop() {
		if ls := Lines(data); len(ls) != 1 || len(ls[0].Params["TYPE"]) != 20000*5-1 {
			b.Fatal("wrong TYPE")
		}
	}
}

// BenchmarkParseCard: a card as a phone sends it, CRLF line ends, one line
// folded. Most lines are read without a copy of their own.
func BenchmarkParseCard(b *testing.B) {
	data := []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;Jane;;;\r\nFN:Jane Doe\r\nORG:Example Ltd.;Sales\r\n" +
		"TEL;TYPE=CELL:+49 170 0000001\r\nTEL;TYPE=WORK,VOICE:+49 30 0001 0001\r\nEMAIL;TYPE=INTERNET:jane@example.org\r\n" +
		"ADR;TYPE=HOME:;;Main Street 1;Berlin;;10115;Germany\r\nNOTE:a note that is long enough to be folded by the\r\n  device that sent it\r\n" +
		"UID:39cb7a97-e31b-4dc4-a875-f015d20b1a84\r\nEND:VCARD\r\n")
	b.ReportAllocs()
	for b.Loop() {
		if objs := Parse(data); len(objs) != 1 || len(objs[0].Lines) != 12 {
			b.Fatalf("%d objects", len(objs))
		}
	}
}
