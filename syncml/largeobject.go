package syncml

import (
	"strconv"
	"unicode/utf8"
)

// Large objects (OMA-TS-DS_Protocol 1.2, 6.8; RepPro 1.2 MoreData): an
// item larger than a message travels in chunks, one per message, each the
// last item of its message. The first chunk says the total Size; every
// chunk but the last carries MoreData and is answered 213; the last is
// answered as the whole item would be, or 424 when the sizes disagree.

// partialItem is a chunked item from the client, being assembled.
type partialItem struct {
	db   *dbSession
	op   ChangeOp
	luid string
	size int64
	data []byte
	cmd  *Change // the first chunk's command, for its Meta (Type, Format)
}

// defaultMaxObjSize is the largest item the server accepts, announced as
// MaxObjSize (SyncML 1.1+).
const defaultMaxObjSize = 4 << 20

// chunk handles one client item that is, or continues, a large object.
// It returns the whole item when the last chunk arrived (done), and
// otherwise sets the item's status itself (213, 411, 413, 424).
func (d *dbSession) chunk(out *outbox, ch *Change, it Item, luid string, st *Status) (whole Item, cmd *Change, done bool) {
	s := d.s
	p := s.partial
	if p != nil && (p.db != d || p.op != ch.Op || p.luid != luid) {
		// Another item before the last chunk: the object is abandoned
		// (Alert 223, "no end of data").
		s.abandonPartial(out)
		p = nil
	}
	var text []byte
	if it.Data != nil {
		text = []byte(it.Data.Text)
	}
	if p == nil {
		if !it.MoreData {
			return it, ch, true // an ordinary item
		}
		size := metaSize(it.Meta, ch.Meta)
		switch {
		case size <= 0:
			st.Data = StatusSizeRequired.String()
			return Item{}, nil, false
		case size > s.srv.opts.MaxObjSize:
			st.Data = StatusEntityTooLarge.String()
			return Item{}, nil, false
		}
		s.partial = &partialItem{db: d, op: ch.Op, luid: luid, size: size, cmd: ch}
		p = s.partial
	}
	p.data = append(p.data, text...)
	if int64(len(p.data)) > p.size+p.size/2+1024 {
		// Far more than announced (even allowing for base64): give up.
		s.partial = nil
		st.Data = StatusSizeMismatch.String()
		return Item{}, nil, false
	}
	if it.MoreData {
		st.Data = StatusChunkAccepted.String()
		return Item{}, nil, false
	}
	s.partial = nil
	whole = it
	whole.Data = &Data{Text: string(p.data)}
	whole.MoreData = false
	if it.Meta == nil && p.cmd.Meta != nil {
		whole.Meta = p.cmd.Meta
	}
	decoded, ok := itemData(p.cmd, whole)
	if !ok || (int64(len(decoded)) != p.size && int64(len(p.data)) != p.size) {
		st.Data = StatusSizeMismatch.String()
		return Item{}, nil, false
	}
	return whole, p.cmd, true
}

// abandonPartial tells the client its chunked item is dropped.
func (s *session) abandonPartial(out *outbox) {
	p := s.partial
	s.partial = nil
	s.log.Warn("chunked item abandoned", "database", p.db.db, "luid", p.luid)
	out.add(&Alert{Data: AlertNoEndOfData.String(), Items: []Item{{
		Target: &Loc{LocURI: p.luid},
		Source: &Loc{LocURI: p.db.serverURI},
	}}})
}

func metaSize(metas ...*Meta) int64 {
	for _, m := range metas {
		if m != nil && m.Size > 0 {
			return m.Size
		}
	}
	return 0
}

// splitChange cuts an outgoing Add or Replace so that its first part fits
// in room bytes of encoded message: the first chunk (MoreData, with the
// total Size when it is the first of the object) and the rest, which goes
// in the next message. ok is false when nothing useful fits.
func splitChange(c *Change, room int64, first bool) (head, rest *Change, ok bool) {
	if len(c.Items) != 1 || c.Items[0].Data == nil || (c.Op != OpAdd && c.Op != OpReplace) {
		return nil, nil, false
	}
	it := c.Items[0]
	text := it.Data.Text
	// The envelope of the chunk without its data.
	probe := *c
	probe.Items = []Item{it}
	probe.Items[0].Data = &Data{}
	probe.Items[0].MoreData = true
	probe.Items[0].Meta = &Meta{Size: int64(len(text)) + 1<<30} // room for the digits
	probe.SetID("999999")                                       // numbered when the message is
	room -= encodedSize(commandElement(&probe))
	if room < 256 {
		return nil, nil, false
	}
	// Take whole runes while their escaped size fits.
	n, used := 0, int64(0)
	for n < len(text) {
		r, w := utf8.DecodeRuneInString(text[n:])
		cost := int64(w)
		switch r {
		case '&':
			cost = 5
		case '<', '>':
			cost = 4
		case '\r':
			cost = 5
		}
		if used+cost > room {
			break
		}
		used += cost
		n += w
	}
	// Never cut next to white space: clients trim the text of a chunk's
	// Data (SyncEvolution's engine does, and then reports 424), and vCard
	// folding puts CRLF and a space at every line end.
	for cut := n; cut > n/2; cut-- {
		if cut < len(text) && !isSpaceByte(text[cut-1]) && !isSpaceByte(text[cut]) && utf8.RuneStart(text[cut]) {
			n = cut
			break
		}
	}
	if n == 0 || n == len(text) {
		return nil, nil, false
	}
	h := *c
	hi := it
	hi.Data = &Data{Text: text[:n]}
	hi.MoreData = true
	if first {
		hi.Meta = &Meta{Size: int64(len(text))}
		if it.Meta != nil {
			m := *it.Meta
			m.Size = int64(len(text))
			hi.Meta = &m
		}
	}
	h.Items = []Item{hi}
	r := *c
	ri := it
	ri.Data = &Data{Text: text[n:]}
	r.Items = []Item{ri}
	r.continued = true
	return &h, &r, true
}

func isSpaceByte(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// sizeLabel is for logs.
func sizeLabel(n int) string { return strconv.Itoa(n) + " bytes" }
