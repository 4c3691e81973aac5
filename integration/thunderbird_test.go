package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
)

// TestThunderbird runs the real ActiveSync client, Thunderbird 140 with
// TbSync and EAS-4-TbSync, against the daemon on Dovecot
// (integration/thunderbird/run.sh): it syncs the mailbox's contact, event
// and task, adds a contact, an event and a task, changes the contact and
// deletes the event; the mailbox and the SyncEvolution phone then hold
// what Thunderbird did, once, and what Thunderbird cannot hold of the
// contact stays. The add-ons are never part of this repository, so the
// test is skipped without them, under CI too (the script exits 77).
func TestThunderbird(t *testing.T) {
	if _, err := exec.LookPath("thunderbird"); err != nil {
		t.Skip("thunderbird is not installed (integration/thunderbird/run.sh says how)")
	}
	e := newEnv(t)
	acct := e.account()
	ctx := context.Background()
	for kind, data := range map[imapstore.Kind]string{
		imapstore.KindContacts: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Max Server\r\nN:Server;Max;;;\r\nEMAIL;TYPE=INTERNET:max@example.org\r\nX-JABBER:max@jabber.example\r\nEND:VCARD\r\n",
		imapstore.KindCalendar: "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:srv-ev@test\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:20270110T090000Z\r\nDTEND:20270110T100000Z\r\nSUMMARY:Server event\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
		imapstore.KindTasks:    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\nUID:srv-t@test\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:Server task\r\nEND:VTODO\r\nEND:VCALENDAR\r\n",
	} {
		if err := acct.Put(ctx, kind, &imapstore.Item{Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	script, _ := filepath.Abs("thunderbird/run.sh")
	work := t.TempDir()
	cctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, script)
	cmd.Env = append(os.Environ(), "TB_WORK="+work, "EAS_URL="+strings.TrimSuffix(e.url, "/syncml"), "EAS_USER="+e.user,
		"EAS_PASSWORD="+e.pass, "EAS_PROVISION=1", "EAS_VERSION=16.1", "MARIONETTE_PORT=2839")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState != nil && cmd.ProcessState.ExitCode() == 77 {
		t.Skipf("%s", strings.TrimSpace(string(out)))
	}
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	t.Logf("run.sh: %s", lastLines(string(out), 3))
	list := string(out)
	for _, want := range []string{"Max Server", "Server event", "Server task", "Erika"} {
		if !strings.Contains(list, want) {
			t.Errorf("Thunderbird does not list %q", want)
		}
	}
	if strings.Contains(list, `"Test event"`) {
		t.Error("Thunderbird still lists the event it deleted")
	}
	find := func(kind imapstore.Kind, text string) []string {
		var got []string
		for _, d := range e.mailbox(kind) {
			if strings.Contains(string(d), text) {
				got = append(got, string(d))
			}
		}
		return got
	}
	if got := find(imapstore.KindContacts, "FN:Erika Mustermann"); len(got) != 1 || !strings.Contains(got[0], "TITLE:Engineer") {
		t.Errorf("the mailbox's copies of Thunderbird's contact: %q", got)
	}
	if got := find(imapstore.KindContacts, "FN:Max Server"); len(got) != 1 || !strings.Contains(got[0], "X-JABBER:max@jabber.example") {
		t.Errorf("the mailbox's copies of its own contact: %q", got)
	}
	if got := find(imapstore.KindTasks, "SUMMARY:Test task"); len(got) != 1 {
		t.Errorf("the mailbox's copies of Thunderbird's task: %d", len(got))
	}
	if got := find(imapstore.KindCalendar, "SUMMARY:Test event"); len(got) != 0 {
		t.Errorf("the event Thunderbird deleted is in the mailbox: %q", got)
	}
	if got := find(imapstore.KindCalendar, "SUMMARY:Server event"); len(got) != 1 {
		t.Errorf("the mailbox's copies of its own event: %d", len(got))
	}
	// The SyncML phone sees the same.
	phone := e.device(t, "tb-cross-phone", syncevo.Source{Name: "addressbook", URI: "contacts", Format: "text/vcard"})
	mustSync(t, phone, syncevo.Slow)
	var erika int
	for _, d := range phone.Items(t, "addressbook") {
		if strings.Contains(string(d), "Erika") {
			erika++
		}
	}
	if erika != 1 {
		t.Errorf("the phone holds Thunderbird's contact %d times", erika)
	}
}
