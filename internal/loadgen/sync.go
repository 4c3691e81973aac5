package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"syncml-imap/syncml"
)

// sync runs one whole session of the device against the endpoint url
// (OMA-TS-DS_Protocol 1.2, 5: packages 1 to 6) in mode: 200 two-way (a
// slow sync for a device that never synced), 201 slow, 203 refresh from
// the client, 205 refresh from the server. It returns the session's
// figures; an error means the session failed or a check did: an item
// not acknowledged, a server change the device could not take, a command
// the server never answered.
func (d *Device) sync(ctx context.Context, tr *transport, url string, mode syncml.AlertCode) (*Stats, error) {
	start := time.Now()
	s := newSession(d, tr, url)
	err := s.run(ctx, mode)
	s.stats.Wall = time.Since(start)
	if err != nil {
		return &s.stats, fmt.Errorf("%s session %s: %w", d.ID, s.id, err)
	}
	return &s.stats, nil
}

func (s *session) run(ctx context.Context, mode syncml.AlertCode) error {
	d := s.dev
	if mode == syncml.AlertTwoWay && d.last == "" {
		mode = syncml.AlertSlowSync
	}
	next := strconv.Itoa(d.sessions)

	// Package 1: who we are (DevInf, the first time) and the Alert.
	var pkg1 []syncml.Command
	if !d.devinfSent {
		pkg1 = append(pkg1, &syncml.Access{Op: "Put", Meta: &syncml.Meta{Type: s.devInfType()},
			Items: []syncml.Item{{Source: &syncml.Loc{LocURI: "./devinf12"}, Data: &syncml.Data{XML: d.devInf().Element("1.2")}}}})
	}
	pkg1 = append(pkg1, &syncml.Alert{Data: mode.String(), Items: []syncml.Item{{
		Target: &syncml.Loc{LocURI: serverDB}, Source: &syncml.Loc{LocURI: localDB},
		Meta: &syncml.Meta{Anchor: &syncml.Anchor{Last: d.last, Next: next}}}}})
	r, err := s.send(ctx, pkg1, true)
	if err != nil {
		return err
	}
	// Package 2, pulled to its end.
	if r, err = s.pull(ctx, r); err != nil {
		return err
	}
	if s.alertCode == 0 || s.serverAlert == nil {
		return errors.New("loadgen: the server did not answer our Alert with a status and its own Alert")
	}
	agreed, err := s.agree(mode)
	if err != nil {
		return err
	}
	s.stats.Mode = agreed

	// Package 3: the device's changes, in as many messages as they take.
	if agreed == syncml.AlertRefreshFromServer {
		// The server's items replace the device's (OMA-TS-DS_Protocol
		// 1.2, 5.8).
		clear(d.items)
		clear(d.dirty)
	}
	if r, err = s.clientSync(ctx, d.outgoing(agreed)); err != nil {
		return err
	}

	// Package 4: the server's changes, pulled to their end.
	if r, err = s.pull(ctx, r); err != nil {
		return err
	}
	if s.serverSync {
		// Package 5: statuses and the Map; package 6 ends the session.
		if r, err = s.sendMap(ctx); err != nil {
			return err
		}
	} else if agreed != syncml.AlertOneWayFromClient && agreed != syncml.AlertRefreshFromClient {
		return fmt.Errorf("loadgen: the server sent no Sync in a sync of mode %d", agreed)
	}
	if !r.Final {
		return errors.New("loadgen: the server's last message is not Final")
	}
	for _, c := range r.Body {
		if _, ok := c.(*syncml.Status); !ok {
			return fmt.Errorf("loadgen: the server sent %s after the end of the session", c.CmdName())
		}
	}
	if left := s.unanswered(); len(left) > 0 {
		sort.Strings(left)
		return fmt.Errorf("loadgen: the server never answered %d commands: %s", len(left), strings.Join(left[:min(len(left), 5)], ", "))
	}
	if s.chunk != nil {
		return errors.New("loadgen: the server's chunked item never ended")
	}
	if len(s.itemErrs) > 0 {
		return fmt.Errorf("loadgen: %d item errors, the first: %s", len(s.itemErrs), s.itemErrs[0])
	}
	// The session is complete: its anchors count from now.
	d.last, d.serverLast = next, s.serverAlert.Items[0].Meta.Anchor.Next
	clear(d.dirty)
	d.devinfSent = true
	return nil
}

// agree settles the sync mode from the server's answer (its status to
// our Alert and its own Alert): the server may ask for a slow sync (508),
// and a two-way sync whose anchor the server remembers differently from
// us becomes one (we answer its Alert 508; OMA-TS-DS_Protocol 1.2,
// 2.2.2).
func (s *session) agree(asked syncml.AlertCode) (syncml.AlertCode, error) {
	a := s.serverAlert
	code, _ := strconv.Atoi(a.Data)
	agreed := syncml.AlertCode(code)
	var anchor *syncml.Anchor
	if m := a.Items[0].Meta; m != nil {
		anchor = m.Anchor
	}
	if anchor == nil || anchor.Next == "" {
		return 0, errors.New("loadgen: the server's Alert has no Next anchor")
	}
	switch {
	case agreed == asked:
	case s.alertCode == int(syncml.StatusRefreshRequired) && (asked == syncml.AlertTwoWay && agreed == syncml.AlertSlowSync):
	default:
		return 0, fmt.Errorf("loadgen: we asked for sync mode %d, the server answers %d with status %d", asked, agreed, s.alertCode)
	}
	if agreed == syncml.AlertTwoWay && anchor.Last != s.dev.serverLast {
		s.alertAnswer.Data = syncml.StatusRefreshRequired.String()
		agreed = syncml.AlertSlowSync
	}
	return agreed, nil
}

// pull answers the server's messages until its package ends (Final),
// asking for the next one with Alert 222 when nothing else is to be said
// (OMA-TS-SyncML_RepPro 1.2, 8.3).
func (s *session) pull(ctx context.Context, r *syncml.Message) (*syncml.Message, error) {
	for n := 0; !r.Final; n++ {
		if n > 1_000_000 {
			return nil, errors.New("loadgen: the server's package never ends")
		}
		var cmds []syncml.Command
		if len(s.owed) <= 1 { // the SyncHdr status only
			cmds = append(cmds, &syncml.Alert{Data: syncml.AlertNextMessage.String(), Items: []syncml.Item{{
				Target: &syncml.Loc{LocURI: s.target}, Source: &syncml.Loc{LocURI: s.dev.ID}}}})
		}
		var err error
		if r, err = s.send(ctx, cmds, false); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// clientSync sends package 3: one Sync holding changes, split over as
// many messages as the server's MaxMsgSize asks for, Final on the last.
// The server answers each non-final message (statuses, Alert 222); the
// reply to the last one opens package 4.
func (s *session) clientSync(ctx context.Context, changes []syncml.Command) (*syncml.Message, error) {
	total := len(changes)
	syncPart := func(part []syncml.Command, first bool) *syncml.Sync {
		sy := &syncml.Sync{Target: &syncml.Loc{LocURI: serverDB}, Source: &syncml.Loc{LocURI: localDB}, Commands: part}
		if first {
			sy.NumberOfChanges = &total
		}
		return sy
	}
	// est is what one change adds to a message: the same message with
	// and without it, both with an otherwise empty Sync.
	empty := s.tr.size(s.build([]syncml.Command{syncPart(nil, false)}, true))
	est := func(c syncml.Command) int {
		return s.tr.size(s.build([]syncml.Command{syncPart([]syncml.Command{c}, false)}, true)) - empty
	}
	for first := true; ; first = false {
		rest := changes
		k := s.fit(len(rest), func(k int) []syncml.Command { return []syncml.Command{syncPart(rest[:k], first)} },
			func(i int) int { return est(rest[i]) })
		changes = rest[k:]
		final := len(changes) == 0
		s.stats.PackageMessages++
		r, err := s.send(ctx, []syncml.Command{syncPart(rest[:k], first)}, final)
		if err != nil {
			return nil, err
		}
		if final {
			return r, nil
		}
		if r.Final {
			return nil, errors.New("loadgen: the server ended its package while ours goes on")
		}
	}
}

// sendMap sends package 5: the statuses still owed and the Map of the
// server's new items to our IDs, in as many messages as it takes, Final
// on the last. It returns the server's reply to the last (package 6).
func (s *session) sendMap(ctx context.Context) (*syncml.Message, error) {
	maps := s.maps
	s.maps = nil
	mapOf := func(items []syncml.MapItem) []syncml.Command {
		if len(items) == 0 {
			return nil
		}
		return []syncml.Command{&syncml.Map{Target: syncml.Loc{LocURI: serverDB}, Source: syncml.Loc{LocURI: localDB}, MapItems: items}}
	}
	// est is what one Map item adds: a Map with it against an empty one.
	empty := s.tr.size(s.build([]syncml.Command{&syncml.Map{Target: syncml.Loc{LocURI: serverDB}, Source: syncml.Loc{LocURI: localDB}}}, true))
	est := func(m syncml.MapItem) int { return s.tr.size(s.build(mapOf([]syncml.MapItem{m}), true)) - empty }
	for {
		rest := maps
		k := s.fit(len(rest), func(k int) []syncml.Command { return mapOf(rest[:k]) }, func(i int) int { return est(rest[i]) })
		maps = rest[k:]
		final := len(maps) == 0
		r, err := s.send(ctx, mapOf(rest[:k]), final)
		if err != nil {
			return nil, err
		}
		if final {
			return r, nil
		}
	}
}
