package pim

import (
	"strings"
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
