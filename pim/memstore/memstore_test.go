package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
	"syncml-imap/pim/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) pim.Store { return memstore.New(nil) }, nil)
}

var ctx = context.Background()

// TestFaults: the hooks fail an operation before it does anything, or
// after its write; Lose drops items while reporting them stored.
func TestFaults(t *testing.T) {
	broken := errors.New("connection reset")
	s := memstore.New(&memstore.Options{Fault: func(op memstore.Op, name string) error {
		if op == memstore.OpSaveState && name == "bad" {
			return broken
		}
		return nil
	}})
	if err := s.SaveState(ctx, "bad", []byte("x")); !errors.Is(err, broken) || s.State()["bad"] != nil {
		t.Errorf("faulted SaveState: %v, state %q", err, s.State())
	}
	if err := s.SaveState(ctx, "good", []byte("x")); err != nil || string(s.State()["good"]) != "x" {
		t.Errorf("SaveState of another key: %v", err)
	}
	s.Configure(func(o *memstore.Options) {
		o.Fault = nil
		o.FaultAfter = func(op memstore.Op, name string) error { return broken }
	})
	it := &pim.Item{Data: storetest.Card("Written")}
	if err := s.Put(ctx, "contacts", it); !errors.Is(err, broken) || len(s.Items("contacts")) != 1 {
		t.Errorf("Put failing after the write: %v, %d items", err, len(s.Items("contacts")))
	}

	lossy := memstore.New(&memstore.Options{Lose: 2})
	var items []*pim.Item
	for range 4 {
		items = append(items, &pim.Item{Data: storetest.Card("Lost or not")})
	}
	if err := lossy.Put(ctx, "contacts", items...); err != nil {
		t.Fatal(err)
	}
	if n := len(lossy.Items("contacts")); n != 2 || items[3].ID == "" {
		t.Errorf("Lose 2 kept %d of 4 items, want 2 (all with IDs)", n)
	}
}

// TestStatsAndOptions: the counters tests rely on, Lenient, NoQuick and
// NoDelta, Overwrite and the authenticators.
func TestStatsAndOptions(t *testing.T) {
	s := memstore.New(&memstore.Options{Bulk: func(k string) bool { return strings.Contains(k, "/map/") }})
	s.Put(ctx, "contacts", &pim.Item{Data: storetest.Card("A")}, &pim.Item{Data: storetest.Card("B")})
	s.SaveState(ctx, "d/map/1", []byte("12345"))
	s.SaveState(ctx, "d/state", []byte("1"))
	s.LoadStates(ctx, "d/map/1", "d/state")
	s.Get(ctx, "contacts", "x", "y", "z")
	st := s.Stats()
	if st.Puts != 1 || st.Saves != 2 || st.BulkSaves != 1 || st.BulkBytesSaved != 5 || st.BytesSaved != 6 ||
		st.Loads != 1 || st.BulkLoads != 1 || st.BytesLoaded != 6 || st.MaxGet != 3 {
		t.Errorf("stats %+v", st)
	}
	s.ResetStats()
	if s.Stats() != (memstore.Stats{}) {
		t.Errorf("after ResetStats: %+v", s.Stats())
	}

	if err := s.Put(ctx, "contacts", &pim.Item{Data: []byte("fragment")}); !errors.Is(err, pim.ErrInvalidItem) {
		t.Errorf("Put of a fragment: %v", err)
	}
	s.Configure(func(o *memstore.Options) { o.Lenient, o.NoQuick, o.NoDelta = true, true, true })
	if err := s.Put(ctx, "contacts", &pim.Item{Data: []byte("fragment")}); err != nil {
		t.Errorf("lenient Put of a fragment: %v", err)
	}
	d, _ := s.Changes(ctx, "contacts", nil)
	if s.PointHead("contacts", d.Point) != nil {
		t.Error("NoQuick store gave a head")
	}
	if _, err := s.PointDelta("contacts", d.Point, d.Point); err == nil {
		t.Error("NoDelta store gave a delta")
	}

	s.Overwrite("contacts", d.Added[0], []byte("behind its back"))
	if d2, _ := s.Changes(ctx, "contacts", d.Point); len(d2.Modified)+len(d2.Added) != 0 || string(s.Items("contacts")[d.Added[0]]) != "behind its back" {
		t.Errorf("Overwrite: changes %+v", d2)
	}
	if dbs := s.Databases(); fmt.Sprint(dbs) != "[contacts]" {
		t.Errorf("Databases %v", dbs)
	}

	if _, err := s.Auth("alice", "pw").Login(ctx, "alice", "nope"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("wrong password: %v", err)
	}
	if got, err := s.Auth("alice", "pw").Login(ctx, "alice", "pw"); err != nil || got != pim.Store(s) {
		t.Errorf("login: %v", err)
	}
	accts := &memstore.Accounts{Password: "pw"}
	a, _ := accts.Login(ctx, "a", "pw")
	b, _ := accts.Login(ctx, "b", "pw")
	a2, _ := accts.Login(ctx, "a", "pw")
	if a == b || a != a2 || accts.Store("a") != a {
		t.Error("Accounts: one store per user, shared by its sessions")
	}
	if _, err := accts.Login(ctx, "a", "x"); !errors.Is(err, pim.ErrAuthFailed) {
		t.Errorf("Accounts, wrong password: %v", err)
	}
}
