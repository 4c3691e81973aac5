package vobject

import "testing"

func TestDecodeCharset(t *testing.T) {
	for _, tc := range []struct {
		in      string
		charset string
		want    string
	}{
		{"\x8e\x52\x93\x63", "SHIFT_JIS", "山田"},
		{"\x8e\x52\x93\x63", "Shift-JIS", "山田"},
		{"\xc9\xbd", "GB2312", "山"},
		{"caf\xe9 \x80", "ISO-8859-1", "café €"}, // read as Windows-1252
		{"caf\xe9", "ISO88591", "café"},
		{"\x82", "CP850", "é"}, // not a WHATWG name: x/text charmap
		{"\x8e", "MACROMAN", "é"},
		{"caf\xe9", "", "café"},                  // invalid UTF-8 without charset: Windows-1252
		{"café", "", "café"},                     // valid UTF-8 stays
		{"café", "X-UNKNOWN", "café"},            // an unknown charset: as without one
		{"caf\xe9", "UTF-8", "café"},             // a wrong UTF-8 claim
		{"plain", "US-ASCII", "plain"},           // ASCII is not Windows-1252 here
		{"\x8e\x52\x93", "SHIFT_JIS", "山\uFFFD"}, // cut: the decoder's replacement
	} {
		if got := DecodeCharset([]byte(tc.in), tc.charset); got != tc.want {
			t.Errorf("DecodeCharset(%q, %q) = %q, want %q", tc.in, tc.charset, got, tc.want)
		}
	}
}

func TestDecodeUTF16(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"\xff\xfeA\x00\xe9\x00", "Aé"},
		{"\xfe\xff\x00A\x00\xe9", "Aé"},
		{"\xff\xfeA\x00B", "A"},              // odd last byte dropped
		{"\xff\xfe\x00\xd8A\x00", "\uFFFDA"}, // unpaired surrogate
		{"AB", "AB"},                         // no mark: as it is
		{"\xef\xbb\xbfA", "\xef\xbb\xbfA"},
	} {
		if got := string(DecodeUTF16([]byte(tc.in))); got != tc.want {
			t.Errorf("DecodeUTF16(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
