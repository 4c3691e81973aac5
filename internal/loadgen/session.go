package loadgen

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"syncml-imap/syncml"
)

// Stats are what one session did and cost.
type Stats struct {
	// Mode is the sync mode the server agreed to (after any 508).
	Mode syncml.AlertCode
	// Requests are the HTTP round trips; Latency their sum (the time the
	// server spent answering, plus the network); Wall the whole session,
	// the client's own work included.
	Requests      int
	Latency, Wall time.Duration
	// BytesSent and BytesReceived are the encoded messages.
	BytesSent, BytesReceived int64
	// ItemsSent are the device's Add/Replace/Delete commands; ItemsAcked
	// those the server answered with a 2xx status.
	ItemsSent, ItemsAcked int
	// Added, Replaced, Deleted: the server's changes the device took.
	Added, Replaced, Deleted int
	// MapsSent are the Map items sent; MapsAcked those in a Map the server
	// answered with 200.
	MapsSent, MapsAcked int
	// PackageMessages is how many messages the device's package 3 took.
	PackageMessages int
	// Breaches are the server's breaches of the protocol that did not
	// stop the session (a reply over our MaxMsgSize): failed checks, but
	// the session's figures stand.
	Breaches []string
}

// Received is how many changes the server sent.
func (st *Stats) Received() int { return st.Added + st.Replaced + st.Deleted }

// ErrAuth is a login the server refused (401 or 407).
var ErrAuth = errors.New("loadgen: authentication refused")

// session is one session of a device: its messages, what the server owes
// it and what it owes the server.
type session struct {
	dev *Device
	tr  *transport
	// url is where the next message goes: the endpoint, then the
	// server's RespURI; target is the endpoint as first addressed (the
	// SyncHdr Target of every message).
	url, target string
	id          string // SessionID
	msgID       int    // our last MsgID
	serverMax   int64  // the server's MaxMsgSize; 0: not said yet
	// owed are the statuses (and Results) answering the server's last
	// message: they open our next one.
	owed []syncml.Command
	sent map[string]map[string]*sentCmd // by our MsgID, then CmdID

	alertCode   int              // the server's status to our sync Alert
	serverAlert *syncml.Alert    // the server's own sync Alert
	alertAnswer *syncml.Status   // our status to it (becomes 508 on a stale anchor)
	serverSync  bool             // the server sent its Sync (package 4)
	maps        []syncml.MapItem // for the server's Adds
	chunk       *chunk           // a server item coming in pieces
	itemErrs    []string         // item statuses that were not 2xx, and wrong server changes
	stats       Stats
}

// sentCmd is one command we sent, until the server answers it.
type sentCmd struct {
	name     string
	alert    string // its code, for an Alert
	items    int    // Map items it carries
	answered bool
}

// chunk is a large object the server sends in pieces (MoreData;
// OMA-TS-SyncML_RepPro 1.2, 7: its first piece carries the Size).
type chunk struct {
	op             syncml.ChangeOp
	source, target string
	size           int64
	data           strings.Builder
}

func newSession(d *Device, tr *transport, url string) *session {
	d.sessions++
	return &session{dev: d, tr: tr, url: url, target: url, id: strconv.Itoa(d.sessions),
		sent: map[string]map[string]*sentCmd{}}
}

// build makes our next message of cmds (numbered, nothing added). It has
// no other effect, so that sizes can be tried.
func (s *session) build(cmds []syncml.Command, final bool) *syncml.Message {
	m := &syncml.Message{Hdr: syncml.SyncHdr{VerDTD: "1.2", VerProto: "SyncML/1.2", SessionID: s.id,
		MsgID:  strconv.Itoa(s.msgID + 1),
		Target: syncml.Loc{LocURI: s.target}, Source: syncml.Loc{LocURI: s.dev.ID},
		Meta: &syncml.Meta{MaxMsgSize: s.tr.maxMsgSize}}, Body: cmds, Final: final}
	if s.msgID == 0 {
		cred := base64.StdEncoding.EncodeToString([]byte(s.dev.account.User + ":" + s.dev.account.Password))
		m.Hdr.Cred = &syncml.Cred{Meta: &syncml.Meta{Type: "syncml:auth-basic", Format: "b64"}, Data: cred}
	}
	number(cmds)
	return m
}

// number gives the commands their CmdIDs, 1, 2, 3... in document order
// (the commands inside a Sync included).
func number(cmds []syncml.Command) {
	id := 0
	var walk func([]syncml.Command)
	walk = func(cs []syncml.Command) {
		for _, c := range cs {
			id++
			c.SetID(strconv.Itoa(id))
			if sy, ok := c.(*syncml.Sync); ok {
				walk(sy.Commands)
			}
		}
	}
	walk(cmds)
}

// limit is the largest message the server takes.
func (s *session) limit() int {
	if s.serverMax > 0 {
		return int(s.serverMax)
	}
	// Not said yet (package 1 is far smaller): the smallest usual limit.
	return 65535
}

// fit is how many of n items the next message takes (after what is
// owed): cmds(k) are its commands with the first k items; est(i) is the
// size item i adds. One item goes alone whatever its size: the server
// decides what to do with it (413 or large-object chunks).
func (s *session) fit(n int, cmds func(k int) []syncml.Command, est func(i int) int) int {
	const margin = 64 // a MsgID or CmdID a digit longer
	limit := s.limit()
	with := func(k int) []syncml.Command { return append(append([]syncml.Command(nil), s.owed...), cmds(k)...) }
	size := s.tr.size(s.build(with(0), true)) + margin
	k := 0
	for k < n && size+est(k) <= limit {
		size += est(k)
		k++
	}
	if k == 0 && n > 0 {
		return 1
	}
	for k > 1 && s.tr.size(s.build(with(k), true))+margin > limit {
		k--
	}
	return k
}

// send sends what is owed and cmds as our next message and reads the
// reply: the statuses it carries are checked, its commands are carried
// out and answered (in s.owed, for the next message).
func (s *session) send(ctx context.Context, cmds []syncml.Command, final bool) (*syncml.Message, error) {
	body := append(s.owed, cmds...)
	m := s.build(body, final)
	if size := s.tr.size(m); size > s.limit() {
		return nil, fmt.Errorf("loadgen: message %s is %d bytes, over the server's MaxMsgSize %d", m.Hdr.MsgID, size, s.limit())
	}
	s.msgID++
	s.owed = nil
	s.register(m)
	reply, rt, err := s.tr.post(ctx, s.url, m)
	s.stats.Requests++
	s.stats.Latency += rt.latency
	s.stats.BytesSent += int64(rt.sent)
	s.stats.BytesReceived += int64(rt.replied)
	if rt.breach != "" {
		s.stats.Breaches = append(s.stats.Breaches, rt.breach)
	}
	if err != nil {
		return nil, err
	}
	if reply.Hdr.RespURI != "" {
		s.url = reply.Hdr.RespURI
	}
	if mm := reply.Hdr.Meta; mm != nil && mm.MaxMsgSize > 0 {
		s.serverMax = mm.MaxMsgSize
	}
	if err := s.receive(reply); err != nil {
		return nil, err
	}
	return reply, nil
}

// register notes the commands of m that the server must answer.
func (s *session) register(m *syncml.Message) {
	byID := map[string]*sentCmd{}
	s.sent[m.Hdr.MsgID] = byID
	byID["0"] = &sentCmd{name: "SyncHdr"}
	var walk func([]syncml.Command)
	walk = func(cs []syncml.Command) {
		for _, c := range cs {
			sc := &sentCmd{name: c.CmdName()}
			switch c := c.(type) {
			case *syncml.Status:
				continue // statuses are not answered
			case *syncml.Alert:
				sc.alert = c.Data
			case *syncml.Sync:
				walk(c.Commands)
			case *syncml.Change:
				s.stats.ItemsSent += len(c.Items)
			case *syncml.Map:
				sc.items = len(c.MapItems)
				s.stats.MapsSent += len(c.MapItems)
			}
			byID[c.ID()] = sc
		}
	}
	walk(m.Body)
}

// unanswered names the commands the server never answered.
func (s *session) unanswered() []string {
	var out []string
	for msg, byID := range s.sent {
		for id, c := range byID {
			if !c.answered {
				out = append(out, fmt.Sprintf("%s %s/%s", c.name, msg, id))
			}
		}
	}
	return out
}

// receive takes the server's message: checks its statuses, carries out
// and answers its commands.
func (s *session) receive(r *syncml.Message) error {
	answer := !r.Hdr.NoResp
	owe := func(st *syncml.Status) {
		if answer {
			st.MsgRef = r.Hdr.MsgID
			s.owed = append(s.owed, st)
		}
	}
	owe(&syncml.Status{CmdRef: "0", Cmd: "SyncHdr", TargetRef: []string{r.Hdr.Target.LocURI},
		SourceRef: []string{r.Hdr.Source.LocURI}, Data: syncml.StatusOK.String()})
	for _, c := range r.Body {
		switch c := c.(type) {
		case *syncml.Status:
			if err := s.checkStatus(c); err != nil {
				return err
			}
		case *syncml.Alert:
			st := &syncml.Status{CmdRef: c.CmdID, Cmd: "Alert", Data: syncml.StatusOK.String()}
			code, _ := strconv.Atoi(c.Data)
			switch ac := syncml.AlertCode(code); {
			case ac == syncml.AlertNextMessage:
			case ac >= syncml.AlertTwoWay && ac <= syncml.AlertRefreshFromServer && len(c.Items) > 0:
				it := c.Items[0]
				st.TargetRef, st.SourceRef = []string{locURI(it.Target)}, []string{locURI(it.Source)}
				if locURI(it.Target) != localDB {
					return fmt.Errorf("loadgen: the server alerts a sync of %q, not of our %s", locURI(it.Target), localDB)
				}
				s.serverAlert, s.alertAnswer = c, st
				if it.Meta != nil && it.Meta.Anchor != nil {
					// The Status carries the server's Next back
					// (OMA-TS-DS_Protocol 1.2, 5.4.2).
					st.Items = []syncml.Item{{Data: &syncml.Data{XML: &syncml.Element{Name: "Anchor", NS: syncml.NSMetInf,
						Children: []*syncml.Element{{Name: "Next", Text: it.Meta.Anchor.Next}}}}}}
				}
			default:
				st.Data = syncml.StatusNotSupported.String()
				s.itemErrs = append(s.itemErrs, "the server sent Alert "+c.Data)
			}
			if !c.NoResp {
				owe(st)
			}
		case *syncml.Access:
			st := &syncml.Status{CmdRef: c.CmdID, Cmd: c.Op, Data: syncml.StatusOK.String()}
			if len(c.Items) > 0 {
				if c.Op == "Put" {
					st.SourceRef = []string{locURI(c.Items[0].Source)}
				} else {
					st.TargetRef = []string{locURI(c.Items[0].Target)}
				}
			}
			if !c.NoResp {
				owe(st)
			}
			if c.Op == "Get" {
				s.owed = append(s.owed, &syncml.Results{MsgRef: r.Hdr.MsgID, CmdRef: c.CmdID,
					Meta:  &syncml.Meta{Type: s.devInfType()},
					Items: []syncml.Item{{Source: &syncml.Loc{LocURI: "./devinf12"}, Data: &syncml.Data{XML: s.dev.devInf().Element("1.2")}}}})
			}
		case *syncml.Results:
			owe(&syncml.Status{CmdRef: c.CmdID, Cmd: "Results", Data: syncml.StatusOK.String()})
		case *syncml.Sync:
			st := &syncml.Status{CmdRef: c.CmdID, Cmd: "Sync", TargetRef: []string{locURI(c.Target)},
				SourceRef: []string{locURI(c.Source)}, Data: syncml.StatusOK.String()}
			if locURI(c.Target) != localDB {
				st.Data = syncml.StatusNotFound.String()
			}
			if !c.NoResp {
				owe(st)
			}
			s.serverSync = true
			for _, sub := range c.Commands {
				ch, ok := sub.(*syncml.Change)
				if !ok {
					owe(&syncml.Status{CmdRef: sub.ID(), Cmd: sub.CmdName(), Data: syncml.StatusNotImplemented.String()})
					s.itemErrs = append(s.itemErrs, "the server sent "+sub.CmdName()+" in its Sync")
					continue
				}
				for _, st := range s.apply(ch) {
					if !ch.NoResp {
						owe(st)
					}
				}
			}
		default:
			// Nothing else comes from a server outside a Sync.
			owe(&syncml.Status{CmdRef: c.ID(), Cmd: c.CmdName(), Data: syncml.StatusCommandNotAllowed.String()})
			s.itemErrs = append(s.itemErrs, "the server sent "+c.CmdName())
		}
	}
	return nil
}

func (s *session) devInfType() string {
	if s.tr.enc == syncml.EncodingWBXML {
		return "application/vnd.syncml-devinf+wbxml"
	}
	return "application/vnd.syncml-devinf+xml"
}

// checkStatus takes the server's answer to one of our commands.
func (s *session) checkStatus(st *syncml.Status) error {
	sc := s.sent[st.MsgRef][st.CmdRef]
	if sc == nil {
		return fmt.Errorf("loadgen: the server answers %s %s/%s, which we never sent", st.Cmd, st.MsgRef, st.CmdRef)
	}
	code, _ := strconv.Atoi(st.Data)
	if !strings.EqualFold(sc.name, st.Cmd) {
		return fmt.Errorf("loadgen: the server answers %s/%s as %s, it was %s", st.MsgRef, st.CmdRef, st.Cmd, sc.name)
	}
	if sc.answered {
		// One status a command: our item commands carry one item each.
		return fmt.Errorf("loadgen: the server answers %s %s/%s twice", st.Cmd, st.MsgRef, st.CmdRef)
	}
	sc.answered = true
	ok := code >= 200 && code < 300
	switch sc.name {
	case "SyncHdr":
		switch {
		case code == int(syncml.StatusInvalidCredentials) || code == int(syncml.StatusMissingCredentials):
			return fmt.Errorf("%w: %d for %s", ErrAuth, code, s.dev.account.User)
		case !ok:
			return fmt.Errorf("loadgen: the server refused the session (SyncHdr %d): %s", code, statusText(st))
		}
	case "Alert":
		if sc.alert == syncml.AlertNextMessage.String() {
			if !ok {
				return fmt.Errorf("loadgen: the server refused Alert 222 (%d): %s", code, statusText(st))
			}
			break
		}
		s.alertCode = code
		if !ok && code != int(syncml.StatusRefreshRequired) {
			return fmt.Errorf("loadgen: the server refused the sync of %s (Alert %s: %d): %s", serverDB, sc.alert, code, statusText(st))
		}
	case "Sync":
		if !ok {
			return fmt.Errorf("loadgen: the server refused our Sync (%d): %s", code, statusText(st))
		}
	case "Map":
		if !ok {
			return fmt.Errorf("loadgen: the server refused our Map of %d items (%d): %s", sc.items, code, statusText(st))
		}
		s.stats.MapsAcked += sc.items
	case "Add", "Replace", "Delete":
		if ok {
			s.stats.ItemsAcked++
		} else {
			s.itemErrs = append(s.itemErrs, fmt.Sprintf("%s of %v: %d %s", sc.name, st.SourceRef, code, statusText(st)))
		}
	default:
		if !ok {
			s.itemErrs = append(s.itemErrs, fmt.Sprintf("%s: %d %s", sc.name, code, statusText(st)))
		}
	}
	return nil
}

// statusText is the reason a status carries in its Item, if any.
func statusText(st *syncml.Status) string {
	for _, it := range st.Items {
		if it.Data != nil && it.Data.Text != "" {
			return it.Data.Text
		}
	}
	return "(no reason given)"
}

func locURI(l *syncml.Loc) string {
	if l == nil {
		return ""
	}
	return l.LocURI
}
