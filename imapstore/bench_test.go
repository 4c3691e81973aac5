package imapstore

import (
	"context"
	"fmt"
	"testing"

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
