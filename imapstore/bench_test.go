package imapstore

import (
	"context"
	"fmt"
	"testing"
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
				r := e.dial(b)
				cmds := 0
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					r.folders = map[string]*folder{} // a new session: nothing in memory
					d := mustChanges(b, r, KindContacts, since)
					if n := len(d.Added) + len(d.Modified) + len(d.Deleted); n != wantChanges {
						b.Fatalf("%d changes, want %d", n, wantChanges)
					}
					cmds += len(e.log.take())
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
