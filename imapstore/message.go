package imapstore

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"time"

	"github.com/emersion/go-message"
	// Registers charset readers: vCards in ISO-8859-1 or Windows-1252
	// parts dropped in by other programs are read as UTF-8.
	_ "github.com/emersion/go-message/charset"
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Header fields the store writes on every item message. They let the store
// list a folder from headers alone, without parsing a body.
const (
	headerItemID   = "X-SyncML-Item-ID"   // the stable item ID (GUID)
	headerItemType = "X-SyncML-Item-Type" // e.g. "text/vcard; version=3.0"
	headerStateKey = "X-SyncML-State-Key" // on state messages
)

// headerValue returns one field of a header block, as FETCH
// BODY[HEADER.FIELDS (...)] returns it (RFC 3501, 6.4.5), unfolded and
// trimmed; "" when the block has none. The fields end at the blank line
// (what follows is no header), or at a line that is no field, which a
// server does not send in such a block.
func headerValue(raw []byte, name string) string {
	// A buffer of the block's size: a folder's listing reads one block a
	// message, and bufio's default would be 4 KiB each.
	h, _ := textproto.ReadHeader(bufio.NewReaderSize(bytes.NewReader(raw), len(raw)+1))
	return h.Get(name)
}

// maxForeignSize bounds what the store reads of a message it did not write
// (a mail dropped into a folder) when looking for items in it.
const maxForeignSize = 16 << 20

// buildItemMessage renders an item as a message a person can read in any
// mail client: a Subject naming it, Date = last modification, a short
// text/plain summary and the item itself as an attachment.
func buildItemMessage(kind Kind, id string, data []byte, info itemInfo, from string, now time.Time) ([]byte, error) {
	kind = kind.Base() // a sub-folder holds what its base kind holds
	modified := info.Modified
	if modified.IsZero() || modified.After(now.Add(24*time.Hour)) {
		modified = now
	}
	var h mail.Header
	h.SetDate(modified)
	h.SetSubject(oneLine(info.Subject))
	h.SetAddressList("From", []*mail.Address{{Name: "SyncML", Address: from}})
	h.Set("Message-Id", "<"+id+"."+newGUID()[:8]+"@syncml-imap>")
	h.Set("MIME-Version", "1.0")
	h.Set(headerItemID, id)
	itemType := kind.MediaType()
	if info.Version != "" && isToken(info.Version) {
		itemType += "; version=" + info.Version
	}
	h.Set(headerItemType, itemType)
	h.SetContentType("multipart/mixed", nil)

	var buf bytes.Buffer
	w, err := mail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	var th mail.InlineHeader
	th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	th.Set("Content-Transfer-Encoding", "quoted-printable")
	tw, err := w.CreateSingleInline(th)
	if err != nil {
		return nil, err
	}
	io.WriteString(tw, strings.Join(info.Summary, "\r\n")+"\r\n")
	if err := tw.Close(); err != nil {
		return nil, err
	}

	var ah mail.AttachmentHeader
	params := map[string]string{"charset": "utf-8"}
	if kind != KindContacts {
		params["component"] = kind.component()
	}
	ah.SetContentType(kind.MediaType(), params)
	ah.SetFilename(info.Filename)
	ah.Set("Content-Transfer-Encoding", "quoted-printable")
	aw, err := w.CreateAttachment(ah)
	if err != nil {
		return nil, err
	}
	aw.Write(data)
	if err := aw.Close(); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return s != ""
}

// parsedMessage is an item message read back.
type parsedMessage struct {
	ID       string
	Date     time.Time
	Item     []byte   // the item part of one of our messages
	Payloads [][]byte // for a foreign message: every part that may hold items

	// What inForm compares, for one of our messages.
	Subject  string // decoded
	ItemType string // the item type header as it is
	Summary  string // the first text/plain part that is no attachment
	exact    bool   // Item is the part of the type the header names
	summary  bool   // Summary was found
}

// inForm reports whether the message is exactly what buildItemMessage
// makes of its item (info is inspectItem of Item): same Subject, summary
// and item type. A message a mail client saved with an edited attachment
// but the old Subject and summary is not.
func (pm *parsedMessage) inForm(kind Kind, info itemInfo) bool {
	if !pm.exact || !pm.summary {
		return false
	}
	itemType := kind.Base().MediaType()
	if info.Version != "" && isToken(info.Version) {
		itemType += "; version=" + info.Version
	}
	return pm.ItemType == itemType && oneLine(pm.Subject) == oneLine(subjectAsRead(oneLine(info.Subject))) &&
		plainText(pm.Summary) == plainText(strings.Join(info.Summary, "\n"))
}

// subjectAsRead is a Subject as a reader decodes it after the store
// wrote it: text that looks like an encoded word ("=?utf-8?q?...?=") is
// decoded, so the comparison must be with that, not with what was meant,
// or such an item would be rewritten on every read.
func subjectAsRead(s string) string {
	var h mail.Header
	h.SetSubject(s)
	v, err := h.Subject()
	if err != nil {
		return s
	}
	return v
}

// plainText is s without line-end and trailing-space differences.
func plainText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t\r")
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// parseItemMessage reads a message. For one of ours (with the item ID
// header) it returns the item part; for any other it returns every part
// that looks like vCard or iCalendar data (by media type or file name).
func parseItemMessage(kind Kind, raw []byte) (*parsedMessage, error) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return nil, fmt.Errorf("parse message: %w", err)
	}
	out := &parsedMessage{ID: strings.TrimSpace(e.Header.Get(headerItemID)), ItemType: e.Header.Get(headerItemType)}
	mh := mail.Header{Header: e.Header}
	if d, err := mh.Date(); err == nil {
		out.Date = d
	}
	out.Subject, _ = mh.Subject()
	var fallback []byte // an item part of another type, for an edited message
	want := ""
	if t := e.Header.Get(headerItemType); t != "" {
		want, _, _ = mime.ParseMediaType(t)
	}
	err = e.Walk(func(path []int, part *message.Entity, err error) error {
		if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
			return err
		}
		mt, _, _ := part.Header.ContentType()
		if strings.HasPrefix(mt, "multipart/") {
			return nil
		}
		if out.ID != "" {
			switch {
			case out.Item == nil && mt == want:
				out.Item, err = readPart(part)
				out.exact = true
				return err
			case !out.summary && mt == "text/plain" && !isAttachment(part):
				b, err := readPart(part)
				out.Summary, out.summary = string(b), true
				return err
			case out.Item == nil && fallback == nil && looksLikeItemPart(kind, mt, partFilename(part)):
				fallback, err = readPart(part)
				return err
			}
			return nil
		}
		if looksLikeItemPart(kind, mt, partFilename(part)) {
			b, err := readPart(part)
			if err != nil {
				return err
			}
			out.Payloads = append(out.Payloads, b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("parse message: %w", err)
	}
	if out.ID != "" && out.Item == nil {
		out.Item = fallback
	}
	if out.ID != "" && out.Item == nil {
		return nil, errors.New("parse message: item part missing")
	}
	return out, nil
}

// readPart returns a part's body: go-message has already undone the
// transfer encoding, and the charset of text parts where it knows it.
func readPart(part *message.Entity) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(part.Body, maxForeignSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxForeignSize {
		return nil, fmt.Errorf("part larger than %d bytes", maxForeignSize)
	}
	return b, nil
}

func isAttachment(part *message.Entity) bool {
	disp, _, err := part.Header.ContentDisposition()
	return err == nil && disp == "attachment"
}

func partFilename(part *message.Entity) string {
	if _, p, err := part.Header.ContentDisposition(); err == nil && p["filename"] != "" {
		return p["filename"]
	}
	if _, p, err := part.Header.ContentType(); err == nil {
		return p["name"]
	}
	return ""
}

func looksLikeItemPart(kind Kind, mediaType, filename string) bool {
	kind = kind.Base()
	ext := strings.ToLower(path.Ext(filename))
	if kind == KindContacts {
		switch mediaType {
		case "text/vcard", "text/x-vcard", "text/directory", "application/vcard":
			return true
		}
		return ext == ".vcf" || ext == ".vcard"
	}
	switch mediaType {
	case "text/calendar", "text/x-vcalendar", "application/ics", "application/calendar":
		return true
	}
	return ext == ".ics" || ext == ".vcs" || ext == ".ical" || ext == ".ifb"
}

// buildStateMessage renders one sync-state record. The data is opaque to
// the store; it goes base64 in an application/octet-stream part.
func buildStateMessage(key string, data []byte, from string, now time.Time) ([]byte, error) {
	var h mail.Header
	h.SetDate(now)
	h.SetSubject("SyncML state: " + oneLine(key))
	h.SetAddressList("From", []*mail.Address{{Name: "SyncML", Address: from}})
	h.Set("MIME-Version", "1.0")
	h.Set(headerStateKey, escapeStateKey(key))
	h.SetContentType("application/octet-stream", nil)
	h.Set("Content-Transfer-Encoding", "base64")
	var buf bytes.Buffer
	w, err := message.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, err
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func parseStateMessage(raw []byte) (key string, data []byte, err error) {
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		return "", nil, fmt.Errorf("parse state message: %w", err)
	}
	key, err = unescapeStateKey(strings.TrimSpace(e.Header.Get(headerStateKey)))
	if err != nil {
		return "", nil, err
	}
	data, err = io.ReadAll(e.Body)
	if err != nil {
		return "", nil, fmt.Errorf("parse state message: %w", err)
	}
	return key, data, nil
}

// State keys (device IDs such as "IMEI:35...", database names) are escaped
// to header-safe ASCII: every byte outside [A-Za-z0-9 . _ : / @ -] as %XX.
func escapeStateKey(key string) string {
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._:/@-", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func unescapeStateKey(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("bad state key %q", s)
		}
		var c byte
		if _, err := fmt.Sscanf(s[i+1:i+3], "%02X", &c); err != nil {
			return "", fmt.Errorf("bad state key %q", s)
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String(), nil
}
