package eas

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
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

// b64Query writes a request line's query in MS-ASHTTP's base64 form
// (2.2.1.1.1.1), as iOS sends it: version, command code, locale, device
// ID, policy key (none when nil), device type, then the User parameter.
func b64Query(ver, cmd byte, device []byte, key *uint32, devType, user string) string {
	b := []byte{ver, cmd, 0x09, 0x04, byte(len(device))}
	b = append(b, device...)
	if key == nil {
		b = append(b, 0)
	} else {
		b = append(b, 4, byte(*key), byte(*key>>8), byte(*key>>16), byte(*key>>24))
	}
	b = append(b, byte(len(devType)))
	b = append(b, devType...)
	b = append(b, 8, byte(len(user)))
	b = append(b, user...)
	return url.QueryEscape(base64.StdEncoding.EncodeToString(b))
}

// A client that speaks only the base64 query form, with a device ID of
// raw bytes and its policy key in the query: set up, then a contact
// reaches it.
func TestBase64Client(t *testing.T) {
	p := newPhone(t)
	p.accts.Store("alice").Put(context.Background(), pim.Contacts, &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Base Sixtyfour\r\nN:Sixtyfour;Base;;;\r\nEND:VCARD\r\n")})
	device := []byte{0x9f, 0x01, '/', 0x00, 0x42, 0xee, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0}
	var key *uint32
	post := func(cmd byte, body *wbxml.Node) *wbxml.Node {
		t.Helper()
		data, err := wbxml.EncodeEAS(body)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", p.srv.URL+"/Microsoft-Server-ActiveSync?"+b64Query(161, cmd, device, key, "iPhone", "alice"), bytes.NewReader(data))
		req.SetBasicAuth("alice", "secret")
		req.Header.Set("Content-Type", "application/vnd.ms-sync.wbxml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("command %d: HTTP %d %s", cmd, resp.StatusCode, out)
		}
		root, err := wbxml.DecodeEAS(out)
		if err != nil {
			t.Fatal(err)
		}
		return root
	}
	policy := func(k string) *wbxml.Node {
		pol := el("", "Policy", tx("", "PolicyType", "MS-EAS-Provisioning-WBXML"))
		if k != "" {
			pol.Children = append(pol.Children, tx("", "PolicyKey", k), tx("", "Status", "1"))
		}
		return el("Provision", "Provision", el("", "Policies", pol))
	}
	ans := post(20, policy(""))
	temp := text(child(child(ans, "Policies"), "Policy"), "PolicyKey")
	ans = post(20, policy(temp))
	n, err := strconv.ParseUint(text(child(child(ans, "Policies"), "Policy"), "PolicyKey"), 10, 32)
	if err != nil {
		t.Fatalf("Provision: %s", wbxml.Format(ans))
	}
	k := uint32(n)
	key = &k
	if ans = post(9, el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "0"))); text(ans, "Status") != "1" {
		t.Fatalf("FolderSync: %s", wbxml.Format(ans))
	}
	sync := func(synckey string) *wbxml.Node {
		return child(child(post(0, el("AirSync", "Sync", el("", "Collections", el("", "Collection",
			tx("", "SyncKey", synckey), tx("", "CollectionId", "contacts"))))), "Collections"), "Collection")
	}
	sync("0")
	c := sync("1")
	if add := child(child(c, "Commands"), "Add"); text(child(add, "ApplicationData"), "FileAs") != "Base Sixtyfour" {
		t.Errorf("Sync: %s", wbxml.Format(c))
	}
	slot, err := pim.NewDevices(p.accts.Store("alice"), 4).Find(context.Background(), "9f012f0042ee102030405060708090a0")
	if err != nil || slot == nil {
		t.Errorf("the device's slot under its hex ID: %v", err)
	}
}
