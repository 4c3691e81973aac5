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
func (s *session) report(result pim.Result) {
	if s.reported || s.owner == "" && !s.refused && !s.unavailable {
		return
	}
	s.reported = true
	r := &pim.SessionReport{User: s.user, Device: s.deviceID, Started: s.started, Duration: s.srv.opts.now().Sub(s.started),
		Result: result, Error: s.lastErr}
	var dbs []string
	for _, d := range s.order {
		r.Databases = append(r.Databases, pim.DatabaseReport{Name: d.db, Mode: modeName(d.mode), FromDevice: d.received, ToDevice: d.sent, Refused: d.refusedCount})
		dbs = append(dbs, string(d.db)+":"+modeName(d.mode))
	}
	attrs := []any{"result", string(result), "databases", strings.Join(dbs, ","), "duration_ms", r.Duration.Milliseconds()}
	for _, d := range r.Databases {
		attrs = append(attrs, slog.Group(string(d.Name),
			"from_device", []int{d.FromDevice.Added, d.FromDevice.Replaced, d.FromDevice.Deleted},
			"to_device", []int{d.ToDevice.Added, d.ToDevice.Replaced, d.ToDevice.Deleted}, "refused_by_device", d.Refused))
	}
	if result == pim.ResultOK {
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
func (s *session) saveLastError(result pim.Result) {
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
func resultText(result pim.Result) string {
	switch result {
	case pim.ResultExpired:
		return "the device stopped answering in the middle of a sync"
	case pim.ResultUnavailable:
		return "the mail server could not be reached"
	case pim.ResultRefused:
		return "the sync was refused"
	}
	return "the sync did not complete"
}

// noteError keeps the session's first failure, in plain words.
func (s *session) noteError(db pim.Kind, what string, err error) {
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
func (s *session) result() pim.Result {
	switch {
	case s.superseded.Load():
		return pim.ResultReplaced
	case s.unavailable:
		return pim.ResultUnavailable
	case s.refused:
		return pim.ResultRefused
	case s.suspended:
		return pim.ResultSuspended
	}
	failed := s.alertsFailed
	for _, d := range s.order {
		if d.failed {
			failed++
		}
	}
	switch {
	case failed > 0 && failed == len(s.order)+s.alertsFailed:
		return pim.ResultFailed
	case failed > 0:
		return pim.ResultPartial
	}
	return pim.ResultOK
}
