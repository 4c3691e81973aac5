package syncml

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syncml-imap/pim"
	"time"
)

// SessionReport sums up one finished session: what the admin's log line
// and the metrics are made of. It never holds item content.
type SessionReport struct {
	User, Device string
	Started      time.Time
	Duration     time.Duration
	// Result: "ok"; "partial" (a database failed); "failed" (every
	// database failed); "unavailable" (the mail server could not answer);
	// "refused" (no free slot, too many sessions); "suspended" (by the
	// device); "replaced" (the device started a newer session);
	// "expired" (the device stopped answering); "shutdown".
	Result string
	// Error is the first failure of the session in plain words ("" when
	// none).
	Error     string
	Databases []DatabaseReport
}

// DatabaseReport is one database of a session.
type DatabaseReport struct {
	Name       string
	Mode       string // "two-way", "slow", "one-way-from-client", ...
	FromDevice ChangeCounts
	ToDevice   ChangeCounts
	// Refused: server changes the device refused (device full...),
	// offered again at its next sync.
	Refused int
}

// ChangeCounts counts item changes one way.
type ChangeCounts struct{ Added, Replaced, Deleted int }

func (c *ChangeCounts) count(op ChangeOp) {
	switch op {
	case OpAdd:
		c.Added++
	case OpReplace:
		c.Replaced++
	case OpDelete:
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
	if s.reported || s.owner == "" && !s.refused && !s.unavailable {
		return
	}
	s.reported = true
	r := &SessionReport{User: s.user, Device: s.deviceID, Started: s.started, Duration: s.srv.opts.now().Sub(s.started),
		Result: result, Error: s.lastErr}
	var dbs []string
	for _, d := range s.order {
		r.Databases = append(r.Databases, DatabaseReport{Name: d.db, Mode: modeName(d.mode), FromDevice: d.received, ToDevice: d.sent, Refused: d.refusedCount})
		dbs = append(dbs, d.db+":"+modeName(d.mode))
	}
	attrs := []any{"result", result, "databases", strings.Join(dbs, ","), "duration_ms", r.Duration.Milliseconds()}
	for _, d := range r.Databases {
		attrs = append(attrs, slog.Group(d.Name,
			"from_device", []int{d.FromDevice.Added, d.FromDevice.Replaced, d.FromDevice.Deleted},
			"to_device", []int{d.ToDevice.Added, d.ToDevice.Replaced, d.ToDevice.Deleted}, "refused_by_device", d.Refused))
	}
	if result == "ok" {
		s.log.Info("sync session", attrs...)
	} else {
		if s.lastErr != "" {
			attrs = append(attrs, "error", s.lastErr)
		}
		s.log.Warn("sync session", attrs...)
		s.saveLastError(result)
	}
	if h := s.srv.opts.OnSession; h != nil {
		h(r)
	}
}

// saveLastError keeps the failure of an authenticated device's session
// for the admin's `devices list` (best effort). Callers hold s.mu.
func (s *session) saveLastError(result string) {
	switch result {
	case "replaced", "shutdown", "suspended":
		return
	}
	if s.slot == nil || s.store == nil {
		return
	}
	text := s.lastErr
	if text == "" {
		text = resultText(result)
	}
	raw, err := json.Marshal(&pim.LastError{Time: s.srv.opts.now().UTC(), Result: result, Error: text})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.store.SaveState(ctx, pim.LastErrorKey(s.deviceID), raw); err != nil {
		s.log.Debug("could not keep the session's error", "err", err)
	}
}

// resultText says a result in the admin's words.
func resultText(result string) string {
	switch result {
	case "expired":
		return "the device stopped answering in the middle of a sync"
	case "unavailable":
		return "the mail server could not be reached"
	case "refused":
		return "the sync was refused"
	}
	return "the sync did not complete"
}

// noteError keeps the session's first failure, in plain words.
func (s *session) noteError(db, what string, err error) {
	if errors.Is(err, pim.ErrUnavailable) {
		s.unavailable = true
	}
	if s.lastErr != "" {
		return
	}
	cause := "the mail server failed"
	if errors.Is(err, pim.ErrUnavailable) {
		cause = "the mail server could not be reached"
	}
	s.lastErr = fmt.Sprintf("%s: %s: %s (%v)", db, what, cause, err)
}

// result is how a finished session ended.
func (s *session) result() string {
	switch {
	case s.superseded.Load():
		return "replaced"
	case s.unavailable:
		return "unavailable"
	case s.refused:
		return "refused"
	case s.suspended:
		return "suspended"
	}
	failed := s.alertsFailed
	for _, d := range s.order {
		if d.failed {
			failed++
		}
	}
	switch {
	case failed > 0 && failed == len(s.order)+s.alertsFailed:
		return "failed"
	case failed > 0:
		return "partial"
	}
	return "ok"
}
