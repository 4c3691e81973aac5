package eas

import (
	"context"
	"strconv"
	"testing"

	"syncml-imap/pim"
)

// BenchmarkFirstSync: a client's first sync of 10,000 contacts a window
// of 100 at a time, with what is still to send kept in chunks (the
// daemon's way) or whole in the folder's record: the state each request
// reads and writes (state-B/req), and in all, with the daemon's cache of
// item maps.
func BenchmarkFirstSync(b *testing.B) {
	for _, c := range []struct {
		name  string
		chunk int
	}{{"chunked", 500}, {"whole", 1 << 30}} {
		b.Run(c.name, func(b *testing.B) {
			defer func(n int) { backlogChunk = n }(backlogChunk)
			backlogChunk = c.chunk
			for b.Loop() {
				b.StopTimer()
				p := provisioned(&testing.T{})
				p.h.Cache = pim.NewReplicaCache(100000) // as the daemon has
				st := p.accts.Store("alice")
				items := make([]*pim.Item, 10000)
				for i := range items {
					items[i] = &pim.Item{Data: []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person " + strconv.Itoa(i) + "\r\nN:" + strconv.Itoa(i) + ";Person;;;\r\nEND:VCARD\r\n")}
				}
				st.Put(context.Background(), pim.Contacts, items...)
				st.ResetStats()
				b.StartTimer()
				requests := firstSync(b, p)
				b.StopTimer()
				s := st.Stats()
				b.ReportMetric(float64(s.BytesSaved+s.BytesLoaded)/float64(requests), "state-B/req")
				b.ReportMetric(float64(s.BytesSaved+s.BytesLoaded), "state-B")
				p.srv.Close()
				b.StartTimer()
			}
		})
	}
}

// firstSync runs a folder's first sync to its end; it returns the
// requests it took.
func firstSync(b *testing.B, p *phone) int {
	p.t = &testing.T{}
	p.sync(p.t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "contacts")))
	key, n := "1", 1
	for {
		c := p.sync(p.t, el("", "Collection", tx("", "SyncKey", key), tx("", "CollectionId", "contacts"), tx("", "WindowSize", "100")))
		n++
		if child(c, "MoreAvailable") == nil {
			return n
		}
		key = text(c, "SyncKey")
	}
}
