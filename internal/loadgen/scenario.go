package loadgen

import (
	"context"
	"fmt"
	"slices"
	"time"

	"syncml-imap/syncml"
)

// The rows' names, shared by the scenarios and the ratios between them.
const (
	rowSlow      = "1. slow sync, N new contacts from the device"
	rowUnchanged = "2. two-way sync, nothing changed (server time)"
	rowRefresh   = "4. refresh from server, N contacts to a fresh device"
	rowFetch     = "IMAP FETCH of the stored messages"
	rowAppend    = "IMAP APPEND one by one"
	rowMulti     = "IMAP MULTIAPPEND ×100"
	rowHeapPeak  = "daemon heap peak above idle, during 1.–4."
)

// runner is one run in progress.
type runner struct {
	cfg *Config
	tr  *transport
	rep *Report
}

func (r *runner) logf(format string, args ...any) { r.cfg.Logf(format, args...) }

// sizes runs scenarios 1 to 4 (and the baseline) at one N, with the
// account acct: its device 1 does 1 to 3, its device 2 scenario 4.
func (r *runner) sizes(ctx context.Context, n int, acct Account) {
	cfg, rep := r.cfg, r.rep
	idle, err := cfg.Memory.Read(ctx, true)
	if err != nil {
		r.logf("N=%d: memory: %v", n, err)
	}
	var peak *sampler
	if cfg.Memory != nil {
		peak = cfg.Memory.sample(ctx, 250*time.Millisecond)
	}
	defer func() {
		if peak == nil {
			return
		}
		m := peak.end()
		if m.Heap > 0 && idle.Heap > 0 {
			grow := float64(m.Heap - idle.Heap)
			rep.add(Row{What: rowHeapPeak, N: n, Figure: grow / (1 << 20), Unit: "MiB", Ratio: grow / float64(n), RatioTo: "bytes per item"})
		}
	}()

	// 1. A slow sync in which the device brings N new contacts.
	dev := NewDevice(acct, 1)
	dev.MakeContacts(n)
	r.logf("N=%d: 1. slow sync of %d new contacts (%s)", n, n, dev.ID)
	var done func()
	if cfg.OnSlowSync != nil {
		done = cfg.OnSlowSync(n)
	}
	st, err := dev.sync(ctx, r.tr, cfg.URL, syncml.AlertSlowSync)
	if done != nil {
		done()
	}
	if err == nil {
		// The account was emptied: the server has nothing to send.
		err = expect(st, syncml.AlertSlowSync, n, 0)
	}
	if err != nil {
		rep.errorf("N=%d: 1. slow sync: %v", n, err)
		return
	}
	r.breaches(fmt.Sprintf("N=%d: 1. slow sync", n), st)
	rep.add(Row{What: rowSlow, N: n, Figure: rate(n, st.Wall), Unit: "items/s"})
	r.logf("N=%d: 1. %d items in %v, %d requests, %d messages in package 3, server time %v", n, n, st.Wall.Round(time.Millisecond),
		st.Requests, st.PackageMessages, st.Latency.Round(time.Millisecond))
	if cfg.IMAPAddr != "" {
		if got, err := countFolder(cfg.IMAPAddr, acct, cfg.ContactsFolder); err != nil {
			rep.errorf("N=%d: 1. counting what the daemon stored: %v", n, err)
		} else if got != n {
			rep.errorf("N=%d: 1. the daemon acknowledged %d contacts, %q of %s holds %d", n, n, cfg.ContactsFolder, acct.User, got)
		}
		r.logf("N=%d: baseline: FETCH, APPEND and MULTIAPPEND of the %d stored messages", n, n)
		if b, err := measureBaseline(ctx, cfg, acct, n); err != nil {
			rep.errorf("N=%d: baseline: %v", n, err)
		} else {
			rep.add(Row{What: rowFetch, N: n, Figure: b.fetch, Unit: "items/s"})
			if b.oneN > 0 {
				what := rowAppend
				if b.oneN < n {
					what = fmt.Sprintf("%s (the first %d)", rowAppend, b.oneN)
				}
				rep.add(Row{What: what, N: n, Figure: b.one, Unit: "items/s", Ratio: b.one / b.multi, RatioTo: "of MULTIAPPEND"})
			}
			rep.add(Row{What: rowMulti, N: n, Figure: b.multi, Unit: "items/s"})
			slow := rep.find(rowSlow, n)
			slow.Ratio, slow.RatioTo = slow.Figure/b.multi, "of MULTIAPPEND"
		}
	}

	if cfg.IngestOnly {
		return
	}

	// 2. Two-way syncs in which nothing changed.
	var quiet []time.Duration
	for i := range cfg.Repeat {
		st, err := dev.sync(ctx, r.tr, cfg.URL, syncml.AlertTwoWay)
		if err == nil {
			err = expect(st, syncml.AlertTwoWay, 0, 0)
		}
		if err != nil {
			rep.errorf("N=%d: 2. unchanged two-way sync %d: %v", n, i+1, err)
			return
		}
		r.breaches(fmt.Sprintf("N=%d: 2. unchanged two-way sync %d", n, i+1), st)
		quiet = append(quiet, st.Latency)
	}
	q := median(quiet)
	row := rep.add(Row{What: rowUnchanged, N: n, Figure: ms(q), Unit: "ms"})
	if first := rep.find(rowUnchanged, cfg.Sizes[0]); first != nil && first != row {
		row.Ratio, row.RatioTo = row.Figure/first.Figure, fmt.Sprintf("of N=%d", cfg.Sizes[0])
	}
	r.logf("N=%d: 2. unchanged two-way sync: median server time %v of %d", n, q.Round(time.Microsecond), cfg.Repeat)

	// 3. Two-way syncs in which the device changed k contacts.
	var changed []time.Duration
	for i := range cfg.Repeat {
		dev.Change(cfg.Changes, i+1)
		st, err := dev.sync(ctx, r.tr, cfg.URL, syncml.AlertTwoWay)
		if err == nil {
			err = expect(st, syncml.AlertTwoWay, cfg.Changes, 0)
		}
		if err != nil {
			rep.errorf("N=%d: 3. two-way sync with %d changes, run %d: %v", n, cfg.Changes, i+1, err)
			return
		}
		r.breaches(fmt.Sprintf("N=%d: 3. two-way sync with %d changes, run %d", n, cfg.Changes, i+1), st)
		changed = append(changed, st.Latency)
	}
	c := median(changed)
	rep.add(Row{What: fmt.Sprintf("3. two-way sync, k=%d contacts changed (server time)", cfg.Changes), N: n, Figure: ms(c), Unit: "ms",
		Ratio: float64(c) / float64(q), RatioTo: "of 2."})
	r.logf("N=%d: 3. two-way sync with %d changes: median server time %v", n, cfg.Changes, c.Round(time.Microsecond))

	// 4. A refresh from the server to a fresh device.
	fresh := NewDevice(acct, 2)
	r.logf("N=%d: 4. refresh from server to %s", n, fresh.ID)
	st, err = fresh.sync(ctx, r.tr, cfg.URL, syncml.AlertRefreshFromServer)
	if err == nil {
		err = expect(st, syncml.AlertRefreshFromServer, 0, n)
	}
	if err == nil && (st.MapsSent != n || st.MapsAcked != n) {
		err = fmt.Errorf("%d Map items sent, %d acknowledged, want %d", st.MapsSent, st.MapsAcked, n)
	}
	if err == nil {
		err = sameNames(dev, fresh)
	}
	if err != nil {
		rep.errorf("N=%d: 4. refresh from server: %v", n, err)
		return
	}
	r.breaches(fmt.Sprintf("N=%d: 4. refresh from server", n), st)
	row = rep.add(Row{What: rowRefresh, N: n, Figure: rate(n, st.Wall), Unit: "items/s"})
	if f := rep.find(rowFetch, n); f != nil {
		row.Ratio, row.RatioTo = row.Figure/f.Figure, "of IMAP FETCH"
	}
	r.logf("N=%d: 4. %d items in %v, %d requests, server time %v", n, n, st.Wall.Round(time.Millisecond), st.Requests, st.Latency.Round(time.Millisecond))
}

// breaches notes the server's breaches of the protocol in a session
// that otherwise went well.
func (r *runner) breaches(label string, st *Stats) {
	if len(st.Breaches) > 0 {
		r.rep.errorf("%s: the server broke the protocol %d times, the first: %s", label, len(st.Breaches), st.Breaches[0])
	}
}

// expect checks a session's mode and counts: sent items all sent and
// acknowledged, received the server's changes.
func expect(st *Stats, mode syncml.AlertCode, sent, received int) error {
	switch {
	case st.Mode != mode:
		return fmt.Errorf("the session ran in mode %d, want %d", st.Mode, mode)
	case st.ItemsSent != sent || st.ItemsAcked != sent:
		return fmt.Errorf("%d items sent, %d acknowledged, want %d", st.ItemsSent, st.ItemsAcked, sent)
	case st.Received() != received:
		return fmt.Errorf("%d changes received (%d Add, %d Replace, %d Delete), want %d", st.Received(), st.Added, st.Replaced, st.Deleted, received)
	}
	return nil
}

// sameNames checks that two devices hold the same contacts (by FN).
func sameNames(a, b *Device) error {
	an, bn := a.Names(), b.Names()
	if len(an) != a.Len() || len(bn) != b.Len() {
		return fmt.Errorf("duplicate contacts: %s holds %d under %d names, %s %d under %d", a.ID, a.Len(), len(an), b.ID, b.Len(), len(bn))
	}
	for n := range an {
		if !bn[n] {
			return fmt.Errorf("%s lacks %q, which %s has (%d against %d contacts)", b.ID, n, a.ID, len(bn), len(an))
		}
	}
	if len(an) != len(bn) {
		return fmt.Errorf("%s holds %d contacts, %s %d", a.ID, len(an), b.ID, len(bn))
	}
	return nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// quantile is the q-quantile (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
