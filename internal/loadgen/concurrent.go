package loadgen

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"syncml-imap/syncml"
)

// concurrent runs scenario 5: C devices, four to a user, each with a few
// contacts of its own, in three rounds of C sessions started at once: a
// slow sync (each brings its contacts), a two-way sync (each takes what
// the other devices of its user brought) and a two-way sync in which
// nothing changed. In the end every device of a user holds the same
// contacts, all of theirs. It reports the sessions that went well, how
// long they took and what the daemon's memory grew by.
func (r *runner) concurrent(ctx context.Context, accts []Account) {
	cfg, rep := r.cfg, r.rep
	c, items := cfg.Concurrent, cfg.ConcurrentItems
	devs := make([]*Device, c)
	byUser := map[string][]*Device{}
	for i := range devs {
		acct := accts[i/DevicesPerUser]
		devs[i] = NewDevice(acct, i%DevicesPerUser+1)
		devs[i].MakeContacts(items)
		byUser[acct.User] = append(byUser[acct.User], devs[i])
	}
	// Memory is an observation, not a check: a reading that fails is
	// logged and its rows left out.
	before, err := cfg.Memory.Read(ctx, true)
	if err != nil {
		r.logf("C=%d: memory before: %v", c, err)
	}
	var peak *sampler
	if cfg.Memory != nil {
		peak = cfg.Memory.sample(ctx, 250*time.Millisecond)
	}
	failed := make([]bool, c)
	rounds := []struct {
		what  string
		mode  syncml.AlertCode
		check func(d *Device, st *Stats) error
	}{
		{fmt.Sprintf("5. C at once: slow sync of %d new contacts", items), syncml.AlertSlowSync, func(d *Device, st *Stats) error {
			// The user's other devices may have brought theirs already.
			if st.ItemsSent != items || st.ItemsAcked != items {
				return fmt.Errorf("%d items sent, %d acknowledged, want %d", st.ItemsSent, st.ItemsAcked, items)
			}
			return nil
		}},
		{"5. C at once: two-way sync, the other devices' contacts", syncml.AlertTwoWay, func(d *Device, st *Stats) error {
			return expect(st, syncml.AlertTwoWay, 0, st.Added)
		}},
		{"5. C at once: two-way sync, nothing changed", syncml.AlertTwoWay, func(d *Device, st *Stats) error {
			return expect(st, syncml.AlertTwoWay, 0, 0)
		}},
	}
	for _, round := range rounds {
		r.logf("C=%d: %s", c, round.what)
		walls := make([]time.Duration, c)
		errs := make([]error, c)
		stats := make([]*Stats, c)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, d := range devs {
			if failed[i] {
				errs[i] = fmt.Errorf("%s: an earlier session failed", d.ID)
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st, err := d.sync(ctx, r.tr, cfg.URL, round.mode)
				if err == nil {
					if err = round.check(d, st); err != nil {
						err = fmt.Errorf("%s: %w", d.ID, err)
					}
				}
				walls[i], errs[i], stats[i] = st.Wall, err, st
			}()
		}
		begin := time.Now()
		close(start)
		wg.Wait()
		all := time.Since(begin)
		var ok []time.Duration
		for i, err := range errs {
			if err != nil {
				failed[i] = true
				continue
			}
			ok = append(ok, walls[i])
		}
		rep.add(Row{What: round.what, N: c, Figure: float64(len(ok)), Unit: fmt.Sprintf("sessions ok of %d", c),
			Ratio: float64(len(ok)) / float64(c), RatioTo: "ok"})
		p50, p95 := quantile(ok, 0.5), quantile(ok, 0.95)
		rep.add(Row{What: round.what + ", p95 session", N: c, Figure: ms(p95), Unit: "ms",
			Ratio: float64(p95) / float64(max(p50, 1)), RatioTo: "of p50"})
		r.logf("C=%d: %d of %d ok in %v; session p50 %v, p95 %v", c, len(ok), c, all.Round(time.Millisecond),
			p50.Round(time.Millisecond), p95.Round(time.Millisecond))
		var breaches []string
		for _, st := range stats {
			if st != nil {
				breaches = append(breaches, st.Breaches...)
			}
		}
		if len(breaches) > 0 {
			rep.errorf("C=%d: %s: the server broke the protocol %d times, the first: %s", c, round.what, len(breaches), breaches[0])
		}
		if n := c - len(ok); n > 0 {
			rep.errorf("C=%d: %s: %d of %d sessions failed: %s", c, round.what, n, c, summarize(errs))
		}
	}

	// Every device of a user whose sessions all went well holds the
	// contacts of all of its user's devices.
	for user, ds := range byUser {
		whole := true
		for _, d := range ds {
			whole = whole && !failed[indexOf(devs, d)]
		}
		if !whole {
			continue
		}
		for _, d := range ds {
			if d.Len() != items*len(ds) {
				rep.errorf("C=%d: %s holds %d contacts, its user %s's %d devices made %d", c, d.ID, d.Len(), user, len(ds), items*len(ds))
			} else if err := sameNames(ds[0], d); err != nil {
				rep.errorf("C=%d: %v", c, err)
			}
		}
	}

	if cfg.Memory == nil {
		return
	}
	m := peak.end()
	after, err := cfg.Memory.Read(ctx, true)
	if err != nil {
		r.logf("C=%d: memory after: %v", c, err)
	}
	perSession := func(b int64) float64 { return float64(b) / 1024 / float64(c) }
	if before.Heap > 0 && after.Heap > 0 {
		rep.add(Row{What: "5. daemon heap growth after C sessions (after GC)", N: c, Figure: mib(after.Heap - before.Heap), Unit: "MiB",
			Ratio: perSession(after.Heap - before.Heap), RatioTo: "KiB per device"})
	}
	if before.Heap > 0 && m.Heap > 0 {
		rep.add(Row{What: "5. daemon heap peak above the start, during C sessions", N: c, Figure: mib(m.Heap - before.Heap), Unit: "MiB",
			Ratio: perSession(m.Heap - before.Heap), RatioTo: "KiB per device"})
	}
	if before.RSS > 0 && after.RSS > 0 {
		rep.add(Row{What: "5. daemon RSS growth after C sessions", N: c, Figure: mib(after.RSS - before.RSS), Unit: "MiB",
			Ratio: perSession(after.RSS - before.RSS), RatioTo: "KiB per device"})
	}
	if before.RSS > 0 && m.RSS > 0 {
		rep.add(Row{What: "5. daemon RSS peak above the start, during C sessions", N: c, Figure: mib(max(m.RSS, m.Peak) - before.RSS), Unit: "MiB",
			Ratio: perSession(max(m.RSS, m.Peak) - before.RSS), RatioTo: "KiB per device"})
	}
}

func indexOf(devs []*Device, d *Device) int {
	for i, x := range devs {
		if x == d {
			return i
		}
	}
	return -1
}

// summarize groups failures by their message (device IDs left out), the
// commonest first.
func summarize(errs []error) string {
	count := map[string]int{}
	for _, err := range errs {
		if err == nil {
			continue
		}
		// "IMEI:load-load007-3 session 2: loadgen: ...": the device's
		// name is left out, so that the same failure counts once.
		msg := err.Error()
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "IMEI:") {
			msg = rest
		}
		count[msg]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return count[keys[i]] > count[keys[j]] || count[keys[i]] == count[keys[j]] && keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys[:min(len(keys), 5)] {
		parts = append(parts, fmt.Sprintf("%d× %s", count[k], k))
	}
	return strings.Join(parts, "; ")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
