package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"syncml-imap/backup"
	"syncml-imap/config"
	"syncml-imap/internal/dovetest"
	"syncml-imap/internal/vobject"
	"syncml-imap/pim"
	"syncml-imap/plugin"
)

// backupSetup is a Dovecot with a master user (so that every command
// logs in without a password of its own) and the users named.
type backupSetup struct {
	srv *dovetest.Server
	cfg string // master user config
	dir string // for exported files
}

func setupBackup(t *testing.T, users ...string) *backupSetup {
	t.Helper()
	srv := dovetest.Start(t, &dovetest.Options{MasterUser: "admin", MasterPassword: "master-pw"})
	for _, u := range users {
		srv.AddUser(t, u, u+"-pw")
	}
	t.Setenv("SYNCML_IMAP_PASSWORD", "")
	return &backupSetup{
		srv: srv,
		cfg: writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\nmaster_user = \"admin\"\nmaster_password = \"master-pw\"\nmaster_separator = \"*\"\n", srv.Addr)),
		dir: t.TempDir(),
	}
}

func fixture(name string) string { return filepath.Join("..", "..", "backup", "testdata", name) }

// importFile runs "import" and fails the test unless it exits with want.
func (s *backupSetup) importFile(t *testing.T, want int, user, db, file string, extra ...string) string {
	t.Helper()
	args := append([]string{"import", "-config", s.cfg, "-user", user, "-db", db, file}, extra...)
	code, out, errs := runCmd(args...)
	if code != want {
		t.Fatalf("import %s into %s of %s: exit %d, want %d\n%s\n%s", file, db, user, code, want, out, errs)
	}
	return out
}

// export runs "export" and returns the file written.
func (s *backupSetup) export(t *testing.T, user, db string, extra ...string) string {
	t.Helper()
	path := filepath.Join(s.dir, user+"-"+db+strings.Join(extra, ""))
	code, out, errs := runCmd(append([]string{"export", "-config", s.cfg, "-user", user, "-db", db, "-o", path}, extra...)...)
	if code != 0 || !strings.HasPrefix(out, "exported ") || errs != "" {
		t.Fatalf("export %s of %s: exit %d\n%s\n%s", db, user, code, out, errs)
	}
	return path
}

// count is how many items db of user's mailbox holds, read on a fresh
// connection.
func (s *backupSetup) count(t *testing.T, user, db string) int {
	t.Helper()
	cfg, err := config.Load(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := plugin.OpenAccount(context.Background(), cfg, user, "")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ch, err := st.Changes(context.Background(), pim.Kind(db), nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(ch.Added) + len(ch.Modified)
}

// fields reads an exported file into its items, each as its sorted
// unfolded content lines (every property, parameter and value), keyed
// by the UID of its vCard or main component.
func fields(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := backup.Split(data)
	if len(d.Problems) > 0 {
		t.Fatalf("%s: %v", path, d.Problems)
	}
	out := map[string][]string{}
	for _, it := range d.Items {
		var lines []string
		for _, l := range vobject.Lines(it.Data) {
			// PRODID names the program that wrote the file, not the item.
			if l.Name != "PRODID" {
				lines = append(lines, l.Raw)
			}
		}
		slices.Sort(lines)
		uid := ""
		for _, l := range lines {
			if strings.HasPrefix(l, "UID:") {
				uid = l // the first is the vCard's or the main component's (all share it)
				break
			}
		}
		if uid == "" {
			t.Fatalf("%s: item of line %d has no UID", path, it.Line)
		}
		if _, dup := out[uid]; dup {
			t.Fatalf("%s: %s twice", path, uid)
		}
		out[uid] = lines
	}
	return out
}

func sameFields(t *testing.T, what string, a, b map[string][]string) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d items and %d items", what, len(a), len(b))
	}
	for uid, la := range a {
		lb, ok := b[uid]
		if !ok {
			t.Errorf("%s: %s missing from the second export", what, uid)
			continue
		}
		if !slices.Equal(la, lb) {
			t.Errorf("%s: %s differs:\n%s\n---\n%s", what, uid, strings.Join(la, "\n"), strings.Join(lb, "\n"))
		}
	}
}

// TestBackupRoundTrip: exports of Outlook, Thunderbird, Google and Apple
// go into one mailbox; its export goes into a second mailbox, whose
// export has the same items field by field. Importing again imports
// nothing.
func TestBackupRoundTrip(t *testing.T) {
	const alice, bob, carol = "alice@example.org", "bob@example.org", "carol@example.org"
	s := setupBackup(t, alice, bob, carol)

	out := s.importFile(t, 0, alice, "contacts", fixture("google-contacts.vcf"))
	mustContain(t, "google import", out, "imported 5 contacts\n", "skipped: 0 already in the mailbox, 0 duplicates in the file, 0 bad records")
	s.importFile(t, 0, alice, "contacts", fixture("apple-contacts.vcf"))
	s.importFile(t, 0, alice, "contacts", fixture("outlook-contacts.vcf"))
	out = s.importFile(t, 0, alice, "contacts", fixture("mixed.vcf"))
	mustContain(t, "mixed import", out,
		`line 40: contact "Dora Doppel" is a duplicate of line 14, skipped`,
		`line 48: contact "Uwe Eins" has the UID of line 21 (other content; the first is kept), skipped`,
		"imported 7 contacts\n", "2 duplicates in the file")
	out = s.importFile(t, 0, alice, "calendar", fixture("thunderbird.ics"))
	mustContain(t, "thunderbird import", out, "imported 3 events into calendar, 1 task into tasks (events always go to calendar, to-dos to tasks)")
	out = s.importFile(t, 0, alice, "calendar", fixture("google-calendar.ics"))
	mustContain(t, "google calendar import", out, "imported 130 events into calendar\n")
	out = s.importFile(t, 0, alice, "tasks", fixture("outlook.vcs"))
	mustContain(t, "vcs import", out, "imported 2 events into calendar, 1 task into tasks")
	for db, want := range map[string]int{"contacts": 18, "calendar": 135, "tasks": 2} {
		if n := s.count(t, alice, db); n != want {
			t.Errorf("alice has %d in %s, want %d", n, db, want)
		}
	}

	for _, db := range []string{"contacts", "calendar", "tasks"} {
		first := s.export(t, alice, db)
		out := s.importFile(t, 0, bob, db, first)
		mustContain(t, "import into bob", out, "skipped: 0 already in the mailbox, 0 duplicates in the file, 0 bad records")
		second := s.export(t, bob, db)
		sameFields(t, db, fields(t, first), fields(t, second))

		// Twice: nothing new.
		out = s.importFile(t, 0, bob, db, first)
		n := s.count(t, alice, db)
		mustContain(t, "second import into bob", out, "imported 0 ", fmt.Sprintf("skipped: %d already in the mailbox (%d unchanged, 0 differ)", n, n))
		if m := s.count(t, bob, db); m != n {
			t.Errorf("%s: bob has %d after importing twice, alice %d", db, m, n)
		}
	}

	// What bob has now says what the original files say: a dry run of
	// each finds every record unchanged (so no field was lost on the way
	// through two exports, which comparing the exports alone would miss).
	for _, tc := range []struct{ file, db, want string }{
		{"google-contacts.vcf", "contacts", "5 already in the mailbox (5 unchanged, 0 differ)"},
		{"apple-contacts.vcf", "contacts", "3 already in the mailbox (3 unchanged, 0 differ)"},
		{"outlook-contacts.vcf", "contacts", "3 already in the mailbox (3 unchanged, 0 differ)"},
		{"mixed.vcf", "contacts", "7 already in the mailbox (7 unchanged, 0 differ), 2 duplicates"},
		{"thunderbird.ics", "calendar", "4 already in the mailbox (4 unchanged, 0 differ)"},
		{"google-calendar.ics", "calendar", "130 already in the mailbox (130 unchanged, 0 differ)"},
		{"outlook.vcs", "calendar", "3 already in the mailbox (3 unchanged, 0 differ)"},
	} {
		out := s.importFile(t, 0, bob, tc.db, fixture(tc.file), "-dry-run")
		mustContain(t, "dry run of "+tc.file+" into bob", out, "would import 0 ", tc.want)
	}

	// One VCALENDAR with each zone once.
	cal, err := os.ReadFile(filepath.Join(s.dir, alice+"-calendar"))
	if err != nil {
		t.Fatal(err)
	}
	if n, z := strings.Count(string(cal), "BEGIN:VCALENDAR"), strings.Count(string(cal), "TZID:Europe/Berlin\r\n"); n != 1 || z != 1 {
		t.Errorf("calendar export: %d VCALENDARs, %d Berlin zones", n, z)
	}

	// The old formats: vCard 2.1 and vCalendar 1.0 files go into a third
	// mailbox with every item.
	for db, format := range map[string]string{"contacts": "vcard21", "calendar": "vcal10", "tasks": "vcal10"} {
		path := s.export(t, alice, db, "-format", format)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if version := map[string]string{"vcard21": "VERSION:2.1", "vcal10": "VERSION:1.0"}[format]; !strings.Contains(string(data), version) {
			t.Errorf("%s export has no %s", format, version)
		}
		s.importFile(t, 0, carol, db, path)
		if got, want := s.count(t, carol, db), s.count(t, alice, db); got != want {
			t.Errorf("%s via %s: carol has %d, alice %d", db, format, got, want)
		}
	}
}

// TestBackupDryRunAndBroken: a dry run writes nothing; a file with
// broken records imports the rest and names the lines.
func TestBackupDryRunAndBroken(t *testing.T) {
	const dave = "dave@example.org"
	s := setupBackup(t, dave)
	// The password from the environment, as for devices.
	plain := writeConfig(t, fmt.Sprintf("[imap]\naddress = %q\n", s.srv.Addr))
	t.Setenv("SYNCML_IMAP_PASSWORD", dave+"-pw")

	code, out, errs := runCmd("import", "-config", plain, "-user", dave, "-db", "contacts", "-dry-run", fixture("google-contacts.vcf"))
	if code != 0 || !strings.HasPrefix(out, "dry run: nothing is written\n") || !strings.Contains(out, "would import 5 contacts") {
		t.Errorf("dry run: %d\n%s\n%s", code, out, errs)
	}
	if n := s.count(t, dave, "contacts"); n != 0 {
		t.Errorf("the dry run wrote %d contacts", n)
	}

	code, out, errs = runCmd("import", "-config", plain, "-user", dave, "-db", "contacts", fixture("broken.vcf"))
	if code != 3 {
		t.Errorf("broken.vcf: exit %d, want 3\n%s\n%s", code, out, errs)
	}
	mustContain(t, "broken.vcf", out,
		"line 6: vCard without END:VCARD, skipped\n",
		"line 16: vCard without BEGIN:VCARD (to line 18), skipped\n",
		"line 19: empty vCard, skipped\n",
		"line 28: vCard without END:VCARD, skipped\n",
		"imported 3 contacts\n", "4 bad records")
	if n := s.count(t, dave, "contacts"); n != 3 {
		t.Errorf("dave has %d contacts, want 3", n)
	}

	// A dry run of the same file again: all there.
	code, out, _ = runCmd("import", "-config", plain, "-user", dave, "-db", "contacts", "-dry-run", fixture("broken.vcf"))
	if code != 3 || !strings.Contains(out, "would import 0 contacts") || !strings.Contains(out, "3 already in the mailbox (3 unchanged, 0 differ)") {
		t.Errorf("dry run again: %d\n%s", code, out)
	}
	s.importFile(t, 3, dave, "calendar", fixture("broken.ics"))
	if n := s.count(t, dave, "calendar"); n != 2 {
		t.Errorf("dave has %d events, want 2", n)
	}

	// Calendar records in a contacts import are named, with the way out.
	code, out, _ = runCmd("import", "-config", plain, "-user", dave, "-db", "contacts", fixture("outlook.vcs"))
	if code != 3 || !strings.Contains(out, "line 6: an event in a contacts import, skipped (import it with -db calendar)") {
		t.Errorf("events into contacts: %d\n%s", code, out)
	}

	// Export to standard output: the data there, the report on stderr.
	code, out, errs = runCmd("export", "-config", plain, "-user", dave, "-db", "contacts", "-o", "-")
	if code != 0 || strings.Count(out, "BEGIN:VCARD") != 3 || !strings.Contains(errs, "exported 3 contacts to standard output (vCard 3.0)") {
		t.Errorf("export to stdout: %d\n%s\n%s", code, out, errs)
	}
	// A new file is made 0600 (TestExportTargets has the other kinds).
	path := filepath.Join(s.dir, "out.ics")
	if code, _, errs = runCmd("export", "-config", plain, "-user", dave, "-db", "calendar", "-o", path); code != 0 {
		t.Fatalf("export: %d %s", code, errs)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode: %v %v", fi.Mode(), err)
	}
	if ls, _ := filepath.Glob(filepath.Join(s.dir, ".*tmp")); len(ls) != 0 {
		t.Errorf("temporary files left: %v", ls)
	}
}

// TestBackupUsage: command line mistakes are exit 2 and found before any
// login (the IMAP server here does not exist).
func TestBackupUsage(t *testing.T) {
	down := writeConfig(t, "[imap]\naddress = \"127.0.0.1:1\"\ndial_timeout = \"2s\"\n")
	t.Setenv("SYNCML_IMAP_PASSWORD", "pw")
	out := filepath.Join(t.TempDir(), "x.vcf")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "-config", down, "-db", "contacts", "-o", out}, "-user is required"},
		{[]string{"export", "-config", down, "-user", "u", "-o", out}, "-db is required"},
		{[]string{"export", "-config", down, "-user", "u", "-db", "notes", "-o", out}, `-db "notes": want contacts, calendar or tasks`},
		{[]string{"export", "-config", down, "-user", "u", "-db", "contacts"}, "-o is required"},
		{[]string{"export", "-config", down, "-user", "u", "-db", "contacts", "-o", out, "-format", "vcal10"}, `format "vcal10" does not fit contacts (vcard30 or vcard21)`},
		{[]string{"export", "-config", down, "-user", "u", "-db", "contacts", "-o", out, "extra"}, `unexpected argument "extra"`},
		{[]string{"import", "-config", down, "-user", "u", "-db", "contacts"}, "give the file to import"},
		{[]string{"import", "-config", down, "-user", "u", "-db", "contacts", "a.vcf", "b.vcf"}, `unexpected argument "b.vcf"`},
		{[]string{"import", "-config", down, "-user", "u", "-db", "contacts", "-format", "vcard21", "a.vcf"}, "flag provided but not defined: -format"},
	} {
		code, _, errs := runCmd(tc.args...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("%q: %d %q, want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
	// A missing file is found before the login.
	code, _, errs := runCmd("import", "-config", down, "-user", "u", "-db", "contacts", filepath.Join(t.TempDir(), "missing.vcf"))
	if code != 1 || !strings.Contains(errs, "missing.vcf") || strings.Contains(errs, "127.0.0.1:1") {
		t.Errorf("missing file: %d %q", code, errs)
	}
	// The IMAP server down is a runtime error, and no file is left.
	code, _, errs = runCmd("export", "-config", down, "-user", "u", "-db", "contacts", "-o", out)
	if code != 1 || !strings.Contains(errs, "127.0.0.1:1") {
		t.Errorf("IMAP down: %d %q", code, errs)
	}
	if ls, _ := os.ReadDir(filepath.Dir(out)); len(ls) != 0 {
		t.Errorf("files left after a failed export: %v", ls)
	}
	if code, out, _ := runCmd("import", "help"); code != 0 || !strings.Contains(out, "-dry-run reads and compares") {
		t.Errorf("import help: %d %q", code, out)
	}
}

// TestExportTargets: "export -o" writes to what it names as a shell's
// redirection would, and replaces a regular file only when complete:
// /dev/null and a named pipe are written to, not replaced; a symbolic
// link stays one and its target gets the export; an existing file keeps
// its mode and (as root) its owner; a failed export leaves the old file
// as it was, with no temporary file beside it.
func TestExportTargets(t *testing.T) {
	const erin = "erin@example.org"
	s := setupBackup(t, erin)
	s.importFile(t, 0, erin, "contacts", fixture("google-contacts.vcf"))
	down := writeConfig(t, "[imap]\naddress = \"127.0.0.1:1\"\ndial_timeout = \"2s\"\n")

	export := func(t *testing.T, path string) {
		t.Helper()
		code, out, errs := runCmd("export", "-config", s.cfg, "-user", erin, "-db", "contacts", "-o", path)
		if code != 0 || out != "exported 5 contacts to "+path+" (vCard 3.0)\n" || errs != "" {
			t.Fatalf("export to %s: exit %d\n%s\n%s", path, code, out, errs)
		}
	}
	isExport := func(t *testing.T, what string, data []byte) {
		t.Helper()
		if n := strings.Count(string(data), "BEGIN:VCARD"); n != 5 || !strings.Contains(string(data), "FN:Anna Schmidt") {
			t.Errorf("%s: %d vCards, want the 5 of the mailbox:\n%s", what, n, data)
		}
	}
	noTemp := func(t *testing.T, dir string) {
		t.Helper()
		if ls, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(ls) != 0 {
			t.Errorf("temporary files left in %s: %v", dir, ls)
		}
	}
	// file makes a regular file with content old, mode and, when the
	// test may (root), the owner nobody.
	asRoot := os.Geteuid() == 0
	file := func(t *testing.T, path string, mode fs.FileMode) {
		t.Helper()
		if err := os.WriteFile(path, []byte("old"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		if asRoot {
			if err := os.Chown(path, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
	}
	sameFile := func(t *testing.T, path string, mode fs.FileMode) {
		t.Helper()
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want a regular file of %v", path, fi.Mode(), mode)
		}
		if uid, gid, ok := fileOwner(fi); asRoot && (!ok || uid != 65534 || gid != 65534) {
			t.Errorf("%s: owner %d:%d, want 65534:65534 as before", path, uid, gid)
		}
	}
	// writtenAsIs fails the test unless an export to path would write to
	// it directly: checked before a real export to /dev/null, so that a
	// broken createOut cannot put a file in place of the system's.
	writtenAsIs := func(t *testing.T, path string) {
		t.Helper()
		o, err := createOut(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer o.abort()
		if o.dev == nil || o.tmp != nil {
			t.Fatalf("an export to %s would not write to it as it is", path)
		}
	}
	read := func(t *testing.T, path string) []byte {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	t.Run("new file", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "new.vcf")
		export(t, path)
		isExport(t, path, read(t, path))
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("new file: %v %v, want mode 0600", fi.Mode(), err)
		}
		noTemp(t, dir)
	})

	t.Run("existing file", func(t *testing.T) {
		dir := t.TempDir()
		for _, mode := range []fs.FileMode{0o600, 0o644, 0o640} {
			path := filepath.Join(dir, fmt.Sprintf("%o.vcf", mode))
			file(t, path, mode)
			export(t, path)
			isExport(t, path, read(t, path))
			sameFile(t, path, mode)
		}
		noTemp(t, dir)
	})

	t.Run("dev null", func(t *testing.T) {
		if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			t.Skip("no /dev/null here")
		}
		writtenAsIs(t, "/dev/null")
		export(t, "/dev/null")
		if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
			t.Fatalf("/dev/null is now %v (%v)", fi.Mode(), err)
		}
		noTemp(t, "/dev")
	})

	t.Run("fifo", func(t *testing.T) {
		mkfifo, err := exec.LookPath("mkfifo")
		if err != nil {
			t.Skip("no mkfifo here")
		}
		dir := t.TempDir()
		fifo := filepath.Join(dir, "pipe")
		if out, err := exec.Command(mkfifo, fifo).CombinedOutput(); err != nil {
			t.Fatalf("mkfifo: %v %s", err, out)
		}
		got := make(chan []byte, 1)
		go func() {
			var data []byte
			if r, err := os.Open(fifo); err == nil { // waits for the writer
				data, _ = io.ReadAll(r)
				r.Close()
			}
			got <- data
		}()
		// Should the export not open the pipe, this writer ends the reader.
		defer func() {
			if w, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
				w.Close()
			}
		}()
		export(t, fifo)
		select {
		case data := <-got:
			isExport(t, "what the pipe's reader got", data)
		case <-time.After(time.Minute): // a hang guard, not a timing check
			t.Fatal("the pipe's reader got no end of file")
		}
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
			t.Errorf("the pipe is now %v (%v)", fi.Mode(), err)
		}
		noTemp(t, dir)
	})

	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "real.vcf")
		file(t, target, 0o640)
		links := map[string]string{ // link -> what it points to
			filepath.Join(dir, "link.vcf"):  "real.vcf", // relative
			filepath.Join(dir, "chain.vcf"): filepath.Join(dir, "link.vcf"),
			filepath.Join(dir, "later.vcf"): "made.vcf", // nothing there yet
			filepath.Join(dir, "null.vcf"):  "/dev/null",
		}
		for link, to := range links {
			if err := os.Symlink(to, link); err != nil {
				t.Skipf("no symbolic links here: %v", err)
			}
		}
		for _, link := range []string{"link.vcf", "chain.vcf"} {
			if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
				t.Fatal(err)
			}
			export(t, filepath.Join(dir, link))
			isExport(t, "the target of "+link, read(t, target))
			sameFile(t, target, 0o640)
		}
		export(t, filepath.Join(dir, "later.vcf"))
		isExport(t, "the new target of later.vcf", read(t, filepath.Join(dir, "made.vcf")))
		if _, err := os.Stat("/dev/null"); err == nil {
			writtenAsIs(t, filepath.Join(dir, "null.vcf"))
			export(t, filepath.Join(dir, "null.vcf"))
			if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
				t.Fatalf("/dev/null is now %v (%v)", fi.Mode(), err)
			}
		}
		for link, to := range links {
			if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("%s is no longer a link: %v %v", link, fi.Mode(), err)
			} else if got, _ := os.Readlink(link); got != to {
				t.Errorf("%s now points to %s, want %s", link, got, to)
			}
		}
		noTemp(t, dir)
	})

	t.Run("failed export", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "old.vcf")
		file(t, path, 0o640)
		link := filepath.Join(dir, "link.vcf")
		if err := os.Symlink("old.vcf", link); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SYNCML_IMAP_PASSWORD", "pw")
		for _, name := range []string{path, link} {
			// The IMAP server down: the temporary file is made, then given up.
			code, _, errs := runCmd("export", "-config", down, "-user", erin, "-db", "contacts", "-o", name)
			if code != 1 || !strings.Contains(errs, "127.0.0.1:1") {
				t.Errorf("export to %s with IMAP down: exit %d %q", name, code, errs)
			}
			if data := read(t, path); string(data) != "old" {
				t.Errorf("a failed export to %s left %q", name, data)
			}
			sameFile(t, path, 0o640)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("the link is no longer one: %v %v", fi.Mode(), err)
		}
		noTemp(t, dir)

		// Given up after part of the export was written.
		o, err := createOut(link, nil)
		if err != nil {
			t.Fatal(err)
		}
		o.w.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\n")
		o.w.Flush()
		if o.tmp == nil {
			t.Fatal("no temporary file for a regular file")
		}
		o.abort()
		if data := read(t, path); string(data) != "old" {
			t.Errorf("an export given up midway left %q", data)
		}
		sameFile(t, path, 0o640)
		noTemp(t, dir)

		// A directory is not written to, nor replaced.
		sub := filepath.Join(dir, "sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if code, _, errs := runCmd("export", "-config", s.cfg, "-user", erin, "-db", "contacts", "-o", sub); code != 1 || !strings.Contains(errs, "is a directory") {
			t.Errorf("export to a directory: exit %d %q", code, errs)
		}
		if fi, err := os.Stat(sub); err != nil || !fi.IsDir() {
			t.Errorf("the directory is now %v (%v)", fi.Mode(), err)
		}
		noTemp(t, dir)
	})

	t.Run("read-only file", func(t *testing.T) {
		if asRoot {
			t.Skip("root may write any file")
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "ro.vcf")
		file(t, path, 0o444)
		code, _, errs := runCmd("export", "-config", s.cfg, "-user", erin, "-db", "contacts", "-o", path)
		if code != 1 || !strings.Contains(errs, "permission denied") {
			t.Errorf("export to a read-only file: exit %d %q", code, errs)
		}
		if data := read(t, path); string(data) != "old" {
			t.Errorf("the read-only file now holds %q", data)
		}
		noTemp(t, dir)
	})
}
