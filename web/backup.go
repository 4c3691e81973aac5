package web

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	"syncml-imap/backup"
	"syncml-imap/pim"
)

// maxImportBytes bounds an imported file (and the multipart form it
// comes in).
const maxImportBytes = 32 << 20

// downloads are the backup files a person can download: name → database
// and format.
var downloads = map[string]struct {
	db     pim.Kind
	format backup.Format
}{
	"contacts.vcf":    {pim.Contacts, backup.FormatVCard30},
	"contacts-21.vcf": {pim.Contacts, backup.FormatVCard21},
	"calendar.ics":    {pim.Calendar, backup.FormatICal20},
	"calendar.vcs":    {pim.Calendar, backup.FormatVCal10},
	"tasks.ics":       {pim.Tasks, backup.FormatICal20},
	"tasks.vcs":       {pim.Tasks, backup.FormatVCal10},
}

func (h *Handler) backupPage(w http.ResponseWriter, r *http.Request, s *session) {
	st, ok := h.open(w, r, s)
	if !ok {
		return
	}
	defer st.Close()
	devs := h.Devices(st)
	slots, err := devs.List(r.Context())
	if err != nil {
		h.storeError(w, r, s, err)
		return
	}
	// The automatic copies made before devices' first syncs.
	var copies []string
	for _, sl := range slots {
		for _, db := range pim.Kinds {
			if label, err := st.LoadState(r.Context(), pim.ReplicaKey(sl.DeviceID, db)+"/snapshot"); err == nil && label != nil {
				copies = append(copies, fmt.Sprintf("%s/%s/%s (before the first sync of %s)", h.Setup.BackupFolder, label, h.folderName(db), deviceName(sl)))
			}
		}
	}
	h.render(w, r, s, http.StatusOK, "backup", "Backup", struct{ Copies []string }{copies})
}

// download sends a backup file of one database, made in a temporary file
// first, so that a failure midway is an error page, not a cut file.
func (h *Handler) download(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("file")
	d, ok := downloads[name]
	if !ok {
		h.notFound(w, r)
		return
	}
	st, ok := h.open(w, r, s)
	if !ok {
		return
	}
	defer st.Close()
	tmp, err := os.CreateTemp("", "syncml-imap-export-*")
	if err != nil {
		h.storeError(w, r, s, err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	data, err := backup.Export(r.Context(), st, d.db, tmp, &backup.ExportOptions{Format: d.format})
	if err != nil {
		h.storeError(w, r, s, err)
		return
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		h.storeError(w, r, s, err)
		return
	}
	typ := "text/vcard"
	switch d.format {
	case backup.FormatICal20:
		typ = "text/calendar"
	case backup.FormatVCal10:
		typ = "text/x-vcalendar"
	}
	file := fmt.Sprintf("%s-%s-%s", safeName(s.user), strings.TrimSuffix(name, d.format.Ext()), h.Now().Format("2006-01-02")) + d.format.Ext()
	w.Header().Set("Content-Type", typ+"; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", file))
	w.Header().Set("Content-Length", fmt.Sprint(size))
	h.Logger.Info("web: backup downloaded", "user", s.user, "database", d.db, "format", d.format, "items", data.Count, "left_out", len(data.Problems))
	io.Copy(w, tmp)
}

// safeName keeps the letters, digits and -._ of a user name for a file
// name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// importReport is what the import page shows.
type importReport struct {
	File                           string
	Added                          []string // per database: "3 contacts"
	Unchanged, Differs, Duplicates int
	Bad                            int
	Notes                          []string
	Failed                         string
	Nothing                        bool
}

func (h *Handler) importFile(w http.ResponseWriter, r *http.Request, s *session) {
	f, fh, err := r.FormFile("file")
	if err != nil {
		h.redirect(w, r, s, "backup", "Choose a file to import first.")
		return
	}
	defer f.Close()
	file, err := io.ReadAll(io.LimitReader(f, maxImportBytes+1))
	if err != nil || len(file) > maxImportBytes {
		h.redirect(w, r, s, "backup", fmt.Sprintf("The file could not be read or is larger than %d MiB.", maxImportBytes>>20))
		return
	}
	st, ok := h.open(w, r, s)
	if !ok {
		return
	}
	defer st.Close()
	// Cards go to the contacts; events always to the calendar and to-dos
	// to the tasks, whichever database the import names.
	db := pim.Calendar
	if bytes.Contains(bytes.ToUpper(file[:min(len(file), 4096)]), []byte("BEGIN:VCARD")) {
		db = pim.Contacts
	}
	d, err := backup.Import(r.Context(), st, db, file, nil)
	rep := importReport{File: fh.Filename}
	if d != nil {
		for _, k := range d.DBs() {
			rep.Added = append(rep.Added, backup.Noun(k, d.Count(k, backup.Imported)))
		}
		rep.Unchanged, rep.Differs, rep.Duplicates, rep.Bad = d.Count("", backup.Unchanged), d.Count("", backup.Differs), d.Count("", backup.Duplicate), d.Bad()
		for _, p := range d.Problems {
			rep.Notes = append(rep.Notes, p.Error())
		}
		for _, rec := range d.Records {
			name := fmt.Sprintf("%s %q", backup.Word(rec.DB), rec.Name)
			switch rec.Outcome {
			case backup.Differs:
				rep.Notes = append(rep.Notes, fmt.Sprintf("line %d: %s is in the mailbox already with other content: skipped (an import never replaces)", rec.Line, name))
			case backup.Duplicate:
				rep.Notes = append(rep.Notes, fmt.Sprintf("line %d: %s repeats line %d of the file: skipped", rec.Line, name, rec.Of))
			}
		}
		slices.SortStableFunc(rep.Notes, func(a, b string) int { return strings.Compare(lineKey(a), lineKey(b)) })
		rep.Nothing = len(d.Records) == 0 && d.Bad() == 0
	}
	if err != nil {
		rep.Failed = err.Error()
		if d != nil {
			rep.Failed = fmt.Sprintf("The import stopped after %d of %d items were written: %v", d.Written, d.Count("", backup.Imported), err)
		}
	}
	h.Logger.Info("web: import", "user", s.user, "file", fh.Filename, "added", rep.Added, "bad", rep.Bad, "err", err)
	h.render(w, r, s, http.StatusOK, "imported", "Import", rep)
}

// lineKey orders notes by their line number ("line 12: ...").
func lineKey(note string) string {
	n, _, _ := strings.Cut(strings.TrimPrefix(note, "line "), ":")
	return fmt.Sprintf("%09s", n)
}
