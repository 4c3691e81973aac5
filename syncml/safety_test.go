package syncml

import (
	"fmt"
	"slices"
	"testing"
)

// mailboxNames lists the FN of every stored contact, sorted.
func mailboxNames(m *memStore) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	items := map[string]string{}
	for id, b := range m.items["contacts"] {
		items[id] = string(b)
	}
	return names(items)
}

// TestResetPhoneSlowSync: a phone that was reset syncs again under the
// same device ID, its items numbered from 1 again. Its slow sync must
// not take them for the old life's items of the same IDs: the mailbox
// keeps its 20 and gains the phone's 5, and the phone gets the 20.
func TestResetPhoneSlowSync(t *testing.T) {
	for _, replace := range []bool{false, true} {
		t.Run(fmt.Sprintf("replaceOnSlow=%v", replace), func(t *testing.T) {
			store := newMemStore()
			srv := NewServer(ServerOptions{Auth: memAuth{store}})
			phone := newSimDevice(t, srv, "IMEI:3550001")
			phone.replaceOnSlow = replace
			var want []string
			for i := 1; i <= 20; i++ {
				n := fmt.Sprintf("Old %02d", i)
				phone.add(vc(n))
				want = append(want, n)
			}
			if !phone.sync(true) {
				t.Fatal("first sync failed")
			}
			phone.reset()
			for i := 1; i <= 5; i++ {
				n := fmt.Sprintf("New %02d", i)
				phone.add(vc(n))
				want = append(want, n)
			}
			if !phone.sync(false) {
				t.Fatal("sync after the reset failed")
			}
			slices.Sort(want)
			if got := mailboxNames(store); !slices.Equal(got, want) {
				t.Errorf("mailbox after the reset phone's sync:\n%v\nwant\n%v", got, want)
			}
			if got := names(phone.items); !slices.Equal(got, want) {
				t.Errorf("phone after its sync:\n%v\nwant\n%v", got, want)
			}
			// A quiet sync afterwards.
			s := phone.begin()
			s.alert(false)
			r := s.clientSync(false)
			for _, sy := range commands[*Sync](r) {
				if len(sy.Commands) != 0 {
					t.Errorf("quiet sync sends %d commands", len(sy.Commands))
				}
			}
		})
	}
}

// TestResetPhoneKeepsSome: the reset phone holds 3 of the old items
// (same content, new IDs) and 2 new ones: nothing is doubled.
func TestResetPhoneKeepsSome(t *testing.T) {
	store := newMemStore()
	srv := NewServer(ServerOptions{Auth: memAuth{store}})
	phone := newSimDevice(t, srv, "IMEI:3550002")
	var want []string
	for i := 1; i <= 20; i++ {
		n := fmt.Sprintf("Old %02d", i)
		phone.add(vc(n))
		want = append(want, n)
	}
	if !phone.sync(true) {
		t.Fatal("first sync failed")
	}
	phone.reset()
	for _, i := range []int{7, 3, 12} {
		phone.add(vc(fmt.Sprintf("Old %02d", i)))
	}
	for i := 1; i <= 2; i++ {
		n := fmt.Sprintf("New %02d", i)
		phone.add(vc(n))
		want = append(want, n)
	}
	if !phone.sync(false) {
		t.Fatal("sync after the reset failed")
	}
	slices.Sort(want)
	if got := mailboxNames(store); !slices.Equal(got, want) {
		t.Errorf("mailbox:\n%v\nwant\n%v", got, want)
	}
	if got := names(phone.items); !slices.Equal(got, want) {
		t.Errorf("phone:\n%v\nwant\n%v", got, want)
	}
}
