package vobject

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseContentLine(t *testing.T) {
	for _, tc := range []struct {
		in     string
		ok     bool
		group  string
		name   string
		params map[string]string
		value  string
	}{
		{"item1.TEL;HOME;VOICE:+49", true, "item1", "TEL", map[string]string{"TYPE": "HOME,VOICE"}, "+49"},
		{"NOTE;QUOTED-PRINTABLE;UTF-8:a=3D", true, "", "NOTE", map[string]string{"ENCODING": "QUOTED-PRINTABLE", "CHARSET": "UTF-8"}, "a=3D"},
		{"PHOTO;JPEG;B:AAAA", true, "", "PHOTO", map[string]string{"TYPE": "JPEG", "ENCODING": "B"}, "AAAA"},
		{"PHOTO;URL:http://x", true, "", "PHOTO", map[string]string{"VALUE": "URL"}, "http://x"},
		{`DTSTART;TZID="Europe/Berlin;x:y":20260101T000000`, true, "", "DTSTART", map[string]string{"TZID": "Europe/Berlin;x:y"}, "20260101T000000"},
		{`ATTENDEE;DELEGATED-TO="mailto:a","mailto:b":mailto:c`, true, "", "ATTENDEE", map[string]string{"DELEGATED-TO": "mailto:a,mailto:b"}, "mailto:c"},
		{"TEL;;HOME; ;WORK:1", true, "", "TEL", map[string]string{"TYPE": "HOME,WORK"}, "1"},
		{"X;A B=c;D=e:v", true, "", "X", map[string]string{"D": "e"}, "v"},
		{`NOTE;X="a:Hello`, true, "", "NOTE", map[string]string{"X": "a"}, "Hello"}, // unbalanced quote: first colon
		{"fn:a:b", true, "", "FN", nil, "a:b"},
		{":v", false, "", "", nil, ""},
		{" ;X=y:v", false, "", "", nil, ""},
		{"no colon", false, "", "", nil, ""},
	} {
		l, ok := ParseContentLine(tc.in)
		if ok != tc.ok {
			t.Errorf("ParseContentLine(%q) ok = %v", tc.in, ok)
			continue
		}
		if !ok {
			continue
		}
		if l.Group != tc.group || l.Name != tc.name || l.Value != tc.value || !reflect.DeepEqual(l.ParamMap(), tc.params) {
			t.Errorf("ParseContentLine(%q) = %q %q %v %q, want %q %q %v %q", tc.in, l.Group, l.Name, l.ParamMap(), l.Value, tc.group, tc.name, tc.params, tc.value)
		}
	}
}

func TestWellFormedName(t *testing.T) {
	for in, want := range map[string]bool{
		"FN:x": true, "item1.FN:x": true, "a.b.FN:x": true, "X-FOO_BAR:x": true,
		".FN:x": false, "a..FN:x": false, "a.:x": false, "Hello world:x": false, "F\"N:x": false,
	} {
		l, ok := ParseContentLine(in)
		if got := ok && l.WellFormedName(); got != want {
			t.Errorf("WellFormedName(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestLinesSharedRules: Lines once had a parameter reader of its own,
// which split at every ';' (inside quotes too) and took every bare
// parameter for a TYPE, so that a vCard 2.1 NOTE;QUOTED-PRINTABLE stayed
// encoded; it now reads lines as the converters do.
func TestLinesSharedRules(t *testing.T) {
	ls := Lines([]byte("NOTE;QUOTED-PRINTABLE:a=3Db\r\nX-A;X-P=\"a;b\":v\rDESCRIPTION;X=\"q:kept\n"))
	if len(ls) != 3 {
		t.Fatalf("got %d lines: %+v", len(ls), ls)
	}
	if ls[0].Value != "a=b" || ls[0].Params["ENCODING"] != "QUOTED-PRINTABLE" || ls[0].Params["TYPE"] != "" {
		t.Errorf("bare QUOTED-PRINTABLE: %+v", ls[0])
	}
	if ls[1].Params["X-P"] != "a;b" || ls[1].Value != "v" {
		t.Errorf("quoted ';' in a parameter: %+v", ls[1])
	}
	if ls[2].Name != "DESCRIPTION" || ls[2].Value != "kept" {
		t.Errorf("unbalanced quote: %+v", ls[2])
	}
}

// FuzzParseContentLine: a parsed line has an upper-case name, its value
// is the end of the line, and each parameter's raw text is in the line.
func FuzzParseContentLine(f *testing.F) {
	for _, s := range []string{"item1.TEL;HOME;VOICE:+49", `DTSTART;TZID="a;b:c":2026`, `NOTE;X="a:b`, "TEL;;HOME; ;WORK:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, ok := ParseContentLine(s)
		if !ok {
			return
		}
		if l.Name == "" || l.Name != strings.ToUpper(l.Name) || !strings.HasSuffix(s, ":"+l.Value) {
			t.Fatalf("%q: %+v", s, l)
		}
		for _, p := range l.Params {
			if !strings.Contains(l.RawParams, p.Raw) || p.Name == "" {
				t.Fatalf("%q: parameter %+v not in %q", s, p, l.RawParams)
			}
		}
	})
}
