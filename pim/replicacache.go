package pim

import (
	"strconv"
	"strings"
	"sync"
)

// ReplicaCache keeps the bulk a device's last session committed, decoded,
// for its next session: that one then reads only the small state record,
// and when it names the same base and deltas (ident) the bulk is taken
// from here instead of being read and decoded again, so a sync with k
// changes reads O(k) of the store too. Records are never rewritten under
// their key (every base and delta has a generation of its own), so an
// entry whose ident the state still names is the bulk the store holds;
// another daemon's session on the same mailbox writes a new generation,
// and the entry is no longer used. The cached maps are never changed:
// sessions work on copies.
type ReplicaCache struct {
	mu      sync.Mutex
	max     int // map entries kept, all entries
	total   int
	clock   uint64
	entries map[string]*bulkEntry
}

type bulkEntry struct {
	ident string
	bulk  *bulk
	size  int
	used  uint64
}

// NewReplicaCache is a cache of at most max map entries, for the
// replicas of every account a daemon serves.
func NewReplicaCache(max int) *ReplicaCache {
	return &ReplicaCache{max: max, entries: map[string]*bulkEntry{}}
}

func cacheKey(user, device string, k Kind) string {
	return strings.ToLower(user) + "\x00" + device + "\x00" + string(k)
}

// bulkIdent names the records a state's bulk is read from.
func bulkIdent(st *ReplicaState) string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(st.Bulk, 10))
	for _, g := range st.Log {
		b.WriteByte('+')
		b.WriteString(strconv.FormatInt(g, 10))
	}
	return b.String()
}

func (c *ReplicaCache) get(key, ident string) *bulk {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil || e.ident != ident {
		return nil
	}
	c.clock++
	e.used = c.clock
	return e.bulk
}

// put keeps b (which its caller no longer changes) under key; the least
// recently used entries go when the cache is over its size.
func (c *ReplicaCache) put(key, ident string, b *bulk) {
	if c == nil {
		return
	}
	size := len(b.Map) + len(b.TempIDs) + len(b.Point)/20 + 1
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(key)
	if size > c.max {
		return
	}
	c.clock++
	c.entries[key] = &bulkEntry{ident: ident, bulk: b, size: size, used: c.clock}
	c.total += size
	for c.total > c.max {
		var oldest string
		var at uint64
		for k, e := range c.entries {
			if oldest == "" || e.used < at {
				oldest, at = k, e.used
			}
		}
		c.dropLocked(oldest)
	}
}

func (c *ReplicaCache) drop(key string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropLocked(key)
}

func (c *ReplicaCache) dropLocked(key string) {
	if e := c.entries[key]; e != nil {
		c.total -= e.size
		delete(c.entries, key)
	}
}
