package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"syncml-imap/pim"
)

// deviceView is a device as the pages show it.
type deviceView struct {
	Number                                  int
	ID, Name, Protocol                      string
	Manufacturer, Model, Software, DevType  string
	FirstSync, LastSync                     string
	Synced                                  bool
	LastError, LastErrorTime, LastErrorKind string
	Databases                               []databaseView
	Locked                                  *lockView
	Policy                                  []policyLine
	Backups                                 []string
}

type databaseView struct {
	Name, Synced, Mode string
	FromDevice         string
	ToDevice           string
}

type lockView struct {
	Until     string
	Failures  int
	LastError string
}

type policyLine struct {
	Label, Value string
	Own          bool // set for this device, not the server's default
}

// when formats a time for the pages.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2 Jan 2006, 15:04 MST")
}

func counts(c pim.ChangeCounts) string {
	if c.Total() == 0 {
		return "nothing"
	}
	var parts []string
	for _, p := range []struct {
		n    int
		word string
	}{{c.Added, "added"}, {c.Replaced, "changed"}, {c.Deleted, "deleted"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.word))
		}
	}
	return strings.Join(parts, ", ")
}

// deviceName is what a person calls the device: its model, else its ID.
func deviceName(s *pim.Slot) string {
	name := strings.TrimSpace(s.Manufacturer + " " + s.Model)
	if name == "" {
		return s.DeviceID
	}
	return name
}

// resultWords says a session result in plain words.
func resultWords(r pim.Result) string {
	switch r {
	case pim.ResultPartial:
		return "partly failed"
	case pim.ResultFailed:
		return "failed"
	case pim.ResultUnavailable:
		return "the mail server could not be reached"
	case pim.ResultRefused:
		return "refused"
	case pim.ResultExpired:
		return "the device stopped answering"
	}
	return string(r)
}

// view makes the page's view of a slot: its last error and lockout, and
// its policy when withPolicy.
func (h *Handler) view(ctx context.Context, st pim.Store, devs *pim.Devices, user string, s *pim.Slot, withPolicy bool) (*deviceView, error) {
	v := &deviceView{Number: s.Number, ID: s.DeviceID, Name: deviceName(s), Protocol: s.ProtocolName(),
		Manufacturer: s.Manufacturer, Model: s.Model, Software: s.SoftwareVersion, DevType: s.DevType,
		FirstSync: when(s.FirstSync), LastSync: when(s.LastSync), Synced: !s.LastSync.IsZero()}
	le, err := devs.LastError(ctx, s)
	if err != nil {
		return nil, err
	}
	if le != nil {
		v.LastError, v.LastErrorTime, v.LastErrorKind = le.Error, when(le.Time), resultWords(le.Result)
	}
	for _, db := range pim.Kinds {
		t, ok := s.Databases[db]
		if !ok {
			continue
		}
		dv := databaseView{Name: string(db), Synced: when(t)}
		if last, ok := s.Last[db]; ok {
			dv.Mode, dv.FromDevice, dv.ToDevice = last.Mode, counts(last.FromDevice), counts(last.ToDevice)
		}
		v.Databases = append(v.Databases, dv)
		if label, err := st.LoadState(ctx, pim.ReplicaKey(s.DeviceID, db)+"/snapshot"); err == nil && label != nil {
			v.Backups = append(v.Backups, h.Setup.BackupFolder+"/"+string(label)+"/"+h.folderName(db))
		}
	}
	if h.Lockouts != nil {
		for _, l := range h.Lockouts(user) {
			if (l.Device == s.DeviceID || l.Device == "") && l.LockedUntil.After(h.Now()) {
				v.Locked = &lockView{Until: when(l.LockedUntil), Failures: l.Failures, LastError: l.LastError}
			}
		}
	}
	if withPolicy {
		p, err := s.Policy(h.Policy)
		if err != nil {
			return nil, fmt.Errorf("device %s: its stored %w", s.DeviceID, err)
		}
		for _, line := range p.Format() {
			k, val, _ := strings.Cut(line, " = ")
			if val == "" {
				val = "—"
			}
			_, own := s.Overrides[k]
			v.Policy = append(v.Policy, policyLine{Label: policyLabels[k], Value: val, Own: own})
		}
	}
	return v, nil
}

func (h *Handler) folderName(db pim.Kind) string {
	if n := h.Setup.Folders[db]; n != "" {
		return n
	}
	return strings.ToUpper(string(db)[:1]) + string(db)[1:]
}

var policyLabels = map[string]string{
	"direction":                "Direction",
	"contacts_direction":       "Contacts",
	"calendar_direction":       "Calendar",
	"tasks_direction":          "Tasks",
	"conflict":                 "Conflicts",
	"conflict_tie_break":       "A field changed on both sides",
	"contact_categories":       "Only contacts in the categories",
	"contact_folders":          "Contact folders",
	"calendar_past":            "Events in the past",
	"calendar_future":          "Events in the future",
	"tasks_open_only":          "Only open tasks",
	"time_zone":                "Time zone",
	"backup_before_first_sync": "Copy aside before the first sync",
}

func (h *Handler) devicesPage(w http.ResponseWriter, r *http.Request, s *session) {
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
	var views []*deviceView
	for _, sl := range slots {
		v, err := h.view(r.Context(), st, devs, s.user, sl, false)
		if err != nil {
			h.storeError(w, r, s, err)
			return
		}
		views = append(views, v)
	}
	h.render(w, r, s, http.StatusOK, "devices", "Your devices", struct {
		Devices   []*deviceView
		Max, Free int
	}{views, h.MaxDevices, max(h.MaxDevices-len(views), 0)})
}

// deviceHandler serves a page of one device: the {slot} of the path, in
// the signed-in user's mailbox, opened.
type deviceHandler func(w http.ResponseWriter, r *http.Request, s *session, st pim.Store, devs *pim.Devices, sl *pim.Slot)

func (h *Handler) onDevice(next deviceHandler) sessionHandler {
	return func(w http.ResponseWriter, r *http.Request, s *session) {
		st, ok := h.open(w, r, s)
		if !ok {
			return
		}
		defer st.Close()
		devs := h.Devices(st)
		if sl, ok := h.slotOf(w, r, s, devs); ok {
			next(w, r, s, st, devs, sl)
		}
	}
}

// choice is an option of a select.
type choice struct {
	Value, Label string
	Selected     bool
}

func choices(current string, opts ...string) []choice {
	var out []choice
	found := false
	for i := 0; i+1 < len(opts); i += 2 {
		sel := opts[i] == current
		found = found || sel
		out = append(out, choice{opts[i], opts[i+1], sel})
	}
	if !found && current != "" {
		out = append(out, choice{current, current, true})
	}
	return out
}

var directionChoices = []string{
	string(pim.DirTwoWay), "both ways",
	string(pim.DirServerToDevice), "from the mailbox to the device only",
	string(pim.DirDeviceToServer), "from the device to the mailbox only",
	string(pim.DirOff), "not at all",
}

var windowChoices = []string{"0", "no limit", "7d", "1 week", "14d", "2 weeks", "30d", "1 month",
	"90d", "3 months", "180d", "6 months", "365d", "1 year", "730d", "2 years"}

// policyForm is the device page's form: each key's current value and its
// choices.
type policyForm struct {
	Direction                  []choice
	PerDatabase                []dbDirection
	Conflict, TieBreak         []choice
	Categories, Folders        string
	CalendarPast, CalendarNext []choice
	OpenTasks, BackupFirst     bool
	TimeZone                   string
	Defaults                   map[string]string
}

type dbDirection struct {
	Key, Label string
	Choices    []choice
}

func (h *Handler) form(s *pim.Slot) (*policyForm, error) {
	p, err := s.Policy(h.Policy)
	if err != nil {
		return nil, err
	}
	cur := formatted(p)
	dir := cur["direction"]
	f := &policyForm{
		Direction: choices(dir, directionChoices...),
		Conflict: choices(cur["conflict"],
			string(pim.ConflictMerge), "merge them field by field",
			string(pim.ConflictServerWins), "the mailbox's version wins",
			string(pim.ConflictDeviceWins), "the device's version wins",
			string(pim.ConflictNewestWins), "the newer version wins",
			string(pim.ConflictDuplicate), "keep both"),
		TieBreak: choices(cur["conflict_tie_break"],
			string(pim.ConflictServerWins), "the mailbox's value wins",
			string(pim.ConflictDeviceWins), "the device's value wins",
			string(pim.ConflictNewestWins), "the newer value wins"),
		Categories:   cur["contact_categories"],
		Folders:      cur["contact_folders"],
		CalendarPast: choices(cur["calendar_past"], windowChoices...),
		CalendarNext: choices(cur["calendar_future"], windowChoices...),
		OpenTasks:    p.TasksOpenOnly,
		BackupFirst:  p.BackupFirstSync,
		TimeZone:     cur["time_zone"],
		Defaults:     formatted(h.Policy),
	}
	for _, db := range pim.Kinds {
		key := string(db) + "_direction"
		f.PerDatabase = append(f.PerDatabase, dbDirection{key, policyLabels[key], choices(cur[key], directionChoices...)})
	}
	return f, nil
}

// formatted is a policy as key → value (Policy.Format).
func formatted(p pim.Policy) map[string]string {
	m := map[string]string{}
	for _, line := range p.Format() {
		k, v, _ := strings.Cut(line, " = ")
		m[k] = v
	}
	return m
}

func (h *Handler) devicePage(w http.ResponseWriter, r *http.Request, s *session, st pim.Store, devs *pim.Devices, sl *pim.Slot) {
	v, err := h.view(r.Context(), st, devs, s.user, sl, true)
	if err != nil {
		h.storeError(w, r, s, err)
		return
	}
	f, err := h.form(sl)
	if err != nil {
		h.storeError(w, r, s, err)
		return
	}
	h.render(w, r, s, http.StatusOK, "device", v.Name, struct {
		Device *deviceView
		Form   *policyForm
	}{v, f})
}

// savePolicy sets the device's overrides from the form: a value equal
// to the server's default is no override (the device follows the default
// when it changes); a database's direction equal to the device's own is
// none either.
func (h *Handler) savePolicy(w http.ResponseWriter, r *http.Request, s *session, st pim.Store, devs *pim.Devices, sl *pim.Slot) {
	def := formatted(h.Policy)
	kv := map[string]string{}
	for _, k := range pim.PolicyKeys {
		v := strings.TrimSpace(r.PostFormValue(k))
		switch k {
		case "tasks_open_only", "backup_before_first_sync":
			v = fmt.Sprint(v == "on" || v == "true")
		case "contact_categories", "contact_folders":
			v = normalList(v)
		}
		if _, sent := r.PostForm[k]; !sent && k != "tasks_open_only" && k != "backup_before_first_sync" {
			continue // a field the form does not have: unchanged
		}
		if db, ok := strings.CutSuffix(k, "_direction"); ok {
			// What the database would follow without an override of its
			// own: the server's default for it, else the device's
			// direction.
			follows := strings.TrimSpace(r.PostFormValue("direction"))
			if d := h.Policy.Directions[pim.Kind(db)]; d != "" {
				follows = string(d)
			}
			if v == follows {
				v = ""
			}
		} else if v == def[k] {
			v = ""
		}
		kv[k] = v
	}
	if _, _, err := devs.SetPolicy(r.Context(), sl.DeviceID, h.Policy, kv); err != nil {
		h.redirect(w, r, s, fmt.Sprintf("devices/%d", sl.Number), "Not saved: "+err.Error())
		return
	}
	h.Logger.Info("web: device policy changed", "user", s.user, "device", sl.DeviceID)
	msg := "Saved. The device follows it from its next sync."
	if normalList(r.PostFormValue("contact_folders")) != strings.Join(mustPolicy(sl, h.Policy).ContactFolders, ",") {
		msg += " Its contacts come from other folders now, so that sync starts over (a slow sync) and doubles nothing."
	}
	h.redirect(w, r, s, fmt.Sprintf("devices/%d", sl.Number), msg)
}

func mustPolicy(s *pim.Slot, base pim.Policy) pim.Policy {
	p, _ := s.Policy(base)
	return p
}

// normalList is a comma-separated list without blanks.
func normalList(v string) string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// actions a device page can confirm: what it is called and what will
// happen.
var actions = map[string]struct{ Title, Warning, Button string }{
	"reset": {"Reset", "Its next sync starts over: a slow sync, in which the device and the mailbox compare every item. " +
		"Nothing is deleted or doubled, but the sync takes longer. Its settings stay.", "Reset the device"},
	"remove": {"Remove", "The server forgets the device and its settings, and its slot becomes free. " +
		"The items in your mailbox and on the device stay. If the device syncs again it is a new device: its first sync is a slow sync.", "Remove the device"},
}

func (h *Handler) confirmPage(w http.ResponseWriter, r *http.Request, s *session, st pim.Store, devs *pim.Devices, sl *pim.Slot) {
	a, ok := actions[r.PathValue("action")]
	if !ok {
		h.notFound(w, r)
		return
	}
	if r.PathValue("action") == "reset" && sl.ProtocolName() == "ActiveSync" {
		// An ActiveSync client starting over drops its copy and takes the
		// mailbox's; it compares nothing.
		a.Warning = "Its next sync starts over: the device replaces its copy with the items of your mailbox. " +
			"Changes made on the device since its last sync are lost, so let it sync first. Its settings stay."
	}
	h.render(w, r, s, http.StatusOK, "confirm", a.Title+" "+deviceName(sl), struct {
		Number                 int
		Name, Action           string
		Title, Warning, Button string
	}{sl.Number, deviceName(sl), r.PathValue("action"), a.Title, a.Warning, a.Button})
}

func (h *Handler) deviceAction(w http.ResponseWriter, r *http.Request, s *session, st pim.Store, devs *pim.Devices, sl *pim.Slot) {
	action := r.PathValue("action")
	if _, ok := actions[action]; !ok {
		h.notFound(w, r)
		return
	}
	var err error
	if action == "reset" {
		_, err = devs.Reset(r.Context(), sl.DeviceID)
	} else {
		_, err = devs.Remove(r.Context(), sl.DeviceID)
	}
	if err != nil {
		h.storeError(w, r, s, err)
		return
	}
	h.Logger.Info("web: device "+action, "user", s.user, "device", sl.DeviceID)
	if action == "reset" {
		next := "its next sync is a slow sync."
		if sl.ProtocolName() == "ActiveSync" {
			next = "its next sync starts over."
		}
		h.redirect(w, r, s, fmt.Sprintf("devices/%d", sl.Number), deviceName(sl)+" was reset: "+next)
		return
	}
	h.redirect(w, r, s, "devices", deviceName(sl)+" was removed; its slot is free.")
}
