package imapstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"syncml-imap/internal/dovetest"
)

// BenchmarkChanges lists changes in a folder of 10,000 items, each
// iteration as a new session would (no index in memory, the stored sync
// point as the starting point). It reports the IMAP commands sent per
// listing beside the time.
func BenchmarkChanges(b *testing.B) {
	ctx := context.Background()
	for _, p := range profiles[:2] {
		b.Run(p.name, func(b *testing.B) {
			e := newEnv(b, p.profile)
			a := e.dial(b)
			items := make([]*Item, 10000)
			for i := range items {
				items[i] = &Item{Data: vcard("", fmt.Sprintf("Person %05d", i))}
			}
			if err := a.Put(ctx, KindContacts, items...); err != nil {
				b.Fatal(err)
			}
			sp := mustChanges(b, a, KindContacts, nil).SyncPoint
			if sp.Len() != 10000 {
				b.Fatalf("%d items", sp.Len())
			}
			run := func(b *testing.B, since *SyncPoint, wantChanges int) {
				cmds := 0
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					r := e.dial(b) // a new session: new connection, nothing in memory
					b.StartTimer()
					d := mustChanges(b, r, KindContacts, since)
					b.StopTimer()
					if n := len(d.Added) + len(d.Modified) + len(d.Deleted); n != wantChanges {
						b.Fatalf("%d changes, want %d", n, wantChanges)
					}
					cmds += len(e.log.take())
					r.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(cmds)/float64(b.N), "cmds/op")
			}
			b.Run("unchanged", func(b *testing.B) { run(b, sp, 0) })

			// 10 changes: 4 replaced, 3 deleted, 3 added.
			var repl []*Item
			for _, it := range items[:4] {
				repl = append(repl, &Item{ID: it.ID, Data: vcard("", "Changed "+it.ID)})
			}
			if err := a.Put(ctx, KindContacts, repl...); err != nil {
				b.Fatal(err)
			}
			if _, err := a.Delete(ctx, KindContacts, items[4].ID, items[5].ID, items[6].ID); err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if err := a.Put(ctx, KindContacts, &Item{Data: vcard("", fmt.Sprintf("New %d", i))}); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("10changes", func(b *testing.B) { run(b, sp, 10) })
			b.Run("slow", func(b *testing.B) { run(b, nil, 10000) })
		})
	}
}

// BenchmarkPut stores 500 contacts per operation: with MULTIAPPEND
// (batches of 100 on a second connection) and without (one APPEND each).
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	for _, p := range []struct {
		name    string
		profile dovetest.Profile
	}{{"multiappend", dovetest.ProfileFull}, {"single", dovetest.ProfileMinimal}} {
		b.Run(p.name, func(b *testing.B) {
			e := newEnv(b, p.profile)
			a := e.dial(b)
			const n = 500
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				items := make([]*Item, n)
				for j := range items {
					items[j] = &Item{Data: vcard("", fmt.Sprintf("Person %d-%d", i, j))}
				}
				if err := a.Put(ctx, KindContacts, items...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// BenchmarkChangedCycle is the store's part of a sync with k=10 changes
// on a kept connection, in folders of 1k, 10k and 100k contacts: the
// device's 10 edits stored (Put), the changes since its point listed, its
// point advanced past its own edits, and the point's delta to keep as its
// state (encoded points, as the engine holds them). What it costs should
// follow the 10 changes; what grows with the folder is Dovecot's and
// the few passes over the point in memory.
func BenchmarkChangedCycle(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprint("n=", n), func(b *testing.B) {
			e := newEnv(b, dovetest.ProfileFull)
			a := e.dial(b)
			items := make([]*Item, n)
			for i := range items {
				items[i] = &Item{Data: vcard("", fmt.Sprintf("Person %06d", i))}
			}
			for i := 0; i < n; i += 5000 {
				if err := a.Put(ctx, KindContacts, items[i:min(i+5000, n)]...); err != nil {
					b.Fatal(err)
				}
			}
			point, err := a.EncodePoint(mustChanges(b, a, KindContacts, nil).SyncPoint)
			if err != nil {
				b.Fatal(err)
			}
			var phase [3]time.Duration // put, changes, advance
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				var own []string
				var edits []*Item
				for j := 0; j < 10; j++ {
					it := items[(i*10+j)%n]
					edits = append(edits, &Item{ID: it.ID, Data: vcard("", fmt.Sprintf("Edit %d %d", i, j))})
					own = append(own, it.ID)
				}
				if err := a.Put(ctx, KindContacts, edits...); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				since, err := a.ParsePoint(point)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := a.Changes(ctx, KindContacts, since); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				next, err := a.Advance(ctx, KindContacts, since, own)
				if err != nil {
					b.Fatal(err)
				}
				phase[0], phase[1], phase[2] = phase[0]+t1.Sub(t0), phase[1]+t2.Sub(t1), phase[2]+time.Since(t2)
				raw, err := a.EncodePoint(next)
				if err != nil {
					b.Fatal(err)
				}
				delta, err := a.PointDelta(point, raw)
				if err != nil {
					b.Fatal(err)
				}
				if len(delta) > 1000 {
					b.Fatalf("a delta of %d bytes for 10 changes", len(delta))
				}
				point = raw
			}
			for i, name := range []string{"put-ms", "changes-ms", "advance-ms"} {
				b.ReportMetric(float64(phase[i].Milliseconds())/float64(b.N), name)
			}
		})
	}
}

// BenchmarkPointDelta is the in-memory part alone: the delta of a point
// of n items to one with 10 changed, and applying it, from encoded
// points (the Account's cache holds the decoded ones, as in a session).
func BenchmarkPointDelta(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprint("n=", n), func(b *testing.B) {
			items := map[imap.UID]string{}
			for uid := imap.UID(1); uid <= imap.UID(n); uid++ {
				items[uid] = newGUID()
			}
			old := spOf(1, items)
			old.UIDNext = imap.UID(n + 1)
			next := old.Clone()
			for j := 0; j < 10; j++ {
				id := next.items[imap.UID(j+1)]
				next.unset(imap.UID(j + 1))
				next.set(next.UIDNext, id)
				next.UIDNext++
			}
			a := &Account{}
			ob, _ := a.EncodePoint(old)
			nb, _ := a.EncodePoint(next)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d, err := a.PointDelta(ob, nb)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := a.ApplyPointDelta(ob, d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
