package imapstore

import (
	"context"
	"net"
	"sync"
)

// ConnGate is told of every connection an Account opens to the IMAP
// server, its login's and its MULTIAPPEND one, so that the embedder can
// count them (a gauge, a per-user budget): what it is told is what is
// open at this end of TCP.
type ConnGate interface {
	// Open is asked before a connection for login is dialled; extra is
	// true for a connection beyond the Account's first (MULTIAPPEND),
	// which the Account can do without. An error refuses the
	// connection: Dial fails with it (it should match ErrUnavailable);
	// a refused extra connection is not opened and the Account appends
	// on its first.
	Open(ctx context.Context, login string, extra bool) error
	// Closed is told once for each Open that returned nil: when that
	// connection has closed (Close, a cancelled context, the server
	// hanging up) or could not be opened after all.
	Closed(login string)
}

// gate asks o.Conns for a connection of login. It returns the wrap to
// dial with (wrap, then the wrapper that tells the gate of the close) and
// done, to call when the dial failed (harmless if the connection closed
// already: the gate is told once).
func (o *Options) gate(ctx context.Context, login string, extra bool, wrap func(net.Conn) net.Conn) (func(net.Conn) net.Conn, func(), error) {
	if o.Conns == nil {
		return wrap, func() {}, nil
	}
	if err := o.Conns.Open(ctx, login, extra); err != nil {
		return nil, nil, err
	}
	var once sync.Once
	done := func() { once.Do(func() { o.Conns.Closed(login) }) }
	return func(c net.Conn) net.Conn {
		if wrap != nil {
			c = wrap(c)
		}
		return &gatedConn{Conn: c, done: done}
	}, done, nil
}

// gatedConn tells the gate when it is closed.
type gatedConn struct {
	net.Conn
	done func()
}

func (c *gatedConn) Close() error {
	err := c.Conn.Close()
	c.done()
	return err
}
