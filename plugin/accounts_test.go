package plugin

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"syncml-imap/config"
	"syncml-imap/internal/dovetest"
)

// TestAccountsSeen: the daemon NewHandler makes counts a user once its
// login to Dovecot succeeds, and hands the same list to the admin page.
func TestAccountsSeen(t *testing.T) {
	srv := dovetest.Start(t, &dovetest.Options{MasterUser: "admin", MasterPassword: "master-pw"})
	srv.AddUser(t, "erin@example.org", "erin-pw")
	cfg, err := config.Parse([]byte(fmt.Sprintf("[imap]\naddress = %q\nmaster_user = \"admin\"\nmaster_password = \"master-pw\"\nmaster_separator = \"*\"\n", srv.Addr)), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := serve(t, cfg)
	ctx := context.Background()
	if _, err := h.Admin.Auth.Login(ctx, "erin@example.org", "wrong"); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if got := h.Admin.Accounts.List(); len(got) != 0 {
		t.Errorf("seen after a refused login: %q", got)
	}
	st, err := h.Admin.Auth.Login(ctx, "erin@example.org", "erin-pw")
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if got := strings.Join(h.Admin.Accounts.List(), " "); got != "erin@example.org" {
		t.Errorf("seen: %q", got)
	}
	if h.Web == nil || h.Web.Admin.Accounts == nil || strings.Join(h.Web.Admin.Accounts(ctx), " ") != "erin@example.org" {
		t.Error("the admin page does not get the accounts seen")
	}
}
