package dav

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"syncml-imap/pim"
)

// Sync tokens (RFC 6578) and getctag name the store's sync points. A
// DAV client keeps its own state, so the server keeps no map per client:
// what changed since a token is the store's Changes since the point the
// token names. Each point a token was given out for is a state record,
// dav/<kind>/<token>, the last maxTokens of them per collection; an
// older token is refused (valid-sync-token), and the client lists the
// collection again.
//
// A token is "<seq>-<head>": seq orders the records (seconds, hex), head
// is the point's head (pim.QuickStore: IMAP's UIDVALIDITY, UIDNEXT and
// HIGHESTMODSEQ), so that "nothing changed since" costs one STATUS and
// reads no record. The same folder state always gets the same token.

const (
	tokenURI  = "urn:syncml-imap:sync:"
	maxTokens = 16
)

func tokenPrefix(kind pim.Kind) string { return "dav/" + string(kind) + "/" }

// headOf is the head part of a token for point.
func (q *request) headOf(kind pim.Kind, point []byte) string {
	if qs, ok := q.st.(pim.QuickStore); ok {
		if h := qs.PointHead(kind, point); h != nil {
			return hex.EncodeToString(h)
		}
	}
	sum := sha256.Sum256(point)
	return "p" + hex.EncodeToString(sum[:12])
}

// tokenFor records point as a sync token of kind's collection (or finds
// the record already there) and returns the token's URI.
func (q *request) tokenFor(kind pim.Kind, point []byte) (string, error) {
	ctx := q.r.Context()
	head := q.headOf(kind, point)
	prefix := tokenPrefix(kind)
	keys, err := q.st.ListState(ctx, prefix)
	if err != nil {
		return "", storeError(err)
	}
	type rec struct {
		seq int64
		key string
	}
	var recs []rec
	var last int64
	for _, k := range keys {
		tok := strings.TrimPrefix(k, prefix)
		s, h, ok := strings.Cut(tok, "-")
		seq, err := strconv.ParseInt(s, 16, 64)
		if !ok || err != nil {
			continue
		}
		if h == head {
			return tokenURI + tok, nil
		}
		recs = append(recs, rec{seq, k})
		last = max(last, seq)
	}
	seq := max(time.Now().Unix(), last+1)
	tok := strconv.FormatInt(seq, 16) + "-" + head
	if err := q.st.SaveState(ctx, prefix+tok, point); err != nil {
		return "", storeError(err)
	}
	slices.SortFunc(recs, func(a, b rec) int { return int(a.seq - b.seq) })
	for len(recs) >= maxTokens {
		// Not fatal: an old token left is only refused later.
		if err := q.st.DeleteState(ctx, recs[0].key); err != nil {
			q.h.log().Warn("DAV: remove an old sync token", "user", q.user, "err", err)
		}
		recs = recs[1:]
	}
	return tokenURI + tok, nil
}

// currentToken is the token of c's collection as it is now.
func (q *request) currentToken(c *collection) (string, error) {
	v, err := q.versioner()
	if err != nil {
		return "", err
	}
	_, point, err := v.Versions(q.r.Context(), c.kind)
	if err != nil {
		return "", storeError(err)
	}
	return q.tokenFor(c.kind, point)
}

// syncCollectionReq is a sync-collection REPORT body.
type syncCollectionReq struct {
	XMLName   xml.Name  `xml:"DAV: sync-collection"`
	SyncToken string    `xml:"sync-token"`
	SyncLevel string    `xml:"sync-level"`
	Prop      *propList `xml:"prop"`
}

func isSyncCollection(body []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(body))
	for {
		t, err := d.Token()
		if err != nil {
			return false
		}
		if se, ok := t.(xml.StartElement); ok {
			return se.Name == dav("sync-collection")
		}
	}
}

var errInvalidToken = errors.New("dav: sync token unknown or too old")

func (q *request) invalidToken() {
	q.w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	q.w.WriteHeader(http.StatusForbidden)
	q.w.Write([]byte(xml.Header + `<d:error xmlns:d="DAV:"><d:valid-sync-token/></d:error>`))
}

// syncCollection answers a sync-collection REPORT: the members changed
// since the token (all of them without one), those gone as 404, and the
// new token.
func (q *request) syncCollection(body []byte) {
	var req syncCollectionReq
	if err := xml.Unmarshal(body, &req); err != nil {
		http.Error(q.w, "not a sync-collection body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if l := strings.TrimSpace(req.SyncLevel); l != "" && l != "1" {
		http.Error(q.w, "sync-level 1 only: the collections hold no collections", http.StatusForbidden)
		return
	}
	if req.Prop == nil {
		req.Prop = &propList{Names: []anyElement{{dav("getetag")}}}
	}
	ctx := q.r.Context()
	c := q.res.coll
	v, err := q.versioner()
	if err != nil {
		q.fail(err)
		return
	}
	versions, point, err := v.Versions(ctx, c.kind)
	if err != nil {
		q.fail(storeError(err))
		return
	}
	changed := sortedKeys(versions)
	var gone []string
	if tok := strings.TrimSpace(req.SyncToken); tok != "" {
		changed, gone, point, err = q.changesSince(c, tok)
		if errors.Is(err, errInvalidToken) {
			q.invalidToken()
			return
		}
		if err != nil {
			q.fail(err)
			return
		}
		if changed == nil && gone == nil {
			// Nothing changed: the same token.
			m := newMultistatus()
			m.send(q.w, tok)
			return
		}
		if versions, _, err = v.Versions(ctx, c.kind); err != nil {
			q.fail(storeError(err))
			return
		}
	}
	newTok, err := q.tokenFor(c.kind, point)
	if err != nil {
		q.fail(err)
		return
	}
	data, err := q.dataOf(c, changed, req.Prop)
	if err != nil {
		q.fail(err)
		return
	}
	m := newMultistatus()
	h := q.hrefs()
	preq := &propfindReq{Prop: req.Prop}
	for _, id := range changed {
		ver, ok := versions[id]
		if !ok {
			gone = append(gone, id) // deleted meanwhile
			continue
		}
		p := memberProps(c, ver)
		if d, ok := data[id]; ok {
			p[xml.Name{Space: nsCard, Local: "address-data"}] = d
			p[xml.Name{Space: nsCal, Local: "calendar-data"}] = d
		}
		m.response(h.object(q.user, c, id), p, preq)
	}
	for _, id := range gone {
		m.gone(h.object(q.user, c, id))
	}
	m.send(q.w, newTok)
}

// changesSince lists what changed in c since token tok: nil, nil when
// nothing did (point then nil too).
func (q *request) changesSince(c *collection, tok string) (changed, gone []string, point []byte, err error) {
	ctx := q.r.Context()
	name, ok := strings.CutPrefix(tok, tokenURI)
	if !ok {
		return nil, nil, nil, errInvalidToken
	}
	_, head, ok := strings.Cut(name, "-")
	if !ok {
		return nil, nil, nil, errInvalidToken
	}
	if qs, ok := q.st.(pim.QuickStore); ok && !strings.HasPrefix(head, "p") {
		if raw, err := hex.DecodeString(head); err == nil {
			same, err := qs.Unchanged(ctx, c.kind, raw)
			if err != nil {
				return nil, nil, nil, storeError(err)
			}
			if same {
				return nil, nil, nil, nil
			}
		}
	}
	old, err := q.st.LoadState(ctx, tokenPrefix(c.kind)+name)
	if err != nil {
		return nil, nil, nil, storeError(err)
	}
	if old == nil {
		return nil, nil, nil, errInvalidToken
	}
	ch, err := q.st.Changes(ctx, c.kind, old)
	if errors.Is(err, pim.ErrSyncPointInvalid) {
		return nil, nil, nil, errInvalidToken
	}
	if err != nil {
		return nil, nil, nil, storeError(err)
	}
	if len(ch.Added)+len(ch.Modified)+len(ch.Deleted) == 0 {
		return nil, nil, nil, nil
	}
	changed = append(slices.Clone(ch.Added), ch.Modified...)
	slices.Sort(changed)
	gone = slices.Sorted(slices.Values(ch.Deleted))
	if changed == nil {
		changed = []string{}
	}
	if gone == nil {
		gone = []string{}
	}
	return changed, gone, ch.Point, nil
}

// dataOf reads the items ids when props asks for their data, as the
// escaped text of address-data / calendar-data.
func (q *request) dataOf(c *collection, ids []string, props *propList) (map[string]string, error) {
	var want bool
	for _, n := range props.names() {
		if n == (xml.Name{Space: nsCard, Local: "address-data"}) || n == (xml.Name{Space: nsCal, Local: "calendar-data"}) {
			want = true
		}
	}
	if !want || len(ids) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(ids))
	for rest := ids; len(rest) > 0; {
		n := min(len(rest), getBatch)
		items, err := q.st.Get(q.r.Context(), c.kind, rest[:n]...)
		if err != nil {
			return nil, storeError(err)
		}
		for _, it := range items {
			if it != nil {
				out[it.ID] = textXML(string(it.Data))
			}
		}
		rest = rest[n:]
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
