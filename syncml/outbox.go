package syncml

import (
	"bytes"
	"context"
	"strconv"
)

// outbox composes the server's reply message: statuses first, in the
// order of the commands they answer, then server commands as far as the
// client's MaxMsgSize allows; the rest waits in session.pending.
type outbox struct {
	// ctx is the request's: the server's changes are read from the store
	// as the message under way takes them (changeFeed).
	ctx    context.Context
	sess   *session
	reply  *Message
	msgRef string
	noResp bool
}

// status appends a Status for a command of the message being answered.
func (o *outbox) status(cmd, cmdRef string, code StatusCode) *Status {
	st := &Status{Cmd: cmd, CmdRef: cmdRef, Data: code.String()}
	o.addStatus(st)
	return st
}

func (o *outbox) addStatus(st *Status) {
	st.MsgRef = o.msgRef
	if o.noResp && st.Cmd != "SyncHdr" {
		return
	}
	o.reply.Body = append(o.reply.Body, st)
}

// add queues a server command (after the statuses).
func (o *outbox) add(c Command) {
	o.sess.pending = append(o.sess.pending, c)
}

func (o *outbox) alertNext() {
	o.reply.Body = append(o.reply.Body, &Alert{Data: AlertNextMessage.String(), Items: []Item{{
		Target: &Loc{LocURI: o.reply.Hdr.Target.LocURI},
		Source: &Loc{LocURI: o.reply.Hdr.Source.LocURI},
	}}})
}

// sizeMargin covers what the estimate leaves out (CmdIDs, Final, the
// message's MsgID growing by a digit).
const sizeMargin = 256

func (o *outbox) limit() int64 {
	if o.sess.maxMsg > 0 {
		return o.sess.maxMsg
	}
	return 1 << 20
}

// size is an element's encoded size in the session's encoding.
func (o *outbox) size(e *Element) int64 { return encodedSizeIn(o.sess.encoding, e) }

// cmdSize is a server command's encoded size with the CmdID it gets when
// the message is numbered (commands are numbered after they are placed).
func (o *outbox) cmdSize(c Command) int64 {
	e := commandElement(c)
	if c.ID() == "" {
		e.addText("CmdID", "999999")
	}
	return o.size(e)
}

func encodedSize(e *Element) int64 {
	var b bytes.Buffer
	writeXMLElement(&b, e, "")
	return int64(b.Len())
}

// fill moves pending server commands into the reply while it stays under
// the client's MaxMsgSize. A Sync is split between messages item by item;
// the server's own Sync produces its items as they are placed here.
// At least one command goes into every message so that the package always
// moves on, even when a single item exceeds the limit and cannot be
// chunked as a large object.
func (o *outbox) fill() {
	limit := o.limit()
	size := o.size(o.reply.Element()) + sizeMargin
	for len(o.sess.pending) > 0 {
		next := o.sess.pending[0]
		sy, feed, isSync := syncOf(next)
		if !isSync {
			s := o.cmdSize(next)
			if size+s > limit && o.hasServerCommand() {
				return
			}
			size += s
			o.reply.Body = append(o.reply.Body, next)
			o.sess.pending = o.sess.pending[1:]
			continue
		}
		// A Sync: the container, then as many changes as fit.
		part := &Sync{Target: sy.Target, Source: sy.Source, Meta: sy.Meta, NumberOfChanges: sy.NumberOfChanges}
		s := o.cmdSize(part)
		if size+s > limit && o.hasServerCommand() {
			return
		}
		size += s
		sy.NumberOfChanges = nil // only the first part says how many
		o.reply.Body = append(o.reply.Body, part)
		if o.fillSync(part, sy, feed, size) {
			return
		}
		o.sess.pending = o.sess.pending[1:]
	}
}

// syncOf tells a pending Sync, with its feed when it is the server's own.
func syncOf(c Command) (*Sync, *changeFeed, bool) {
	switch c := c.(type) {
	case *Sync:
		return c, nil, true
	case *outgoingSync:
		return c.Sync, c.feed, true
	}
	return nil, nil, false
}

// fillSync moves sy's changes into part (placed already, the message
// size with it) while they fit; more reports whether some are left for
// the next message.
func (o *outbox) fillSync(part, sy *Sync, feed *changeFeed, size int64) (more bool) {
	limit := o.limit()
	for {
		if len(sy.Commands) == 0 && feed != nil {
			sy.Commands = feed.next(o.ctx)
		}
		if len(sy.Commands) == 0 {
			return false
		}
		c := sy.Commands[0]
		cs := o.cmdSize(c)
		if size+cs <= limit {
			size += cs
			part.Commands = append(part.Commands, c)
			o.took(sy)
			continue
		}
		// It does not fit. A large object goes in chunks, the first
		// one here, as the last item of this message.
		if ch, ok := c.(*Change); ok && o.sess.largeObjects() {
			if head, rest, ok := splitChange(ch, limit-size, !ch.continued); ok {
				o.sess.carry(ch, rest)
				part.Commands = append(part.Commands, head)
				sy.Commands[0] = rest
				return true
			}
		}
		if len(part.Commands) == 0 && !o.hasOtherServerCommand(part) {
			// Alone in its message and not chunkable: send it whole.
			part.Commands = append(part.Commands, c)
			o.took(sy)
		}
		// The next message goes on with what is left: ask for more
		// first, so that an empty feed ends the Sync here.
		if len(sy.Commands) == 0 && feed != nil {
			sy.Commands = feed.next(o.ctx)
		}
		return len(sy.Commands) > 0
	}
}

// took drops the first of sy's commands, placed in the message; its slot
// is cleared so that the batch it came in does not keep it.
func (o *outbox) took(sy *Sync) {
	sy.Commands[0] = nil
	sy.Commands = sy.Commands[1:]
}

// hasOtherServerCommand reports whether the reply holds a server command
// besides part (the Sync part being filled).
func (o *outbox) hasOtherServerCommand(part *Sync) bool {
	for _, c := range o.reply.Body {
		if _, ok := c.(*Status); !ok && c != Command(part) {
			return true
		}
	}
	return false
}

func (o *outbox) hasServerCommand() bool {
	for _, c := range o.reply.Body {
		if _, ok := c.(*Status); !ok {
			return true
		}
	}
	return false
}

// finish numbers the commands and sets Final when the package ends here.
func (o *outbox) finish(final bool) *Message {
	if final && len(o.sess.pending) > 0 {
		o.fill()
		final = len(o.sess.pending) == 0
	}
	o.reply.Final = final
	id := 0
	var number func(cs []Command)
	number = func(cs []Command) {
		for _, c := range cs {
			id++
			c.SetID(strconv.Itoa(id))
			switch c := c.(type) {
			case *Change:
				o.sess.numbered(o.reply.Hdr.MsgID, c)
			case *Sync:
				number(c.Commands)
			case *Container:
				number(c.Commands)
			}
		}
	}
	number(o.reply.Body)
	return o.reply
}
