package pim

import (
	"bytes"
	"testing"
)

// TestStateRecordsCorrupt: bad bytes in any state record are an error,
// never a panic.
func TestStateRecordsCorrupt(t *testing.T) {
	good := [][]byte{
		encodeBulk(&bulk{Point: []byte("p"), Map: map[string]string{"1": "a", "2": "b"}, TempIDs: map[string]string{"#1": "a"}}),
		(&bulkDelta{pointForm: pointDelta, point: []byte("d"), set: map[string]string{"3": "c"}, del: []string{"1"}}).encode(),
		encodeFingerprints(map[string]packedFP{"a": packFP(Fingerprint{"FN": 1, "TEL": 2}), "b": nil, "e": packFP(Fingerprint{})}, []string{"c"}),
	}
	for _, raw := range good {
		for n := 0; n < len(raw); n++ {
			decodeBulk(raw[:n])
			decodeDelta(raw[:n])
			decodeFingerprints(raw[:n])
		}
	}
	b, err := decodeBulk(good[0])
	if err != nil || b.Map["2"] != "b" || b.TempIDs["#1"] != "a" || string(b.Point) != "p" {
		t.Errorf("bulk round trip: %+v %v", b, err)
	}
	x, err := decodeDelta(good[1])
	if err != nil || x.set["3"] != "c" || x.del[0] != "1" || string(x.point) != "d" {
		t.Errorf("delta round trip: %+v %v", x, err)
	}
	fps, gone, err := decodeFingerprints(good[2])
	if err != nil || fps["a"].unpack()["TEL"] != 2 || fps["b"] != nil || fps["e"].unpack() == nil || len(fps["e"].unpack()) != 0 || gone[0] != "c" {
		t.Errorf("fingerprints round trip: %v %v %v", fps, gone, err)
	}
	if _, err := decodeBulk(good[0][:len(good[0])-1]); err == nil {
		t.Error("a truncated base was read")
	}
}

func FuzzStateRecords(f *testing.F) {
	f.Add(encodeBulk(&bulk{Point: []byte("p"), Map: map[string]string{"1": "a"}, TempIDs: map[string]string{}}))
	f.Add((&bulkDelta{pointForm: pointWhole, point: []byte("q"), set: map[string]string{"2": "b"}, del: []string{"1"}}).encode())
	f.Add(encodeFingerprints(map[string]packedFP{"a": packFP(Fingerprint{"FN": 7})}, []string{"b"}))
	f.Add([]byte(`{"Map":{"1":"a"}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if b, err := decodeBulk(raw); err == nil && b.Map == nil {
			t.Fatal("a base without a map")
		}
		if x, err := decodeDelta(raw); err == nil {
			if y, err := decodeDelta(x.encode()); err != nil || len(y.set) != len(x.set) || len(y.del) != len(x.del) {
				t.Fatalf("delta does not round-trip: %v", err)
			}
		}
		if fps, gone, err := decodeFingerprints(raw); err == nil && !bytes.HasPrefix(raw, []byte("{")) {
			if back, _, err := decodeFingerprints(encodeFingerprints(fps, gone)); err != nil || len(back) != len(fps) {
				t.Fatalf("fingerprints do not round-trip: %v", err)
			}
		}
	})
}
