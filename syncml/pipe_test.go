package syncml

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestStorePipe: a message of 100 new items is stored in batches while
// it is converted (16, then 64, then the rest: three store calls), every
// item answered 201 and stored once. When the store fails the second
// batch, the first batch's items are answered 201 (they are stored), the
// rest 510, later batches are not tried, the database commits nothing,
// and the repeated sync stores every item exactly once.
func TestStorePipe(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("fail=", fail), func(t *testing.T) {
			store := newMemStore()
			auth := &faultAuth{store: store}
			srv := NewServer(ServerOptions{Auth: auth})
			defer srv.Close()
			phone := newSimDevice(t, srv, "IMEI:pipe")
			phone.maxMsgSize = 1 << 20
			for i := 0; i < 100; i++ {
				phone.add(vc(fmt.Sprintf("Person %03d", i)))
			}
			if fail {
				auth.set(func(a *faultAuth) { a.putsLeft = 2 })
			}
			s := phone.begin()
			s.alert(true)
			r := s.clientSync(true)
			var codes []string
			for _, st := range statuses(r) {
				if strings.HasPrefix(st, "Add ") {
					codes = append(codes, strings.Fields(st)[2])
				}
			}
			if len(codes) != 100 {
				t.Fatalf("%d Add statuses, want 100", len(codes))
			}
			auth.mu.Lock()
			puts := auth.puts
			auth.mu.Unlock()
			if !fail {
				if n := len(mailboxNames(store)); n != 100 || slices.ContainsFunc(codes, func(c string) bool { return c != "201" }) {
					t.Fatalf("mailbox %d, statuses %v", n, codes)
				}
				if puts != 3 {
					t.Errorf("%d store calls, want 3 (16, 64, 20)", puts)
				}
				return
			}
			for i, c := range codes {
				if want := map[bool]string{true: "201", false: "510"}[i < 16]; c != want {
					t.Fatalf("item %d answered %s, want %s (%v)", i, c, want, codes)
				}
			}
			if puts != 2 {
				t.Errorf("%d store calls, want 2: the batch after the failed one is not tried", puts)
			}
			s.serverChanges(r)
			if n := len(mailboxNames(store)); n != 16 {
				t.Errorf("mailbox holds %d, want the first batch's 16", n)
			}
			// The device sends them all again: each is stored once.
			if !phone.sync(true) {
				t.Fatal("the repeated sync failed")
			}
			got := mailboxNames(store)
			if len(got) != 100 || len(slices.Compact(slices.Clone(got))) != 100 {
				t.Errorf("mailbox holds %d (%d distinct), want 100", len(got), len(slices.Compact(slices.Clone(got))))
			}
		})
	}
}
