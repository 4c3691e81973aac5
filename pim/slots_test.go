package pim_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

// TestDeviceSlots: devices claim numbered slots up to the maximum; a
// reset drops a device's sync state but keeps its DevInf, a removal
// drops all, and frees the slot.
func TestDeviceSlots(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(nil)
	devs := pim.NewDevices(store, 2)
	a, err := devs.Claim(ctx, "IMEI:1")
	if err != nil || a.Number != 1 {
		t.Fatalf("first device: %+v %v", a, err)
	}
	b, err := devs.Claim(ctx, "IMEI:2")
	if err != nil || b.Number != 2 {
		t.Fatalf("second device: %+v %v", b, err)
	}
	if again, err := devs.Claim(ctx, "IMEI:1"); err != nil || again.Number != 1 {
		t.Errorf("known device: %+v %v", again, err)
	}
	_, err = devs.Claim(ctx, "IMEI:3")
	var full *pim.SlotsFullError
	if !errors.As(err, &full) || full.Max != 2 || !strings.Contains(err.Error(), "devices remove") {
		t.Fatalf("third device: %v", err)
	}
	if s, _ := devs.Get(ctx, "IMEI:3"); s != nil {
		t.Errorf("refused device left a slot: %+v", s)
	}
	store.SaveState(ctx, "device/IMEI:1/contacts", []byte("{}"))
	store.SaveState(ctx, "device/IMEI:1/devinf", []byte("<DevInf/>"))
	if _, err := devs.Reset(ctx, "1"); err != nil {
		t.Fatal(err)
	}
	if store.State()["device/IMEI:1/contacts"] != nil || store.State()["device/IMEI:1/devinf"] == nil {
		t.Errorf("reset: state %v", store.State())
	}
	if _, err := devs.Remove(ctx, "IMEI:1"); err != nil {
		t.Fatal(err)
	}
	if store.State()["device/IMEI:1/devinf"] != nil || store.State()["slot/IMEI:1"] != nil {
		t.Errorf("remove left records: %v", store.State())
	}
	if c, err := devs.Claim(ctx, "IMEI:3"); err != nil || c.Number != 1 {
		t.Errorf("after remove, the new device gets slot 1: %+v %v", c, err)
	}
	if _, err := devs.Find(ctx, "IMEI:9"); !errors.Is(err, pim.ErrNoSuchDevice) {
		t.Errorf("Find unknown: %v", err)
	}
}

// TestClaimRace: many new devices claim at once; exactly max get a slot,
// with distinct numbers.
func TestClaimRace(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(nil)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = pim.NewDevices(store, 3).Claim(ctx, fmt.Sprint("dev-", i))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	all, _ := pim.NewDevices(store, 3).List(ctx)
	nums := map[int]bool{}
	for _, s := range all {
		nums[s.Number] = true
	}
	if ok != 3 || len(all) != 3 || len(nums) != 3 {
		t.Errorf("%d claims succeeded, %d slots, numbers %v; want 3 of each", ok, len(all), nums)
	}
}
