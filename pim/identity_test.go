package pim

import "testing"

// TestIdentityIndex: an item matches a free stored item with its UID
// first, else one with its identity fields, preferring one that says the
// same; each stored item matches once; taken items are passed over.
func TestIdentityIndex(t *testing.T) {
	card := func(uid, tel string) []byte {
		s := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Alpha\r\nN:Alpha;Ann;;;\r\nTEL:" + tel + "\r\n"
		if uid != "" {
			s += "UID:" + uid + "\r\n"
		}
		return []byte(s + "END:VCARD\r\n")
	}
	x := NewIdentityIndex(Contacts)
	if !x.Empty() {
		t.Fatal("a new index is not empty")
	}
	x.Add("a", card("", "1"))
	x.Add("b", card("", "2"))
	x.Add("c", card("u-c", "3"))
	x.Add("gone", nil)
	if x.Empty() {
		t.Fatal("an index of three items is empty")
	}
	// The same name and the content of b: b, though a comes first.
	if got := x.Match(card("", "2")); got != "b" {
		t.Errorf("match of b's content: %q, want b", got)
	}
	// The UID wins over the fields.
	if got := x.Match(card("u-c", "9")); got != "c" {
		t.Errorf("match by UID: %q, want c", got)
	}
	// c is taken: its UID finds nothing free, the fields find a.
	if got := x.MatchUID("u-c"); got != "" {
		t.Errorf("second match of a taken UID: %q", got)
	}
	if got := x.HasUID("u-c"); got != "c" {
		t.Errorf("HasUID of a taken item: %q, want c", got)
	}
	if got := x.Match(card("", "7")); got != "a" {
		t.Errorf("match by name: %q, want a", got)
	}
	if got := x.Match(card("", "2")); got != "" {
		t.Errorf("everything taken, still matched %q", got)
	}
	// Take passes over an item.
	y := NewIdentityIndex(Contacts)
	y.Add("a", card("", "1"))
	y.Take("a")
	if got := y.Match(card("", "1")); got != "" {
		t.Errorf("matched a taken item %q", got)
	}
}
