package plugin

import (
	"syncml-imap/config"
	"syncml-imap/pim"
)

// Policy maps the configuration's [sync.defaults] to the engine's policy.
func Policy(p config.Policy) pim.Policy {
	out := pim.Policy{
		Direction:         pim.Direction(p.Direction),
		Directions:        map[pim.Kind]pim.Direction{},
		Conflict:          pim.ConflictRule(p.Conflict),
		TieBreak:          pim.ConflictRule(p.ConflictTieBreak),
		ContactCategories: append([]string(nil), p.ContactCategories...),
		ContactFolders:    append([]string(nil), p.ContactFolders...),
		CalendarPast:      p.CalendarPast.Duration,
		CalendarFuture:    p.CalendarFuture.Duration,
		TasksOpenOnly:     p.TasksOpenOnly,
		TimeZone:          p.TimeZone,
		BackupFirstSync:   p.BackupBeforeFirstSync,
	}
	for db, d := range map[pim.Kind]config.Direction{pim.Contacts: p.ContactsDirection, pim.Calendar: p.CalendarDirection, pim.Tasks: p.TasksDirection} {
		if d != "" {
			out.Directions[db] = pim.Direction(d)
		}
	}
	return out
}
