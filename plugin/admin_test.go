package plugin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"syncml-imap/config"
	"syncml-imap/internal/dovetest"
	"syncml-imap/pim"
)

func TestOpenAccount(t *testing.T) {
	srv := dovetest.Start(t, &dovetest.Options{MasterUser: "admin", MasterPassword: "master-pw"})
	srv.AddUser(t, "bob@example.org", "bob-pw")
	ctx := context.Background()
	cfg := config.Default()
	cfg.IMAP.Address = srv.Addr
	cfg.Sync.MaxDevices = 2

	st, err := OpenAccount(ctx, cfg, "bob@example.org", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	d := AdminDevices(cfg, st)
	for _, id := range []string{"dev-a", "dev-b"} {
		if _, err := d.Claim(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	var full *pim.SlotsFullError
	if _, err := d.Claim(ctx, "dev-c"); !errors.As(err, &full) || full.Max != 2 {
		t.Errorf("third device with max_devices 2: %v", err)
	}
	st.Close()

	_, err = OpenAccount(ctx, cfg, "bob@example.org", "guess")
	if !errors.Is(err, pim.ErrAuthFailed) || err.Error() != "plugin: login failed for bob@example.org: wrong password (or no such user)" {
		t.Errorf("wrong password: %v", err)
	}
	if _, err = OpenAccount(ctx, cfg, "bob@example.org", ""); !errors.Is(err, ErrNoPassword) || !strings.Contains(err.Error(), "[imap] master_user") {
		t.Errorf("no password, no master user: %v", err)
	}

	// Through the master user, bob's account, with bob's slots.
	cfg.IMAP.MasterUser, cfg.IMAP.MasterPassword, cfg.IMAP.MasterSeparator = "admin", "master-pw", "*"
	st, err = OpenAccount(ctx, cfg, "bob@example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	slots, err := AdminDevices(cfg, st).List(ctx)
	st.Close()
	if err != nil || len(slots) != 2 || slots[0].DeviceID != "dev-a" {
		t.Errorf("slots through the master user: %v, %v", slots, err)
	}
	cfg.IMAP.MasterPassword = "not-it"
	_, err = OpenAccount(ctx, cfg, "bob@example.org", "")
	if !errors.Is(err, pim.ErrAuthFailed) || !strings.Contains(err.Error(), "through master user admin") || strings.Contains(err.Error(), "not-it") {
		t.Errorf("wrong master password: %v", err)
	}
}
