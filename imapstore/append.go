package imapstore

import (
	"context"
	"errors"
	"time"

	"github.com/emersion/go-imap/v2"
)

// appendAll stores messages in f and returns their UIDs in order (nil when
// the server has no UIDPLUS). Batches go through MULTIAPPEND on a
// dedicated connection when the server has it: one round trip and one
// fsync per batch instead of per message, about 7x faster on Dovecot.
func (a *Account) appendAll(ctx context.Context, f *folder, msgs []appendMessage) ([]imap.UID, error) {
	uids := make([]imap.UID, 0, len(msgs))
	for _, batch := range appendBatches(msgs, a.opts.AppendBatch, a.opts.AppendBatchBytes) {
		got, err := a.appendBatch(ctx, f, batch)
		if err != nil {
			return nil, err
		}
		uids = append(uids, got...)
	}
	if len(uids) != len(msgs) {
		return nil, nil // some batch came back without APPENDUID
	}
	return uids, nil
}

// appendBatches cuts msgs, in order, into batches of at most n messages
// and at most size bytes of literals (a larger message goes alone).
func appendBatches(msgs []appendMessage, n, size int) [][]appendMessage {
	var out [][]appendMessage
	for start := 0; start < len(msgs); {
		end, bytes := start, 0
		for end < len(msgs) && end-start < n && (end == start || bytes+len(msgs[end].Literal) <= size) {
			bytes += len(msgs[end].Literal)
			end++
		}
		out = append(out, msgs[start:end])
		start = end
	}
	return out
}

func (a *Account) appendBatch(ctx context.Context, f *folder, batch []appendMessage) ([]imap.UID, error) {
	if a.caps.MultiAppend && len(batch) > 1 {
		uids, err := a.multiAppend(ctx, f, batch)
		if err == nil || !errors.Is(err, errAppenderUnavailable) {
			return uids, err
		}
		// The second connection could not be opened (a connection limit,
		// say): fall back to the main one.
		a.opts.Logger.Warn("imapstore: MULTIAPPEND connection unavailable, appending one by one", "user", a.username, "err", err)
	}
	uids := make([]imap.UID, 0, len(batch))
	for _, m := range batch {
		data, err := a.appendOne(ctx, f, m)
		if err != nil && isNonexistent(err) && !f.exists {
			if err = a.create(ctx, f); err == nil {
				data, err = a.appendOne(ctx, f, m)
			}
		}
		if err != nil {
			return nil, a.errorf(ctx, f, "append", err)
		}
		f.exists = true
		if data.UID != 0 {
			uids = append(uids, data.UID)
		}
	}
	if len(uids) != len(batch) {
		return nil, nil // no APPENDUID
	}
	return uids, nil
}

func (a *Account) appendOne(ctx context.Context, f *folder, m appendMessage) (*imap.AppendData, error) {
	var flags []imap.Flag
	for _, fl := range m.Flags {
		flags = append(flags, imap.Flag(fl))
	}
	cmd := a.c.Append(f.name, int64(len(m.Literal)), &imap.AppendOptions{Flags: flags, Time: m.Date})
	if _, err := cmd.Write(m.Literal); err != nil {
		cmd.Close()
		return nil, err
	}
	if err := cmd.Close(); err != nil {
		return nil, err
	}
	return cmd.Wait()
}

var errAppenderUnavailable = errors.New("imapstore: MULTIAPPEND connection unavailable")

func (a *Account) multiAppend(ctx context.Context, f *folder, batch []appendMessage) ([]imap.UID, error) {
	if a.appender == nil {
		w, err := dialMultiAppender(ctx, &maDialOptions{
			Address:   a.opts.Address,
			TLS:       a.opts.TLS,
			TLSConfig: a.tlsConfig(),
			Timeout:   a.opts.DialTimeout,
			Origin:    a.origin,
			wrap:      a.opts.wrapAppender,
		}, a.username, a.password)
		if err != nil {
			return nil, errors.Join(errAppenderUnavailable, err)
		}
		a.appender = w
	}
	_, raw, err := a.appender.Append(ctx, f.name, batch)
	if err != nil {
		var rerr *maResponseError
		if errors.As(err, &rerr) && rerr.Code == "TRYCREATE" && !f.exists {
			if err := a.create(ctx, f); err != nil {
				return nil, err
			}
			_, raw, err = a.appender.Append(ctx, f.name, batch)
		}
	}
	if err != nil {
		var rerr *maResponseError
		if !errors.As(err, &rerr) {
			// The connection is in an unknown state: open a new one next time.
			a.appender.Close()
			a.appender = nil
		}
		return nil, a.errorf(ctx, f, "multiappend", err)
	}
	f.exists = true
	if raw == nil {
		return nil, nil
	}
	uids := make([]imap.UID, len(raw))
	for i, u := range raw {
		uids[i] = imap.UID(u)
	}
	return uids, nil
}

// newAppendMessage is how every store message goes in: \Seen (an item is
// not unread mail), INTERNALDATE now.
func newAppendMessage(literal []byte, now time.Time) appendMessage {
	return appendMessage{Flags: []string{`\Seen`}, Date: now, Literal: literal}
}
