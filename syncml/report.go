package syncml

import (
	"log/slog"
	"strings"
	"time"
)

// SessionReport sums up one finished session: what the admin's log line
// and the metrics are made of. It never holds item content.
type SessionReport struct {
	User, Device string
	Started      time.Time
	Duration     time.Duration
	// Result: "ok"; "partial" (a database failed); "refused" (no free
	// slot, or the store unreadable); "suspended" (by the device);
	// "replaced" (the device started a newer session); "expired" (the
	// device stopped answering); "shutdown".
	Result    string
	Databases []DatabaseReport
}

// DatabaseReport is one database of a session.
type DatabaseReport struct {
	Name       string
	Mode       string // "two-way", "slow", "one-way-from-client", ...
	FromDevice ChangeCounts
	ToDevice   ChangeCounts
}

// ChangeCounts counts item changes one way.
type ChangeCounts struct{ Added, Replaced, Deleted int }

func (c *ChangeCounts) count(op string) {
	switch op {
	case "Add":
		c.Added++
	case "Replace":
		c.Replaced++
	case "Delete":
		c.Deleted++
	}
}

// Total is the number of changes.
func (c ChangeCounts) Total() int { return c.Added + c.Replaced + c.Deleted }

// modeName names a sync mode as SyncML's alert codes mean it.
func modeName(c AlertCode) string {
	switch c {
	case AlertTwoWay:
		return "two-way"
	case AlertSlowSync:
		return "slow"
	case AlertOneWayFromClient:
		return "one-way-from-client"
	case AlertRefreshFromClient:
		return "refresh-from-client"
	case AlertOneWayFromServer:
		return "one-way-from-server"
	case AlertRefreshFromServer:
		return "refresh-from-server"
	}
	return c.String()
}

// report logs the session's one line and hands the report to the
// server's OnSession hook, once. Sessions that never logged in are not
// reported (authentication is logged where it fails).
func (s *session) report(result string) {
	if s.reported || s.owner == "" && !s.refused {
		return
	}
	s.reported = true
	r := &SessionReport{User: s.user, Device: s.deviceID, Started: s.started, Duration: s.srv.opts.now().Sub(s.started), Result: result}
	var dbs []string
	for _, d := range s.order {
		r.Databases = append(r.Databases, DatabaseReport{Name: d.db, Mode: modeName(d.mode), FromDevice: d.received, ToDevice: d.sent})
		dbs = append(dbs, d.db+":"+modeName(d.mode))
	}
	attrs := []any{"result", result, "databases", strings.Join(dbs, ","), "duration_ms", r.Duration.Milliseconds()}
	for _, d := range r.Databases {
		attrs = append(attrs, slog.Group(d.Name,
			"from_device", []int{d.FromDevice.Added, d.FromDevice.Replaced, d.FromDevice.Deleted},
			"to_device", []int{d.ToDevice.Added, d.ToDevice.Replaced, d.ToDevice.Deleted}))
	}
	s.log.Info("sync session", attrs...)
	if h := s.srv.opts.OnSession; h != nil {
		h(r)
	}
}

// result is how a finished session ended.
func (s *session) result() string {
	switch {
	case s.superseded.Load():
		return "replaced"
	case s.refused:
		return "refused"
	case s.suspended:
		return "suspended"
	}
	for _, d := range s.order {
		if d.failed {
			return "partial"
		}
	}
	return "ok"
}
