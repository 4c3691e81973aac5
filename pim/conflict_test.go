package pim

import (
	"strings"
	"testing"
)

// TestPolicyResolve: each conflict rule decides as its name says; newest
// wins by the items' stamps and falls back to the tie break; a merge takes
// each side's own edits and is reported as the side it equals when it
// took nothing from the other.
func TestPolicyResolve(t *testing.T) {
	card := func(rev, tel, email string) []byte {
		return []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nN:Ann;;;;\r\nTEL:" + tel + "\r\nEMAIL:" + email + "\r\nREV:" + rev + "\r\nEND:VCARD\r\n")
	}
	base := card("20260101T000000Z", "1", "a@x")
	server := card("20260301T000000Z", "2", "a@x") // the server changed TEL
	device := card("20260201T000000Z", "1", "b@x") // the device EMAIL
	noStamp := []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nN:Ann;;;;\r\nTEL:9\r\nEND:VCARD\r\n")
	baseFP := func() Fingerprint { return FingerprintOf(base) }
	for _, c := range []struct {
		name           string
		rule, tie      ConflictRule
		server, device []byte
		want           Resolution
		wantHas        []string
	}{
		{"server wins", ConflictServerWins, "", server, device, ServerWins, []string{"TEL:2", "EMAIL:a@x"}},
		{"device wins", ConflictDeviceWins, "", server, device, DeviceWins, []string{"TEL:1", "EMAIL:b@x"}},
		{"duplicate", ConflictDuplicate, "", server, device, KeepBoth, []string{"TEL:2"}},
		{"newest: the server's is newer", ConflictNewestWins, "", server, device, ServerWins, []string{"TEL:2"}},
		{"newest: the device's is newer", ConflictNewestWins, "", device, server, DeviceWins, []string{"TEL:2"}},
		{"newest without stamps: tie break device", ConflictNewestWins, ConflictDeviceWins, server, noStamp, DeviceWins, []string{"TEL:9"}},
		{"newest without stamps: tie break server", ConflictNewestWins, ConflictServerWins, server, noStamp, ServerWins, []string{"TEL:2"}},
		{"merge takes both edits", ConflictMerge, ConflictServerWins, server, device, Merged, []string{"TEL:2", "EMAIL:b@x"}},
		{"merge of the server's own edit only", ConflictMerge, ConflictServerWins, server, base, ServerWins, []string{"TEL:2", "EMAIL:a@x"}},
	} {
		p := Policy{Conflict: c.rule, TieBreak: c.tie}
		r, data, _ := p.Resolve(baseFP, c.server, c.device)
		if r != c.want {
			t.Errorf("%s: resolution %d, want %d", c.name, r, c.want)
		}
		for _, h := range c.wantHas {
			if !strings.Contains(string(data), h) {
				t.Errorf("%s: the item becomes\n%s\nwithout %q", c.name, data, h)
			}
		}
	}
	// The base is read for a merge only.
	asked := false
	p := Policy{Conflict: ConflictServerWins}
	p.Resolve(func() Fingerprint { asked = true; return nil }, server, device)
	if asked {
		t.Error("the merge base was read for a server-wins conflict")
	}
}
