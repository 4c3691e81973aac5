package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"syncml-imap/syncml"
)

// transport carries SyncML messages over HTTP (OMA-TS-SyncML_HTTPBinding
// 1.2: one POST a message, the reply in its response) in one encoding.
type transport struct {
	http *http.Client
	enc  syncml.Encoding
	// maxMsgSize is the client's MaxMsgSize: a larger reply is the
	// server's error.
	maxMsgSize int64
	timeout    time.Duration
}

// roundTrip is what one POST cost.
type roundTrip struct {
	latency       time.Duration // from sending the request to the last byte of the reply
	sent, replied int
	// breach is how the reply broke the protocol without stopping the
	// session; empty: it did not.
	breach string
}

// post sends m to url and returns the server's reply.
func (t *transport) post(ctx context.Context, url string, m *syncml.Message) (*syncml.Message, roundTrip, error) {
	var rt roundTrip
	body, err := t.encode(m)
	if err != nil {
		return nil, rt, err
	}
	rt.sent = len(body)
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, rt, fmt.Errorf("loadgen: request: %w", err)
	}
	req.Header.Set("Content-Type", t.enc.ContentType())
	req.Header.Set("Accept", t.enc.ContentType())
	start := time.Now()
	resp, err := t.http.Do(req)
	if err != nil {
		return nil, rt, fmt.Errorf("loadgen: POST message %s: %w", m.Hdr.MsgID, err)
	}
	// Read past our limit, to say by how much the server went over it.
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4*t.maxMsgSize))
	resp.Body.Close()
	rt.latency = time.Since(start)
	rt.replied = len(data)
	if err != nil {
		return nil, rt, fmt.Errorf("loadgen: reading the reply to message %s: %w", m.Hdr.MsgID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, rt, fmt.Errorf("loadgen: message %s: HTTP %s: %s", m.Hdr.MsgID, resp.Status, firstLine(data))
	}
	if int64(len(data)) >= 4*t.maxMsgSize {
		return nil, rt, fmt.Errorf("loadgen: the reply to message %s is over 4 times our MaxMsgSize %d", m.Hdr.MsgID, t.maxMsgSize)
	}
	if int64(len(data)) > t.maxMsgSize {
		// A phone with a buffer of exactly its MaxMsgSize would fail
		// here; we go on, so that the rest is measured, and report it.
		rt.breach = fmt.Sprintf("the reply to message %s is %d bytes, over our MaxMsgSize %d", m.Hdr.MsgID, len(data), t.maxMsgSize)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != t.enc.ContentType() {
		return nil, rt, fmt.Errorf("loadgen: the reply to message %s is %q, not %s", m.Hdr.MsgID, mt, t.enc.ContentType())
	}
	root, err := syncml.Decode(t.enc, data)
	if err != nil {
		return nil, rt, fmt.Errorf("loadgen: the reply to message %s: %w", m.Hdr.MsgID, err)
	}
	reply, err := syncml.ParseMessage(root)
	if err != nil {
		return nil, rt, fmt.Errorf("loadgen: the reply to message %s: %w", m.Hdr.MsgID, err)
	}
	return reply, rt, nil
}

func (t *transport) encode(m *syncml.Message) ([]byte, error) {
	var b bytes.Buffer
	if err := syncml.Encode(t.enc, &b, m.Element()); err != nil {
		return nil, fmt.Errorf("loadgen: encoding message %s: %w", m.Hdr.MsgID, err)
	}
	return b.Bytes(), nil
}

// size is m's encoded size: what counts against the server's MaxMsgSize.
func (t *transport) size(m *syncml.Message) int {
	var c countingWriter
	if err := syncml.Encode(t.enc, &c, m.Element()); err != nil {
		return 1 << 30 // cannot happen for our own messages; never fits
	}
	return int(c)
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

func firstLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
