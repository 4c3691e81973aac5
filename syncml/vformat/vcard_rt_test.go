package vformat

import (
	"bytes"
	"slices"
	"testing"
)

func FuzzVCardScratchRT(f *testing.F) {
	vcardFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		n30, err := VCard21To30(in)
		if err != nil {
			return
		}
		if bytes.Contains(bytes.ToLower(n30), []byte("geo:")) || bytes.Contains(bytes.ToLower(n30), []byte("tel:")) || bytes.Contains(bytes.ToLower(n30), []byte("data:")) || bytes.Contains(n30, []byte("\"")) || bytes.Contains(n30, []byte("AGENT")) || bytes.Contains(n30, []byte("VERSION:4.0")) || !bytes.Contains(n30, []byte("\r\nN:")) || !bytes.Contains(n30, []byte("\r\nFN:")) {
			return
		}
		v21, _ := VCard30To21(n30)
		back, _ := VCard21To30(v21)
		a, b := vcardNorm(&testing.T{}, n30), vcardNorm(&testing.T{}, back)
		if !slices.Equal(a, b) {
			t.Fatalf("round trip differs:\n%q\n%q\n%s\n%s", a, b, n30, back)
		}
	})
}
