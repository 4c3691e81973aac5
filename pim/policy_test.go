package pim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestPolicyOverrides(t *testing.T) {
	base := DefaultPolicy()
	p, err := base.WithOverrides(map[string]string{
		"contacts_direction": "server-to-device", "conflict": "Newest-Wins", "contact_categories": "Family, Work,",
		"calendar_past": "7d", "calendar_future": "36h", "tasks_open_only": "true", "time_zone": "Europe/Berlin",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.DirectionOf("contacts") != DirServerToDevice || p.DirectionOf("calendar") != DirTwoWay || p.Conflict != ConflictNewestWins ||
		strings.Join(p.ContactCategories, "|") != "Family|Work" || p.CalendarPast.Hours() != 168 || p.CalendarFuture.Hours() != 36 ||
		!p.TasksOpenOnly || p.TimeZone != "Europe/Berlin" {
		t.Errorf("policy %+v", p)
	}
	if len(base.Directions) != 0 {
		t.Errorf("WithOverrides changed its receiver's map: %v", base.Directions)
	}
	for kv, want := range map[string]string{
		"direction=sideways":        "policy direction: invalid value",
		"conflict_tie_break=merge":  "policy conflict_tie_break: invalid value",
		"calendar_past=-3d":         "policy calendar_past: invalid duration",
		"colour=blue":               "policy colour: unknown key",
		"time_zone=Mars/Olympus":    "policy time_zone: unknown time zone",
		"tasks_open_only=sometimes": "policy tasks_open_only: want true or false",
	} {
		k, v, _ := strings.Cut(kv, "=")
		if _, err := base.WithOverrides(map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", kv, err, want)
		}
	}
}

func TestDeviceSlots(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	devs := NewDevices(store, 2)
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
	var full *SlotsFullError
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
	if store.state["device/IMEI:1/contacts"] != nil || store.state["device/IMEI:1/devinf"] == nil {
		t.Errorf("reset: state %v", store.state)
	}
	if _, err := devs.Remove(ctx, "IMEI:1"); err != nil {
		t.Fatal(err)
	}
	if store.state["device/IMEI:1/devinf"] != nil || store.state["slot/IMEI:1"] != nil {
		t.Errorf("remove left records: %v", store.state)
	}
	if c, err := devs.Claim(ctx, "IMEI:3"); err != nil || c.Number != 1 {
		t.Errorf("after remove, the new device gets slot 1: %+v %v", c, err)
	}
	if _, err := devs.Find(ctx, "IMEI:9"); !errors.Is(err, ErrNoSuchDevice) {
		t.Errorf("Find unknown: %v", err)
	}
}

// TestClaimRace: many new devices claim at once; exactly max get a slot,
// with distinct numbers.
func TestClaimRace(t *testing.T) {
	ctx := context.Background()
	store := newMemStore()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = NewDevices(store, 3).Claim(ctx, fmt.Sprint("dev-", i))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		}
	}
	all, _ := NewDevices(store, 3).List(ctx)
	nums := map[int]bool{}
	for _, s := range all {
		nums[s.Number] = true
	}
	if ok != 3 || len(all) != 3 || len(nums) != 3 {
		t.Errorf("%d claims succeeded, %d slots, numbers %v; want 3 of each", ok, len(all), nums)
	}
}

// TestPolicyFolderRule: a device's contact_folders override follows the
// one sub-folder rule config and the store use (internal/folderpath): a
// quote is a valid IMAP name, a C1 control, an empty level or ".." is not.
func TestPolicyFolderRule(t *testing.T) {
	for v, ok := range map[string]bool{
		`Family, Friends/School`: true,
		`Say "hi"`:               true,
		" /Family/ ":             true,
		"Fam\u0085ily":           false,
		"a//b":                   false,
		"../Other":               false,
		"Fam*":                   false,
	} {
		p, err := DefaultPolicy().WithOverrides(map[string]string{"contact_folders": v})
		if (err == nil) != ok {
			t.Errorf("contact_folders %q: err %v, want ok %v", v, err, ok)
		}
		if ok && v == " /Family/ " && (len(p.ContactFolders) != 1 || p.ContactFolders[0] != "Family") {
			t.Errorf("contact_folders %q: %q", v, p.ContactFolders)
		}
	}
}
