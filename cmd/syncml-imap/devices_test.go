package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/internal/dovetest"
	"syncml-imap/pim"
	"syncml-imap/plugin"
)

const (
	devUser     = "alice@example.org"
	devPassword = "alice-pw"
	phone       = "IMEI:351234"
	tablet      = "IMEI:359999"
)

// devicesSetup is a Dovecot with a master user and alice, whose account
// has two device slots and a contact.
type devicesSetup struct {
	srv       *dovetest.Server
	plainCfg  string // no master user: the password comes from the environment
	masterCfg string // master user admin, separator "*" as dovetest configures
	contactID string
	lastSync  time.Time
}

func setupDevices(t *testing.T) *devicesSetup {
	t.Helper()
	srv := dovetest.Start(t, &dovetest.Options{MasterUser: "admin", MasterPassword: "master-pw"})
	srv.AddUser(t, devUser, devPassword)
	s := &devicesSetup{
		srv:      srv,
		plainCfg: writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\n", srv.Addr)),
		// dovetest sets auth_master_user_separator = "*".
		masterCfg: writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\nmaster_user = \"admin\"\nmaster_password = \"master-pw\"\nmaster_separator = \"*\"\n", srv.Addr)),
		lastSync:  time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
	}
	ctx := context.Background()

	// A contact, stored through imapstore as a sync would.
	opts := &imapstore.Options{Address: srv.Addr}
	acct, err := imapstore.Dial(ctx, opts, devUser, devPassword)
	if err != nil {
		t.Fatal(err)
	}
	item := &imapstore.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jane Roe\r\nTEL:+49 1\r\nEND:VCARD\r\n")}
	if err := acct.Put(ctx, imapstore.KindContacts, item); err != nil {
		t.Fatal(err)
	}
	s.contactID = item.ID
	acct.Close()

	st := s.open(t)
	d := plugin.AdminDevices(s.config(t, s.plainCfg), st)
	for _, id := range []string{phone, tablet} {
		if _, err := d.Claim(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	p, err := d.Get(ctx, phone)
	if err != nil {
		t.Fatal(err)
	}
	p.Manufacturer, p.Model, p.SoftwareVersion, p.DevType = "Nokia", "E71", "300.21.012", "phone"
	p.LastSync = s.lastSync
	p.Databases = map[pim.Kind]time.Time{pim.Contacts: s.lastSync, pim.Calendar: s.lastSync.Add(-time.Hour)}
	if err := d.Save(ctx, p); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"contacts", "calendar", "calendar/map", "devinf"} {
		if err := st.SaveState(ctx, "device/"+phone+"/"+key, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *devicesSetup) config(t *testing.T, path string) *config.Config {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// open logs in as alice on a fresh connection, so that what it reads was
// written by the command, not cached.
func (s *devicesSetup) open(t *testing.T) pim.Store {
	t.Helper()
	st, err := plugin.OpenAccount(context.Background(), s.config(t, s.plainCfg), devUser, devPassword)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func (s *devicesSetup) slot(t *testing.T, id string) *pim.Slot {
	t.Helper()
	slot, err := plugin.AdminDevices(s.config(t, s.plainCfg), s.open(t)).Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return slot
}

func (s *devicesSetup) stateKeys(t *testing.T, prefix string) []string {
	t.Helper()
	keys, err := s.open(t).ListState(context.Background(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func (s *devicesSetup) contactStays(t *testing.T) {
	t.Helper()
	items, err := s.open(t).Get(context.Background(), "contacts", s.contactID)
	if err != nil {
		t.Fatal(err)
	}
	if items[0] == nil || !strings.Contains(string(items[0].Data), "FN:Jane Roe") {
		t.Errorf("the contact is gone: %v", items)
	}
}

func mustContain(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// TestDevices walks through every subcommand with the password from the
// environment.
func TestDevices(t *testing.T) {
	s := setupDevices(t)
	t.Setenv("SYNCML_IMAP_PASSWORD", devPassword)
	cfg := s.plainCfg
	base := []string{"-config", cfg, "-user", devUser}
	devices := func(sub string, args ...string) (int, string, string) {
		return runCmd(append(append([]string{"devices", sub}, base...), args...)...)
	}

	code, out, errs := devices("list")
	if code != 0 {
		t.Fatalf("list: %d\n%s", code, errs)
	}
	mustContain(t, "list", out, "2 of 4 slots used", "SLOT", phone, tablet, "Nokia E71",
		s.lastSync.Local().Format("2006-01-02 15:04"), "contacts,calendar", "never", "default")

	code, out, errs = devices("list", "-json")
	var listed struct {
		User       string      `json:"user"`
		MaxDevices int         `json:"max_devices"`
		Slots      []*pim.Slot `json:"slots"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil {
		t.Fatalf("list -json: %d\n%s\n%s", code, out, errs)
	}
	if listed.User != devUser || listed.MaxDevices != 4 || len(listed.Slots) != 2 ||
		listed.Slots[0].DeviceID != phone || listed.Slots[0].Number != 1 || listed.Slots[1].Number != 2 ||
		!listed.Slots[0].LastSync.Equal(s.lastSync) {
		t.Errorf("list -json: %s", out)
	}

	code, out, errs = devices("show", "-device", phone)
	if code != 0 {
		t.Fatalf("show: %d\n%s", code, errs)
	}
	mustContain(t, "show", out, "device "+phone+" (slot 1 of 4)", "manufacturer:     Nokia", "model:            E71",
		"300.21.012", "device type:      phone", "contacts  last sync "+s.lastSync.Local().Format("2006-01-02 15:04:05"),
		"    direction = two-way", "    conflict = merge")
	if strings.Contains(out, "  * ") {
		t.Errorf("show marks overrides of a device without any:\n%s", out)
	}
	// A slot number names the device too.
	if code, out, _ = devices("show", "-device", "2"); code != 0 || !strings.Contains(out, "device "+tablet+" (slot 2 of 4)") ||
		!strings.Contains(out, "databases: none synced yet") {
		t.Errorf("show -device 2: %d\n%s", code, out)
	}
	if code, _, errs = devices("show", "-device", "IMEI:000"); code != 2 || !strings.Contains(errs, "no such device") {
		t.Errorf("show of an unknown device: %d %q", code, errs)
	}

	// set: flags may also follow the key=value arguments.
	code, out, errs = runCmd("devices", "set", "-config", cfg, "-user", devUser, "conflict=device-wins", "contacts_direction=server-to-device", "-device", phone)
	if code != 0 {
		t.Fatalf("set: %d\n%s", code, errs)
	}
	mustContain(t, "set", out, "  * conflict = device-wins", "  * contacts_direction = server-to-device", "    direction = two-way")
	if ov := s.slot(t, phone).Overrides; ov["conflict"] != "device-wins" || ov["contacts_direction"] != "server-to-device" || len(ov) != 2 {
		t.Errorf("stored overrides %v", ov)
	}
	if _, out, _ = devices("list"); !strings.Contains(out, "conflict=device-wins") {
		t.Errorf("list does not show the overrides:\n%s", out)
	}

	for _, tc := range []struct{ arg, want string }{
		{"colour=blue", "policy colour: unknown key"},
		{"conflict=sometimes", `policy conflict: invalid value "sometimes"`},
		{"calendar_past=lots", `policy calendar_past: invalid duration "lots"`},
		{"nonsense", `"nonsense": want key=value`},
	} {
		code, out, errs = devices("set", "-device", phone, "tasks_open_only=true", tc.arg)
		if code != 2 || !strings.Contains(errs, tc.want) || out != "" {
			t.Errorf("set %s: %d %q %q, want exit 2 and %q", tc.arg, code, out, errs, tc.want)
		}
	}
	if ov := s.slot(t, phone).Overrides; len(ov) != 2 {
		t.Errorf("a refused set changed the overrides: %v", ov)
	}

	// key= removes an override, for a direction key as for any other.
	code, out, errs = devices("set", "-device", "1", "conflict=", "contacts_direction=")
	if code != 0 || strings.Contains(out, "  * ") || !strings.Contains(out, "    conflict = merge") {
		t.Errorf("removing overrides: %d\n%s\n%s", code, out, errs)
	}
	if ov := s.slot(t, phone).Overrides; len(ov) != 0 {
		t.Errorf("overrides left after removal: %v", ov)
	}

	// reset: the per-database state goes, the slot, its DevInf and the
	// items stay.
	code, out, errs = devices("reset", "-device", phone, "-yes")
	if code != 0 || !strings.Contains(out, "slow sync") {
		t.Fatalf("reset: %d\n%s\n%s", code, out, errs)
	}
	if keys := s.stateKeys(t, "device/"+phone+"/"); len(keys) != 1 || keys[0] != "device/"+phone+"/devinf" {
		t.Errorf("state after reset: %v", keys)
	}
	if slot := s.slot(t, phone); slot == nil || slot.Number != 1 || slot.Databases != nil || slot.Model != "E71" {
		t.Errorf("slot after reset: %+v", slot)
	}
	s.contactStays(t)

	// remove: the slot and all state go, the items stay, the number is free.
	code, out, errs = devices("remove", "-device", phone, "-yes")
	if code != 0 || !strings.Contains(out, "slot 1 freed") || !strings.Contains(out, "items in the mailbox stay") {
		t.Fatalf("remove: %d\n%s\n%s", code, out, errs)
	}
	if s.slot(t, phone) != nil {
		t.Error("the slot is still there")
	}
	if keys := s.stateKeys(t, "device/"+phone+"/"); len(keys) != 0 {
		t.Errorf("state after remove: %v", keys)
	}
	s.contactStays(t)
	if _, out, _ = devices("list"); !strings.Contains(out, "1 of 4 slots used") || strings.Contains(out, phone) {
		t.Errorf("list after remove:\n%s", out)
	}
	newcomer, err := plugin.AdminDevices(s.config(t, cfg), s.open(t)).Claim(context.Background(), "IMEI:777")
	if err != nil || newcomer.Number != 1 {
		t.Errorf("new device after remove: %+v, %v; want slot 1", newcomer, err)
	}
	if code, _, errs = devices("remove", "-device", phone, "-yes"); code != 2 || !strings.Contains(errs, "no such device") {
		t.Errorf("second remove: %d %q", code, errs)
	}
}

// TestDevicesCredentials: the master user, a wrong password, and no
// password at all.
func TestDevicesCredentials(t *testing.T) {
	s := setupDevices(t)

	t.Setenv("SYNCML_IMAP_PASSWORD", "")
	code, out, errs := runCmd("devices", "list", "-config", s.masterCfg, "-user", devUser)
	if code != 0 || !strings.Contains(out, "2 of 4 slots used") {
		t.Errorf("master user: %d\n%s\n%s", code, out, errs)
	}
	// The master user may also change things.
	if code, _, errs = runCmd("devices", "set", "-config", s.masterCfg, "-user", devUser, "-device", tablet, "tasks_open_only=true"); code != 0 {
		t.Errorf("set as master: %d %q", code, errs)
	}
	if ov := s.slot(t, tablet).Overrides; ov["tasks_open_only"] != "true" {
		t.Errorf("overrides after set as master: %v", ov)
	}

	badMaster := writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\nmaster_user = \"admin\"\nmaster_password = \"not-the-master-pw\"\n", s.srv.Addr))
	code, out, errs = runCmd("devices", "list", "-config", badMaster, "-user", devUser)
	if code != 1 || !strings.Contains(errs, "login failed for "+devUser+" through master user admin") || strings.Contains(out+errs, "not-the-master-pw") {
		t.Errorf("wrong master password: %d %q %q", code, out, errs)
	}

	// SYNCML_IMAP_PASSWORD wins over the master user.
	t.Setenv("SYNCML_IMAP_PASSWORD", "wrong-secret-42")
	for _, cfg := range []string{s.plainCfg, s.masterCfg} {
		code, out, errs = runCmd("devices", "list", "-config", cfg, "-user", devUser)
		if code != 1 || !strings.Contains(errs, "login failed for "+devUser+": wrong password") || strings.Contains(out+errs, "wrong-secret-42") {
			t.Errorf("wrong password: %d %q %q", code, out, errs)
		}
	}
}

// fakeConsole is a terminal that answers with what the test says.
type fakeConsole struct {
	tty      bool
	password string
	answer   string
	asked    []string
}

func (c *fakeConsole) interactive() bool { return c.tty }

func (c *fakeConsole) readPassword(_ context.Context, prompt string) (string, error) {
	c.asked = append(c.asked, prompt)
	return c.password, nil
}

func (c *fakeConsole) confirm(_ context.Context, q string) (bool, error) {
	c.asked = append(c.asked, q)
	return c.answer == "y", nil
}

func runDevicesWith(con console, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runDevices(context.Background(), args, &out, &errb, con)
	return code, out.String(), errb.String()
}

// TestDevicesTerminal: the password prompt and the y/N question on a
// terminal, and what happens without one.
func TestDevicesTerminal(t *testing.T) {
	s := setupDevices(t)
	t.Setenv("SYNCML_IMAP_PASSWORD", "")
	base := []string{"-config", s.plainCfg, "-user", devUser}

	con := &fakeConsole{tty: true, password: devPassword, answer: "n"}
	code, out, errs := runDevicesWith(con, append([]string{"remove", "-device", tablet}, base...)...)
	if code != 0 || !strings.Contains(out, "nothing changed") || len(con.asked) != 2 ||
		!strings.Contains(con.asked[0], "password of "+devUser) || !strings.Contains(con.asked[1], "[y/N]") {
		t.Errorf("remove answered no: %d %q %q, asked %q", code, out, errs, con.asked)
	}
	if s.slot(t, tablet) == nil {
		t.Fatal("the slot went although the answer was no")
	}
	con = &fakeConsole{tty: true, password: devPassword, answer: "y"}
	if code, out, errs = runDevicesWith(con, append([]string{"remove", "-device", tablet}, base...)...); code != 0 || !strings.Contains(out, "freed") {
		t.Errorf("remove answered yes: %d %q %q", code, out, errs)
	}
	if s.slot(t, tablet) != nil {
		t.Error("the slot stayed although the answer was yes")
	}

	// No terminal: no question, no prompt.
	con = &fakeConsole{}
	code, out, errs = runDevicesWith(con, append([]string{"reset", "-device", phone}, base...)...)
	if code != 2 || !strings.Contains(errs, "add -yes") || len(con.asked) != 0 {
		t.Errorf("reset without terminal and -yes: %d %q %q", code, out, errs)
	}
	code, _, errs = runDevicesWith(con, append([]string{"list"}, base...)...)
	if code != 2 || !strings.Contains(errs, "no password") || !strings.Contains(errs, "SYNCML_IMAP_PASSWORD") || len(con.asked) != 0 {
		t.Errorf("list without password or terminal: %d %q", code, errs)
	}
	// An empty answer to the prompt is no password either.
	con = &fakeConsole{tty: true}
	if code, _, errs = runDevicesWith(con, append([]string{"list"}, base...)...); code != 2 || !strings.Contains(errs, "no password") {
		t.Errorf("empty password at the prompt: %d %q", code, errs)
	}
	// With the master user configured nothing is asked.
	con = &fakeConsole{tty: true}
	if code, _, errs = runDevicesWith(con, "list", "-config", s.masterCfg, "-user", devUser); code != 0 || len(con.asked) != 0 {
		t.Errorf("master user on a terminal: %d %q, asked %q", code, errs, con.asked)
	}
}

// TestDevicesUsage: mistakes in the command line are exit 2 and found
// before any login (the IMAP server here does not exist).
func TestDevicesUsage(t *testing.T) {
	down := writeConfig(t, "[imap]\naddress = \"127.0.0.1:1\"\ndial_timeout = \"2s\"\n")
	t.Setenv("SYNCML_IMAP_PASSWORD", "pw")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"devices"}, "Usage:"},
		{[]string{"devices", "frob"}, `unknown subcommand "frob"`},
		{[]string{"devices", "list", "-config", down}, "-user is required"},
		{[]string{"devices", "show", "-config", down, "-user", "u"}, "-device is required"},
		{[]string{"devices", "set", "-config", down, "-user", "u", "-device", "1"}, "at least one key=value"},
		{[]string{"devices", "list", "-config", down, "-user", "u", "extra"}, `unexpected argument "extra"`},
		{[]string{"devices", "list", "-config", down, "-user", "u", "-yes"}, "flag provided but not defined: -yes"},
		{[]string{"devices", "set", "-config", down, "-user", "u", "-device", "1", "direction=sideways"}, `policy direction: invalid value "sideways"`},
		{[]string{"devices", "set", "-config", down, "-user", "u", "-device", "1", "time_zone=Mars/Base"}, "policy time_zone: unknown time zone"},
		{[]string{"devices", "set", "-config", down, "-user", "u", "-device", "1", "conflict=merge", "conflict=duplicate"}, "policy conflict: given twice"},
		{[]string{"devices", "set", "-config", down, "-user", "u", "-device", "1", "bogus="}, "policy bogus: unknown key"},
	} {
		code, _, errs := runCmd(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: %d %q, want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	// The IMAP server down is a runtime error.
	code, _, errs := runCmd("devices", "list", "-config", down, "-user", "u")
	if code != 1 || !strings.Contains(errs, "127.0.0.1:1") || strings.Contains(errs, "pw\"") {
		t.Errorf("IMAP down: %d %q", code, errs)
	}
	if code, out, _ := runCmd("devices", "help"); code != 0 || !strings.Contains(out, "devices reset") {
		t.Errorf("devices help: %d %q", code, out)
	}
}

// TestDevicesLockout: a device locked out by wrong passwords in a
// running daemon shows as locked in "devices list" and "show", with its
// last failed sync; "devices unlock" lifts the lockout and the device
// logs in at once. Against Dovecot and the daemon's HTTP handler in this
// process.
func TestDevicesLockout(t *testing.T) {
	s := setupDevices(t)
	ctx := context.Background()
	// The daemon knows the master user, as "unlock as master" needs.
	cfg := s.config(t, s.masterCfg)
	h, err := plugin.NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Server.Close()
	ts := httptest.NewServer(serveMux(cfg, h, slog.New(slog.DiscardHandler)))
	defer ts.Close()
	server := ts.URL + cfg.HTTP.Path

	// The phone has a stale password. The logins go through the daemon's
	// own (throttled) authenticator to Dovecot, as the engine's do, naming
	// the device and the address they come from.
	phoneLogin := func(password string) error {
		st, err := h.Admin.Auth.Login(pim.WithDevice(plugin.WithRemoteAddr(ctx, "192.0.2.7:4711"), phone), devUser, password)
		if err == nil {
			st.Close()
		}
		return err
	}
	for i := 0; i < 5; i++ {
		if err := phoneLogin("stale"); !errors.Is(err, pim.ErrAuthFailed) {
			t.Fatalf("stale password %d: %v", i, err)
		}
	}
	if err := phoneLogin(devPassword); !errors.Is(err, pim.ErrAuthFailed) {
		t.Fatalf("phone not locked out: %v", err)
	}
	// The tablet's last sync failed (it never synced well); the phone's
	// error is older than its last good sync, so it is not shown.
	st := s.open(t)
	failedAt := time.Date(2026, 3, 15, 8, 0, 0, 0, time.UTC)
	for id, rec := range map[string]string{
		tablet: fmt.Sprintf(`{"time":%q,"result":"failed","error":"the IMAP server did not answer"}`, failedAt.Format(time.RFC3339)),
		phone:  fmt.Sprintf(`{"time":%q,"result":"failed","error":"old trouble"}`, s.lastSync.Add(-time.Hour).Format(time.RFC3339)),
	} {
		if err := st.SaveState(ctx, "device/"+id+"/last-error", []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}

	t.Setenv("SYNCML_IMAP_PASSWORD", devPassword)
	base := []string{"-config", s.plainCfg, "-user", devUser, "-server", server}
	devices := func(sub string, args ...string) (int, string, string) {
		return runCmd(append(append([]string{"devices", sub}, base...), args...)...)
	}
	code, out, errs := devices("list")
	if code != 0 {
		t.Fatalf("list: %d\n%s%s", code, out, errs)
	}
	mustContain(t, "list", out, "2 of 4 slots used",
		"slot 1 "+phone+": locked until ", "(5 failed logins from 192.0.2.7); unlock: syncml-imap devices unlock -config "+s.plainCfg+" -user "+devUser+" -device "+phone,
		"last failed login: ", "slot 2 "+tablet+": last sync failed "+failedAt.Local().Format("2006-01-02 15:04")+" (failed): the IMAP server did not answer")
	if strings.Contains(out, "old trouble") || strings.Contains(out, "slot 2 "+tablet+": locked") {
		t.Errorf("list shows what it should not:\n%s", out)
	}

	code, out, _ = devices("list", "-json")
	var listed struct {
		Slots []struct {
			DeviceID  string           `json:"device_id"`
			Lockout   *plugin.Lockout  `json:"lockout"`
			LastError *json.RawMessage `json:"last_error"`
		} `json:"slots"`
		Lockouts []plugin.Lockout `json:"lockouts"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil || len(listed.Slots) != 2 ||
		listed.Slots[0].Lockout == nil || listed.Slots[0].Lockout.Failures != 5 || listed.Slots[0].Lockout.LockedUntil.IsZero() ||
		listed.Slots[1].Lockout != nil || listed.Slots[1].LastError == nil || len(listed.Lockouts) != 3 {
		t.Errorf("list -json: %d\n%s", code, out)
	}

	if code, out, errs = devices("show", "-device", "1"); code != 0 {
		t.Fatalf("show: %d %s", code, errs)
	}
	mustContain(t, "show", out, "  login:            locked until ", "(5 failed logins from 192.0.2.7)")

	// Unlock by slot number: the phone logs in at once.
	code, out, errs = devices("unlock", "-device", "1")
	if code != 0 {
		t.Fatalf("unlock: %d\n%s%s", code, out, errs)
	}
	mustContain(t, "unlock", out, "unlocked device "+phone+" of "+devUser+" (5 failed logins, was locked until ")
	if err := phoneLogin(devPassword); err != nil {
		t.Errorf("phone after unlock: %v", err)
	}
	if code, out, _ = devices("list"); code != 0 || strings.Contains(out, "locked until") {
		t.Errorf("list after unlock: %d\n%s", code, out)
	}
	if code, out, _ = devices("unlock", "-device", phone); code != 0 || !strings.Contains(out, "nothing to unlock") {
		t.Errorf("unlock of an unlocked device: %d\n%s", code, out)
	}

	// The master user unlocks without the user's password.
	for i := 0; i < 5; i++ {
		phoneLogin("stale")
	}
	t.Setenv("SYNCML_IMAP_PASSWORD", "")
	code, out, errs = runCmd("devices", "unlock", "-config", s.masterCfg, "-user", devUser, "-server", server)
	if code != 0 || !strings.Contains(out, "unlocked device "+phone) {
		t.Errorf("unlock as master: %d\n%s%s", code, out, errs)
	}
	// ...as long as the daemon takes the master's credentials.
	t.Setenv("SYNCML_IMAP_PASSWORD", "not-alices")
	if code, _, errs = devices("unlock"); code != 1 || !strings.Contains(errs, "refused the login of "+devUser) {
		t.Errorf("unlock with a wrong password: %d %q", code, errs)
	}

	// No daemon: list still lists, and says why lockouts are missing in
	// one line; unlock fails.
	t.Setenv("SYNCML_IMAP_PASSWORD", devPassword)
	down := []string{"-config", s.plainCfg, "-user", devUser, "-server", "http://" + freeAddr(t) + "/syncml"}
	code, out, errs = runCmd(append([]string{"devices", "list"}, down...)...)
	if code != 0 || !strings.Contains(out, phone) || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "not reachable") {
		t.Errorf("list without a daemon: %d\n%s%q", code, out, errs)
	}
	if code, _, errs = runCmd(append([]string{"devices", "unlock"}, down...)...); code != 1 || !strings.Contains(errs, "not reachable") {
		t.Errorf("unlock without a daemon: %d %q", code, errs)
	}
}

func TestLocalDaemonURL(t *testing.T) {
	for _, c := range []struct {
		listen, cert, want string
	}{
		{"127.0.0.1:8080", "", "http://127.0.0.1:8080/syncml"},
		{":8443", "cert.pem", "https://127.0.0.1:8443/syncml"},
		{"0.0.0.0:80", "", "http://127.0.0.1:80/syncml"},
		{"[::]:8080", "", "http://127.0.0.1:8080/syncml"},
		{"[::1]:8080", "", "http://[::1]:8080/syncml"},
		{"sync.example.org:8080", "", "http://sync.example.org:8080/syncml"},
	} {
		cfg := config.Default()
		cfg.HTTP.Listen, cfg.HTTP.TLSCert = c.listen, c.cert
		if got := localDaemonURL(cfg); got != c.want {
			t.Errorf("listen %q: %q, want %q", c.listen, got, c.want)
		}
	}
}

// TestDevicesShowBySlotNumber: "show -device 2" prints what "show -device
// ID" prints for a device whose sync times live in its database records
// (as a sync leaves them, not in the slot) and whose last error is older
// than its last sync.
func TestDevicesShowBySlotNumber(t *testing.T) {
	s := setupDevices(t)
	ctx := context.Background()
	st := s.open(t)
	synced := time.Date(2026, 3, 16, 7, 30, 0, 0, time.UTC)
	failed := synced.Add(-24 * time.Hour)
	for key, rec := range map[string]string{
		"contacts":   fmt.Sprintf(`{"Synced":%q}`, synced.Format(time.RFC3339)),
		"last-error": fmt.Sprintf(`{"time":%q,"result":"failed","error":"the IMAP server did not answer"}`, failed.Format(time.RFC3339)),
	} {
		if err := st.SaveState(ctx, pim.DeviceKey(tablet, key), []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("SYNCML_IMAP_PASSWORD", devPassword)
	down := "http://" + freeAddr(t) + "/syncml"
	show := func(ref string) string {
		t.Helper()
		code, out, errs := runCmd("devices", "show", "-config", s.plainCfg, "-user", devUser, "-device", ref, "-server", down)
		if code != 0 {
			t.Fatalf("show -device %s: %d\n%s%s", ref, code, out, errs)
		}
		return out
	}
	byID, byNumber := show(tablet), show("2")
	mustContain(t, "show by ID", byID, "device "+tablet+" (slot 2 of 4)",
		"  last sync:        "+synced.Local().Format("2006-01-02 15:04:05 -0700"),
		"  contacts  last sync "+synced.Local().Format("2006-01-02 15:04:05"))
	if strings.Contains(byID, "last error") {
		t.Errorf("show by ID shows an error older than the last sync:\n%s", byID)
	}
	if byNumber != byID {
		t.Errorf("show -device 2 differs from show -device %s:\n%s\nagainst\n%s", tablet, byNumber, byID)
	}

	// The same in JSON.
	_, j1, _ := runCmd("devices", "show", "-config", s.plainCfg, "-user", devUser, "-device", tablet, "-server", down, "-json")
	_, j2, _ := runCmd("devices", "show", "-config", s.plainCfg, "-user", devUser, "-device", "2", "-server", down, "-json")
	if j1 != j2 || !strings.Contains(j1, `"last_sync"`) {
		t.Errorf("show -json by number differs:\n%s\nagainst\n%s", j2, j1)
	}
}

// TestReadOnlyCommands: devices list and show and export on an account
// that never synced create none of the store's folders.
func TestReadOnlyCommands(t *testing.T) {
	s := setupDevices(t)
	const fresh = "dora@example.org"
	s.srv.AddUser(t, fresh, "dora-pw")
	t.Setenv("SYNCML_IMAP_PASSWORD", "")
	down := "http://" + freeAddr(t) + "/syncml"
	if code, out, errs := runCmd("devices", "list", "-config", s.masterCfg, "-user", fresh, "-server", down); code != 0 || !strings.Contains(out, "0 of 4 slots used") {
		t.Errorf("list: %d\n%s%s", code, out, errs)
	}
	if code, _, errs := runCmd("devices", "show", "-config", s.masterCfg, "-user", fresh, "-device", "1", "-server", down); code != 2 || !strings.Contains(errs, "no such device") {
		t.Errorf("show: %d %s", code, errs)
	}
	for _, db := range []string{"contacts", "calendar", "tasks"} {
		code, out, errs := runCmd("export", "-config", s.masterCfg, "-user", fresh, "-db", db, "-o", "-")
		if code != 0 || strings.Contains(out, "BEGIN:V") && strings.Contains(out, "FN:") {
			t.Errorf("export %s: %d\n%s%s", db, code, out, errs)
		}
	}
	if list := s.srv.Doveadm(t, "mailbox", "list", "-u", fresh); strings.TrimSpace(list) != "INBOX" {
		t.Errorf("folders after list, show and export:\n%s", list)
	}
}

// TestDevicesListAll: "devices list -all" goes over the accounts of
// -user, of [admin] users_file and those the running daemon saw log in,
// each once; an account that cannot be opened gets its error and the
// others are listed; without the daemon a note says who is left out.
func TestDevicesListAll(t *testing.T) {
	s := setupDevices(t)
	ctx := context.Background()
	for _, u := range []string{"bob@example.org", "carol@example.org", "dave@example.org"} {
		s.srv.AddUser(t, u, u+"-pw")
	}
	usersFile := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(usersFile, []byte("# doveadm user '*'\ncarol@example.org\n\nAlice@Example.org  # again\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\nmaster_user = \"admin\"\nmaster_password = \"master-pw\"\nmaster_separator = \"*\"\n[admin]\nusers_file = %q\n", s.srv.Addr, usersFile))

	// The daemon has seen alice and dave log in, and alice's phone is
	// locked out.
	cfg := s.config(t, cfgPath)
	h, err := plugin.NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Server.Close()
	ts := httptest.NewServer(serveMux(cfg, h, slog.New(slog.DiscardHandler)))
	defer ts.Close()
	server := ts.URL + cfg.HTTP.Path
	for user, pw := range map[string]string{devUser: devPassword, "dave@example.org": "dave@example.org-pw"} {
		st, err := h.Admin.Auth.Login(ctx, user, pw)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	for i := 0; i < 5; i++ {
		h.Admin.Auth.Login(pim.WithDevice(plugin.WithRemoteAddr(ctx, "192.0.2.7:4711"), phone), devUser, "stale")
	}

	t.Setenv("SYNCML_IMAP_PASSWORD", "")
	args := []string{"devices", "list", "-all", "-config", cfgPath, "-user", "bob@example.org,ghost@example.org", "-server", server}
	code, out, errs := runCmd(args...)
	if code != 1 {
		t.Errorf("list -all with an account that does not open: %d, want 1\n%s%s", code, out, errs)
	}
	mustContain(t, "list -all", out, "bob@example.org: 0 of 4 slots used", "carol@example.org: 0 of 4 slots used",
		"dave@example.org: 0 of 4 slots used", "ghost@example.org: FAILED: plugin: login failed for ghost@example.org through master user admin",
		"2 of 4 slots used", "Nokia E71", "slot 1 "+phone+": locked until ")
	if n := strings.Count(strings.ToLower(out), devUser+": 2 of 4 slots used"); n != 1 {
		t.Errorf("alice listed %d times:\n%s", n, out)
	}
	if i, j := strings.Index(out, "bob@"), strings.Index(out, "carol@"); i < 0 || j < i || !strings.Contains(out[:i], "slots used") {
		t.Errorf("blocks not sorted by user:\n%s", out)
	}
	if errs != "" {
		t.Errorf("stderr: %q", errs)
	}

	code, out, _ = runCmd(append(args, "-json")...)
	var accounts []struct {
		User    string `json:"user"`
		Devices []struct {
			DeviceID string           `json:"device_id"`
			Lockout  *json.RawMessage `json:"lockout"`
		} `json:"devices"`
		Error string `json:"error"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &accounts) != nil || len(accounts) != 5 {
		t.Fatalf("list -all -json: %d\n%s", code, out)
	}
	for i, want := range []string{devUser, "bob@example.org", "carol@example.org", "dave@example.org", "ghost@example.org"} {
		a := accounts[i]
		if !strings.EqualFold(a.User, want) || (a.Error != "") != (want == "ghost@example.org") || a.Devices == nil {
			t.Errorf("account %d: %+v, want %s", i, a, want)
		}
	}
	if d := accounts[0].Devices; len(d) != 2 || d[0].DeviceID != phone || d[0].Lockout == nil {
		t.Errorf("alice's devices: %+v", d)
	}

	// No daemon: a note, and dave (known only to it) is left out.
	down := []string{"devices", "list", "-all", "-config", cfgPath, "-user", "bob@example.org", "-server", "http://" + freeAddr(t) + "/syncml"}
	code, out, errs = runCmd(down...)
	if code != 0 || strings.Contains(out, "dave@") || !strings.Contains(out, "carol@example.org: 0 of 4") ||
		strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "the accounts the daemon saw log in are left out") {
		t.Errorf("list -all without the daemon: %d\n%s%q", code, out, errs)
	}

	// -all needs the master user; -user names one user without it.
	code, _, errs = runCmd("devices", "list", "-all", "-config", s.plainCfg, "-user", devUser)
	if code != 2 || !strings.Contains(errs, "master_user") {
		t.Errorf("list -all without a master user: %d %q", code, errs)
	}
	code, _, errs = runCmd("devices", "list", "-config", s.masterCfg, "-user", devUser, "-user", "bob@example.org")
	if code != 2 || !strings.Contains(errs, "-all lists the devices of several") {
		t.Errorf("list of two users without -all: %d %q", code, errs)
	}
}
