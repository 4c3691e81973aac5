package pim

import (
	"context"
	"errors"
	"time"
)

// Watcher is a Store that can wait for its databases to change instead of
// being asked again and again: a front that holds a device's request open
// until something changes (ActiveSync's Ping) opens a Watch before it
// looks at the databases, and waits on it after, so that no change made
// in between is missed.
type Watcher interface {
	// Watch starts watching dbs: a change to any of them made after
	// Watch returns wakes the Watch's Wait. The Watch must be closed.
	Watch(ctx context.Context, dbs ...Kind) (Watch, error)
}

// Watch is a watch of some databases (Watcher.Watch).
type Watch interface {
	// Wait returns true as soon as one of the databases may have
	// changed since the Watch began or since Wait last returned true;
	// false when until came first; ctx's error when it ended. "May
	// have": a wake may find nothing the front cares about (the
	// device's own write, a flag, the store losing track of a database
	// for a while), so the front looks again before it tells the device.
	Wait(ctx context.Context, until time.Time) (bool, error)
	// Detached reports whether Wait, as things are now, works without
	// the store that opened the watch: the front may then close that
	// store while it waits (giving its connection back) and open
	// another to look after a wake.
	Detached() bool
	Close() error
}

// ErrNoWatch is returned by the Watch of a Watcher that wraps a store
// that is none: WatchStore then polls.
var ErrNoWatch = errors.New("pim: the store cannot watch")

// WatchStore watches dbs of st: st's own Watch when it is a Watcher, else
// one that says "may have changed" every poll, so that a front has one
// way to wait whatever the store.
func WatchStore(ctx context.Context, st Store, poll time.Duration, dbs ...Kind) (Watch, error) {
	if w, ok := st.(Watcher); ok {
		watch, err := w.Watch(ctx, dbs...)
		if !errors.Is(err, ErrNoWatch) {
			return watch, err
		}
	}
	return pollWatch{poll}, nil
}

// pollWatch is the Watch of a store that cannot watch: it wakes every
// poll, and the front asks the store.
type pollWatch struct{ poll time.Duration }

func (w pollWatch) Wait(ctx context.Context, until time.Time) (bool, error) {
	wait := time.Until(until)
	changed := w.poll < wait
	if changed {
		wait = w.poll
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return changed, nil
	}
}

// Detached is false: asking the store needs the store.
func (pollWatch) Detached() bool { return false }

func (pollWatch) Close() error { return nil }
