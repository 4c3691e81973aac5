package eas

import (
	"net/http"
	"testing"
)

func TestParseRequestBase64(t *testing.T) {
	// MS-ASHTTP's example: protocol 14.0, Sync, device v140Device of type
	// SmartPhone.
	r, err := ParseRequest("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if r.Cmd != "Sync" || r.Version != "14.0" || r.DeviceID != "v140Device" || r.DeviceType != "SmartPhone" || r.Locale != 0x0409 || r.HasPolicyKey {
		t.Errorf("got %+v", r)
	}
}

func TestParseRequestPlain(t *testing.T) {
	h := http.Header{}
	h.Set("MS-ASProtocolVersion", "16.1")
	h.Set("X-MS-PolicyKey", "3942919513")
	r, err := ParseRequest("Cmd=FolderSync&User=fakename&DeviceId=v140Device&DeviceType=SmartPhone", h.Get)
	if err != nil {
		t.Fatal(err)
	}
	if r.Cmd != "FolderSync" || r.User != "fakename" || r.Version != "16.1" || !r.HasPolicyKey || r.PolicyKey != 3942919513 {
		t.Errorf("got %+v", r)
	}
	for _, bad := range []string{"", "Cmd=Sync", "Cmd=Sync&DeviceId=a/b", "AAAA", "jAA="} {
		if _, err := ParseRequest(bad, h.Get); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l", "Cmd=Ping&User=a&DeviceId=b&DeviceType=c", "jRQJBAIBAgQBAgMEAlRCAQEx"} {
		f.Add(s, "14.1", "0")
	}
	f.Fuzz(func(t *testing.T, q, ver, key string) {
		h := http.Header{}
		h.Set("MS-ASProtocolVersion", ver)
		h.Set("X-MS-PolicyKey", key)
		r, err := ParseRequest(q, h.Get)
		if err == nil && (r.Cmd == "" || r.DeviceID == "") {
			t.Fatalf("%q: accepted without command or device: %+v", q, r)
		}
	})
}
