package vformat

import (
	"reflect"
	"strings"
	"testing"
)

func TestWriteContentLine(t *testing.T) {
	var b strings.Builder
	writeContentLine(&b, "DTSTART", "20240506T090000", "", "TZID=Europe/Berlin", "")
	writeContentLine(&b, "SUMMARY", "line\r\nbreaks\ngo")
	if got, want := b.String(), "DTSTART;TZID=Europe/Berlin:20240506T090000\r\nSUMMARY:linebreaksgo\r\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	b.Reset()
	writeContentLine(&b, "DESCRIPTION", strings.Repeat("x", 100))
	if got := b.String(); !strings.HasPrefix(got, "DESCRIPTION:"+strings.Repeat("x", 63)+"\r\n "+strings.Repeat("x", 37)) {
		t.Errorf("not folded at 75 octets: %q", got)
	}
}

func TestTextList(t *testing.T) {
	for in, want := range map[string][]string{
		`Business, Projekt\, Ü ,,x\;y`: {"Business", "Projekt, Ü", "x;y"},
		`a\nb`:                         {"a\nb"},
		` , `:                          nil,
	} {
		if got := textList(in); !reflect.DeepEqual(got, want) {
			t.Errorf("textList(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRRuleParts(t *testing.T) {
	got := rruleParts("freq=weekly; byday = mo,we ;COUNT=3;junk;UNTIL=")
	want := map[string]string{"FREQ": "WEEKLY", "BYDAY": "MO,WE", "COUNT": "3", "UNTIL": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rruleParts = %v, want %v", got, want)
	}
}

func TestAllDigitsIsASCII(t *testing.T) {
	for s, want := range map[string]bool{"0123": true, "": false, "12a": false, "-1": false, "١": false} {
		if got := allDigits(s); got != want {
			t.Errorf("allDigits(%q) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{"plain ~\x7f": true, "": true, "Müller": false} {
		if got := isASCII(s); got != want {
			t.Errorf("isASCII(%q) = %v", s, got)
		}
		if got := isASCII([]byte(s)); got != want {
			t.Errorf("isASCII([]byte(%q)) = %v", s, got)
		}
	}
}
