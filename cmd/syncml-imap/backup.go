package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"syncml-imap/backup"
	"syncml-imap/config"
	"syncml-imap/pim"
	"syncml-imap/plugin"
)

const backupUsage = `Usage:
  syncml-imap export -config FILE -user NAME -db DB -o FILE|- [-format FORMAT]
  syncml-imap import -config FILE -user NAME -db DB [-dry-run] FILE|-

  DB is contacts, calendar or tasks.

  export  writes every item of the database to one file:
            contacts        vCard 3.0 (.vcf); -format vcard21: vCard 2.1
            calendar, tasks iCalendar 2.0 (.ics): one VCALENDAR with all
                            events or to-dos and each time zone they use
                            once; -format vcal10: vCalendar 1.0 (.vcs)
          FORMAT is vcard30, vcard21, ical20 or vcal10. -o - writes to
          standard output. A new file gets mode 0600 (less what the umask
          takes away); an existing one is replaced only once the export is
          complete, and keeps its mode and, where the user may give it
          away (root), its owner. A symbolic link is written through (it
          stays a link; its target gets the export); a device or named
          pipe (/dev/null, a FIFO) is written to as it is.
  import  reads a .vcf (vCards 2.1, 3.0, 4.0 mixed), .ics (iCalendar 2.0,
          one or many VCALENDARs) or .vcs (vCalendar 1.0) file, as Outlook,
          Thunderbird, Google, Apple and phones export them; FILE - reads
          standard input. With -db contacts the vCards are taken; with
          -db calendar or -db tasks, events go to calendar and to-dos to
          tasks, whichever of the two is named.
          Skipped, as in a slow sync: a record the mailbox has already (the
          same UID, or the same name / summary and start / summary and due
          date): "unchanged", or "exists (differs)" when its content is
          other (an import never replaces an item); a record that repeats
          an earlier one of the file (the same UID, or the same name and
          content); a broken record, reported with its line number.
          -dry-run reads and compares, but writes nothing.

  Password: as for "devices": with [imap] master_user configured and
  SYNCML_IMAP_PASSWORD unset, the master user logs in on the user's behalf;
  otherwise the password comes from SYNCML_IMAP_PASSWORD, or is asked for
  on the terminal.
  Progress goes to standard error when it is a terminal.
  Exit status: 0 done, 1 runtime error (IMAP server, file, configuration),
  2 usage error, 3 done but records (import) or items (export) were bad
  and left out.
`

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runBackup(ctx, "export", args, stdout, stderr, &ttyConsole{stdin: os.Stdin})
}

func cmdImport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runBackup(ctx, "import", args, stdout, stderr, &ttyConsole{stdin: os.Stdin})
}

// backupCmd is one invocation of "export" or "import".
type backupCmd struct {
	name           string // "export" or "import"
	user, db       string
	out, format    string // export
	file           string // import
	dryRun         bool   // import
	stdout, stderr io.Writer
	progress       io.Writer // nil: no progress
}

func (c *backupCmd) fail(err error) {
	fmt.Fprintf(c.stderr, "%s: %v\n", c.name, err)
}

func runBackup(ctx context.Context, name string, args []string, stdout, stderr io.Writer, con console) int {
	c := &backupCmd{name: name, stdout: stdout, stderr: stderr}
	if len(args) > 0 {
		switch args[0] {
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, backupUsage)
			return 0
		}
	}
	f := newFlags(name, stderr)
	f.fs.Usage = func() { fmt.Fprint(stderr, backupUsage) }
	f.fs.StringVar(&c.user, "user", "", "the user whose mailbox to read or write")
	f.fs.StringVar(&c.db, "db", "", "contacts, calendar or tasks")
	if name == "export" {
		f.fs.StringVar(&c.out, "o", "", "the file to write, - for standard output")
		f.fs.StringVar(&c.format, "format", "", "vcard30, vcard21, ical20 or vcal10")
	} else {
		f.fs.BoolVar(&c.dryRun, "dry-run", false, "read and compare, write nothing")
	}
	// Flags may come before or after the file name.
	rest, code, ok := parseInterleaved(f.fs, args)
	if !ok {
		return code
	}
	if code := c.checkArgs(rest); code != 0 {
		return code
	}
	if w, ok := stderr.(*os.File); ok && isTerminal(w) {
		c.progress = stderr
	}

	// What can fail without the mailbox fails before the login.
	var file []byte
	var out *outFile
	var err error
	if name == "import" {
		if file, err = c.readFile(); err != nil {
			c.fail(err)
			return 1
		}
	} else if out, err = createOut(c.out, stdout); err != nil {
		c.fail(err)
		return 1
	}
	defer out.abort()

	// An export or a dry run only reads: it must not create the folders.
	_, store, code := openAdmin(ctx, f, c.user, name == "export" || c.dryRun, con, stderr, c.fail)
	if store == nil {
		return code
	}
	defer store.Close()
	if name == "export" {
		return c.export(ctx, store, out)
	}
	return c.importFile(ctx, store, file)
}

// checkArgs validates the command line before anything is read.
func (c *backupCmd) checkArgs(rest []string) int {
	var problem string
	switch {
	case c.user == "":
		problem = "-user is required"
	case c.db == "":
		problem = "-db is required (contacts, calendar or tasks)"
	case c.db != "contacts" && c.db != "calendar" && c.db != "tasks":
		problem = fmt.Sprintf("-db %q: want contacts, calendar or tasks", c.db)
	case c.name == "export" && c.out == "":
		problem = "-o is required (a file name, or - for standard output)"
	case c.name == "export" && len(rest) > 0:
		problem = fmt.Sprintf("unexpected argument %q (the file goes with -o)", rest[0])
	case c.name == "import" && len(rest) == 0:
		problem = "give the file to import (or - for standard input)"
	case c.name == "import" && len(rest) > 1:
		problem = fmt.Sprintf("unexpected argument %q: one file at a time", rest[1])
	}
	if problem == "" && c.name == "export" && c.format != "" {
		if err := backup.CheckFormat(pim.Kind(c.db), backup.Format(c.format)); err != nil {
			problem = strings.TrimPrefix(err.Error(), "backup: ")
		}
	}
	if problem != "" {
		fmt.Fprintf(c.stderr, "%s: %s\n\n%s", c.name, problem, backupUsage)
		return 2
	}
	if c.name == "import" {
		c.file = rest[0]
	}
	return 0
}

func (c *backupCmd) readFile() ([]byte, error) {
	if c.file == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(c.file)
}

// openAdmin loads the configuration and opens the user's mailbox for an
// admin command. On failure store is nil and code the exit status: 2 when
// there is no password to log in with, 1 otherwise; fail reports why.
func openAdmin(ctx context.Context, f *commonFlags, user string, readOnly bool, con console, stderr io.Writer, fail func(error)) (*config.Config, pim.Store, int) {
	cfg, err := f.load()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, nil, 1
	}
	store, err := openMailbox(ctx, cfg, user, readOnly, con)
	if err != nil {
		fail(err)
		if errors.Is(err, plugin.ErrNoPassword) {
			return nil, nil, 2
		}
		return nil, nil, 1
	}
	return cfg, store, 0
}

// openMailbox logs in as the devices commands do: SYNCML_IMAP_PASSWORD,
// else the configured master user, else the password asked for on the
// terminal. A readOnly mailbox creates no folder and refuses writes
// (plugin.OpenAccountReadOnly).
func openMailbox(ctx context.Context, cfg *config.Config, user string, readOnly bool, con console) (pim.Store, error) {
	password := os.Getenv("SYNCML_IMAP_PASSWORD")
	if password == "" && cfg.IMAP.MasterUser == "" && con.interactive() {
		var err error
		if password, err = con.readPassword(ctx, "IMAP password of "+user+": "); err != nil {
			return nil, err
		}
	}
	if readOnly {
		return plugin.OpenAccountReadOnly(ctx, cfg, user, password)
	}
	return plugin.OpenAccount(ctx, cfg, user, password)
}

// isTerminal reports whether f is a terminal (stty(1) tells, as for the
// password prompt; /dev/null is a character device too).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	cmd := exec.Command("stty", "-g")
	cmd.Stdin = f
	return cmd.Run() == nil
}

// progressLine shows "what: done/total" on the terminal, one line
// rewritten in place.
type progressLine struct {
	w     io.Writer
	shown bool
}

func (p *progressLine) show(what string, done, total int) {
	if p == nil || p.w == nil {
		return
	}
	fmt.Fprintf(p.w, "\r%s: %d/%d ", what, done, total)
	p.shown = true
}

// end ends the progress line so that what follows starts on its own.
func (p *progressLine) end() {
	if p != nil && p.shown {
		fmt.Fprintln(p.w)
		p.shown = false
	}
}

// outFile is where an export goes: standard output; a device or named
// pipe, written as it is; or a temporary file beside the regular file
// named (symbolic links resolved) that takes its place when complete.
type outFile struct {
	name string   // the file written, links resolved; "" for stdout
	tmp  *os.File // the temporary file that becomes name
	dev  *os.File // name itself, when it is not a regular file
	w    *bufio.Writer
}

func createOut(name string, stdout io.Writer) (*outFile, error) {
	if name == "-" {
		return &outFile{w: bufio.NewWriter(stdout)}, nil
	}
	path, err := resolveLinks(name)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		fi = nil
	case err != nil:
		return nil, fmt.Errorf("create %s: %w", name, err)
	case fi.IsDir():
		return nil, fmt.Errorf("create %s: is a directory", name)
	case !fi.Mode().IsRegular():
		// A rename would put a regular file in place of /dev/null or a
		// pipe a reader waits on.
		dev, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err // names the path
		}
		return &outFile{name: path, dev: dev, w: bufio.NewWriter(dev)}, nil
	default:
		// Only what the user may write is replaced, as a shell's
		// redirection would refuse a read-only file. Opening it changes
		// nothing.
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err // names the path
		}
		f.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	// CreateTemp makes it 0600: address books are personal data. An
	// existing file keeps what its owner chose.
	o := &outFile{name: path, tmp: tmp, w: bufio.NewWriter(tmp)}
	if fi != nil {
		if err := keepOwnerAndMode(tmp, fi); err != nil {
			o.abort()
			return nil, fmt.Errorf("create %s: %w", name, err)
		}
	}
	return o, nil
}

// resolveLinks follows symbolic links from name to the file they end at,
// which need not exist yet (a link to a file still to be made is written
// through too, as a shell's redirection does).
func resolveLinks(name string) (string, error) {
	if path, err := filepath.EvalSymlinks(name); err == nil {
		return path, nil
	}
	path := name
	for range 255 { // Linux's MAXSYMLINKS is 40
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		target, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(path), target)
		}
		path = target
	}
	return "", errors.New("too many levels of symbolic links")
}

// keepOwnerAndMode gives tmp the owner and mode of the file fi it is to
// replace. The owner is given where the system lets us (root may give a
// file to anyone, others a group they are in); the mode always.
func keepOwnerAndMode(tmp *os.File, fi fs.FileInfo) error {
	if uid, gid, ok := fileOwner(fi); ok {
		if tfi, err := tmp.Stat(); err == nil {
			if tuid, tgid, ok := fileOwner(tfi); ok && (tuid != uid || tgid != gid) {
				if tmp.Chown(uid, gid) != nil && tgid != gid {
					tmp.Chown(-1, gid)
				}
			}
		}
	}
	// After the chown, which clears set-user-ID and set-group-ID bits.
	return tmp.Chmod(fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky))
}

// fileOwner reads the user and group ID of a file from fi.Sys(), a
// *syscall.Stat_t on Unix systems. The fields are read by name: that type
// exists on Unix only, and this file builds everywhere.
func fileOwner(fi fs.FileInfo) (uid, gid int, ok bool) {
	v := reflect.ValueOf(fi.Sys())
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return 0, 0, false
	}
	u, g := v.Elem().FieldByName("Uid"), v.Elem().FieldByName("Gid")
	if !u.CanUint() || !g.CanUint() {
		return 0, 0, false
	}
	return int(u.Uint()), int(g.Uint()), true
}

// commit flushes the data and puts the file in place.
func (o *outFile) commit() error {
	if err := o.w.Flush(); err != nil {
		return err
	}
	if o.dev != nil {
		err := o.dev.Close()
		o.dev = nil
		return err
	}
	if o.tmp == nil {
		return nil
	}
	// On disk before it takes the old file's place, so that a crash
	// leaves the old file or the whole new one.
	if err := o.tmp.Sync(); err != nil {
		return err
	}
	if err := o.tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(o.tmp.Name(), o.name); err != nil {
		return err
	}
	o.tmp = nil
	return nil
}

// abort removes the temporary file of an export that did not complete
// (what went to a device or pipe is gone already).
func (o *outFile) abort() {
	if o == nil {
		return
	}
	if o.dev != nil {
		o.dev.Close()
		o.dev = nil
	}
	if o.tmp != nil {
		o.tmp.Close()
		os.Remove(o.tmp.Name())
		o.tmp = nil
	}
}

var formatNames = map[backup.Format]string{
	backup.FormatVCard30: "vCard 3.0", backup.FormatVCard21: "vCard 2.1",
	backup.FormatICal20: "iCalendar 2.0", backup.FormatVCal10: "vCalendar 1.0",
}

func (c *backupCmd) export(ctx context.Context, store backup.Store, out *outFile) int {
	p := &progressLine{w: c.progress}
	opts := &backup.ExportOptions{
		Format:   backup.Format(c.format),
		Progress: func(done, total int) { p.show("reading "+c.db, done, total) },
	}
	d, err := backup.Export(ctx, store, pim.Kind(c.db), out.w, opts)
	p.end()
	if err == nil {
		err = out.commit()
	}
	if err != nil {
		c.fail(err)
		return 1
	}
	// With the data on standard output, the report goes to standard error.
	report, where := c.stdout, c.out
	if c.out == "-" {
		report, where = c.stderr, "standard output"
	}
	for _, pr := range d.Problems {
		fmt.Fprintf(c.stderr, "%s\n", pr)
	}
	fmt.Fprintf(report, "exported %s to %s (%s)", backup.Noun(pim.Kind(c.db), d.Count), where, formatNames[d.Format])
	if len(d.Problems) > 0 {
		fmt.Fprintf(report, "; %d left out", len(d.Problems))
	}
	fmt.Fprintln(report)
	if len(d.Problems) > 0 {
		return 3
	}
	return 0
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func (c *backupCmd) importFile(ctx context.Context, store backup.Store, file []byte) int {
	p := &progressLine{w: c.progress}
	opts := &backup.ImportOptions{
		DryRun:   c.dryRun,
		Progress: func(stage string, done, total int) { p.show(stage, done, total) },
	}
	d, err := backup.Import(ctx, store, pim.Kind(c.db), file, opts)
	p.end()
	if d == nil {
		c.fail(err)
		return 1
	}
	w := c.stdout
	if c.dryRun {
		fmt.Fprintln(w, "dry run: nothing is written")
	}
	// The report in the order of the file: bad records and the skipped
	// ones worth a look (an item the mailbox has already with the same
	// content is only counted).
	type note struct {
		line int
		text string
	}
	var notes []note
	for _, pr := range d.Problems {
		notes = append(notes, note{pr.Line, pr.Error()})
	}
	for _, r := range d.Records {
		name := fmt.Sprintf("%s %q", backup.Word(r.DB), r.Name)
		switch r.Outcome {
		case backup.Differs:
			notes = append(notes, note{r.Line, fmt.Sprintf("line %d: %s exists (differs), skipped", r.Line, name)})
		case backup.Duplicate:
			if r.Same {
				notes = append(notes, note{r.Line, fmt.Sprintf("line %d: %s is a duplicate of line %d, skipped", r.Line, name, r.Of)})
			} else {
				notes = append(notes, note{r.Line, fmt.Sprintf("line %d: %s has the UID of line %d (other content; the first is kept), skipped", r.Line, name, r.Of)})
			}
		}
	}
	slices.SortStableFunc(notes, func(a, b note) int { return a.line - b.line })
	for _, n := range notes {
		fmt.Fprintln(w, n.text)
	}

	verb := "imported"
	if c.dryRun {
		verb = "would import"
	}
	var parts []string
	dbs := d.DBs()
	for _, db := range dbs {
		part := backup.Noun(db, d.Count(db, backup.Imported))
		if db != "contacts" {
			part += " into " + string(db)
		}
		parts = append(parts, part)
	}
	if len(dbs) == 0 {
		parts = []string{"nothing"}
	}
	line := verb + " " + strings.Join(parts, ", ")
	if c.db != "contacts" && slices.ContainsFunc(dbs, func(db pim.Kind) bool { return db != pim.Kind(c.db) }) {
		line += " (events always go to calendar, to-dos to tasks)"
	}
	if err != nil {
		line = fmt.Sprintf("stopped by an error after %s of %d written", plural(d.Written, "record"), d.Count("", backup.Imported))
	}
	fmt.Fprintln(w, line)
	unchanged, differs := d.Count("", backup.Unchanged), d.Count("", backup.Differs)
	existing := fmt.Sprintf("%d already in the mailbox", unchanged+differs)
	if unchanged+differs > 0 {
		existing += fmt.Sprintf(" (%d unchanged, %d differ)", unchanged, differs)
	}
	fmt.Fprintf(w, "skipped: %s, %s in the file, %s\n", existing,
		plural(d.Count("", backup.Duplicate), "duplicate"), plural(d.Bad(), "bad record"))
	if err != nil {
		c.fail(err)
		return 1
	}
	if len(d.Records) == 0 && d.Bad() == 0 {
		c.fail(fmt.Errorf("%s: no vCards, events or to-dos found", c.file))
		return 1
	}
	if d.Bad() > 0 {
		return 3
	}
	return 0
}
