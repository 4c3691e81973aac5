package syncml

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syncml-imap/pim"
	"time"
)

// session is one SyncML session: from the client's first message to the
// server's last. It lives in memory of the instance that serves it.
type session struct {
	srv       *Server
	key       string
	deviceID  string
	sessionID string
	log       *slog.Logger

	mu       sync.Mutex
	lastUsed atomic.Int64 // unix nanoseconds; read by the server's expiry sweep
	user     string
	store    *sessionStore // nil until authenticated
	// cancel ends the message under way (set while one is handled; a
	// newer session of the device calls it). Guarded by cancelMu, not mu.
	cancelMu sync.Mutex
	cancel   context.CancelFunc
	encoding Encoding // of the client's last message; replies use it
	verDTD   string
	verProto string
	msgID    int   // the server's last MsgID
	maxMsg   int64 // the client's MaxMsgSize
	maxObj   int64 // the client's MaxObjSize (0: not said)
	// largeObjs: the client's DevInf says SupportLargeObjs.
	largeObjs bool
	// devinf: the device's DevInf, from this session or kept from an
	// earlier one (devinfLoaded: looked for already).
	devinf       *DevInf
	devinfLoaded bool
	// serverInfSent: the device asked for our DevInf (Get) this session;
	// serverInfOffered: we Put it unasked.
	serverInfSent, serverInfOffered bool

	dbs       map[pim.Kind]*dbSession // by canonical database
	order     []*dbSession            // in alert order
	pending   []Command               // server commands not yet sent (beyond what fitted)
	partial   *partialItem            // a chunked client item being assembled
	phase     phase
	done      bool
	suspended bool // the device suspended the session (Alert 224)
	// nextRequested: the client's message asked for our next one (222).
	nextRequested bool
	// producing: server changes made and not yet placed in a message;
	// awaiting: placed, by MsgRef/CmdRef, until the device's status.
	producing map[*Change]*sentItem
	awaiting  map[string]*sentItem

	slot   *pim.Slot
	policy pim.Policy
	// superseded: the same device started a newer session; this one
	// answers nothing more and commits nothing.
	superseded atomic.Bool
	owner      string // the user, once authenticated (guarded by Server.mu)

	started  time.Time
	refused  bool // answered with a refusal (no slot, store unreadable)
	reported bool // the session report was made
	// unavailable: the mail server could not answer (login or store).
	unavailable bool
	// alertsFailed counts databases that could not start (the store
	// failed), which are not in order.
	alertsFailed int
	// lastErr is the first failure of the session in plain words, for
	// the device's last-error record.
	lastErr string
}

// phase is where the session stands in the package flow
// (OMA-TS-DS_Protocol 1.2, 5: packages 1 to 6).
type phase int

const (
	phaseInit       phase = iota // receiving package 1 (alerts)
	phaseClientSync              // receiving package 3 (client changes)
	phaseServerSync              // sending package 4 (server changes)
	phaseMap                     // receiving package 5 (statuses, maps)
)

func (s *session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeStore()
}

// closeStore closes the session's store (its IMAP connection) for good;
// callers hold s.mu. What the session holds in memory goes with it.
func (s *session) closeStore() {
	if s.store != nil {
		s.store.Close()
	}
	s.dbs, s.order, s.pending, s.partial = map[pim.Kind]*dbSession{}, nil, nil, nil
}

// setCancel notes how to end the message under way (nil: none).
func (s *session) setCancel(cancel context.CancelFunc) {
	s.cancelMu.Lock()
	s.cancel = cancel
	s.cancelMu.Unlock()
}

// interrupt ends the message under way, if any: its store calls fail
// (the IMAP connection is closed under them) and it commits nothing.
func (s *session) interrupt() {
	s.cancelMu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.cancelMu.Unlock()
}

// handle answers one client message.
func (s *session) handle(ctx context.Context, msg *Message, baseURL string) *Message {
	s.msgID++
	if s.verDTD == "" {
		s.verDTD, s.verProto = msg.Hdr.VerDTD, msg.Hdr.VerProto
	}
	if m := msg.Hdr.Meta; m != nil && m.MaxMsgSize > 0 {
		s.maxMsg = m.MaxMsgSize
	}
	if m := msg.Hdr.Meta; m != nil && m.MaxObjSize > 0 {
		s.maxObj = m.MaxObjSize
	}
	out, hdrStatus := s.newReply(ctx, msg)
	if refuseVersion(msg, hdrStatus) || !s.admitMessage(ctx, out, msg, hdrStatus) {
		return out.finish(true)
	}
	reply := out.reply
	reply.Hdr.RespURI = respURI(baseURL, s.key)
	reply.Hdr.Meta = &Meta{MaxMsgSize: s.srv.opts.MaxMsgSize}
	if s.verDTD != "1.0" {
		reply.Hdr.Meta.MaxObjSize = s.srv.opts.MaxObjSize
	}
	if msg.Hdr.NoResp {
		out.noResp = true
		out.reply.Body = nil
	}

	for _, cmd := range msg.Body {
		s.dispatch(ctx, out, cmd)
	}
	if s.suspended {
		// Answer what came, send nothing more, commit nothing; the
		// position is kept for the resume.
		s.done = true
		s.pending = nil
		s.savePositions(ctx, false)
		return out.finish(true)
	}
	reply = s.endOfMessage(ctx, out, msg.Final)
	s.savePositions(ctx, sendsChunk(reply))
	return reply
}

// newReply starts the reply to msg, with the status of its SyncHdr.
func (s *session) newReply(ctx context.Context, msg *Message) (*outbox, *Status) {
	reply := &Message{Hdr: SyncHdr{
		VerDTD:    s.verDTD,
		VerProto:  s.verProto,
		SessionID: msg.Hdr.SessionID,
		MsgID:     strconv.Itoa(s.msgID),
		Target:    Loc{LocURI: msg.Hdr.Source.LocURI},
		Source:    Loc{LocURI: msg.Hdr.Target.LocURI},
	}}
	out := &outbox{ctx: ctx, sess: s, reply: reply, msgRef: msg.Hdr.MsgID}
	hdrStatus := out.status("SyncHdr", "0", StatusOK)
	hdrStatus.TargetRef = []string{msg.Hdr.Target.LocURI}
	hdrStatus.SourceRef = []string{msg.Hdr.Source.LocURI}
	return out, hdrStatus
}

// refuseVersion refuses a message of a SyncML version not served:
// OMA-TS-SyncML_RepPro 1.2.2, 10: 505 for an unsupported VerDTD, 513 for
// VerProto; the Item says what is supported.
func refuseVersion(msg *Message, hdrStatus *Status) bool {
	switch {
	case msg.Hdr.VerDTD != "1.0" && msg.Hdr.VerDTD != "1.1" && msg.Hdr.VerDTD != "1.2":
		hdrStatus.Data = StatusVersionNotSupported.String()
		hdrStatus.Items = []Item{{Data: &Data{Text: "1.0 1.1 1.2"}}}
		return true
	case msg.Hdr.VerProto != "SyncML/1.0" && msg.Hdr.VerProto != "SyncML/1.1" && msg.Hdr.VerProto != "SyncML/1.2":
		hdrStatus.Data = StatusProtocolNotSupported.String()
		hdrStatus.Items = []Item{{Data: &Data{Text: "SyncML/1.0 SyncML/1.1 SyncML/1.2"}}}
		return true
	}
	return false
}

// admitMessage decides whether the session runs msg's commands: a
// session replaced or ended runs nothing; the first message logs in,
// claims the device's slot and is admitted by the server; a later one
// must not carry another user's credentials. false: refused, with the
// header's status and the reason set.
func (s *session) admitMessage(ctx context.Context, out *outbox, msg *Message, hdrStatus *Status) bool {
	switch {
	case s.superseded.Load():
		// The device started another session meanwhile; that one goes on.
		s.refuse(out, msg, hdrStatus, StatusForbidden, "this session was replaced by a newer session of the same device")
		return false
	case s.store != nil && s.store.closed:
		// Ended meanwhile (expired, or the server shuts down).
		s.refuse(out, msg, hdrStatus, StatusForbidden, "this session has ended; start a new sync")
		return false
	case s.store == nil:
		return s.open(ctx, out, msg, hdrStatus)
	}
	if u := credUser(msg); u != "" && !strings.EqualFold(u, s.user) {
		// Credentials of another user on this user's session: nothing of
		// it is executed, and the session ends.
		s.log.Warn("message with another user's credentials on an open session refused", "other_user", u)
		s.refuse(out, msg, hdrStatus, StatusInvalidCredentials, "this session belongs to another user")
		hdrStatus.Chal = &Chal{Meta: &Meta{Type: "syncml:auth-basic", Format: "b64"}}
		return false
	}
	return true
}

// open logs the session in with msg's credentials, claims the device's
// slot and has the server admit the session (replacing an older one of
// the device).
func (s *session) open(ctx context.Context, out *outbox, msg *Message, hdrStatus *Status) bool {
	code, chal := s.authenticate(ctx, msg)
	hdrStatus.Data = code.String()
	hdrStatus.Chal = chal
	if code == StatusServiceUnavailable {
		hdrStatus.Items = []Item{{Data: &Data{Text: unavailableText}}}
	}
	if code != StatusAuthAccepted {
		s.log.Info("authentication refused", "status", int(code), "user", s.user)
		return false
	}
	if err := s.claimSlot(ctx); err != nil {
		var full *pim.SlotsFullError
		if errors.As(err, &full) {
			s.log.Warn("device refused: no free slot", "max_devices", full.Max)
			s.refuse(out, msg, hdrStatus, StatusForbidden, "device refused: "+err.Error())
		} else {
			s.log.Error("device slot", "err", err)
			s.unavailable = true
			s.refuse(out, msg, hdrStatus, StatusServiceUnavailable, "the server cannot read this account's device slots; try again later")
		}
		return false
	}
	victims, err := s.srv.admit(s)
	if err != nil {
		s.log.Warn("session refused", "err", err)
		s.refuse(out, msg, hdrStatus, StatusServiceUnavailable, err.Error())
		return false
	}
	s.srv.endReplaced(victims)
	return true
}

// sendsChunk reports whether the reply carries a chunk of an item that
// the next message goes on with.
func sendsChunk(m *Message) bool {
	for _, c := range m.Body {
		if sy, ok := c.(*Sync); ok {
			for _, c := range sy.Commands {
				if ch, ok := c.(*Change); ok && len(ch.Items) > 0 && ch.Items[len(ch.Items)-1].MoreData {
					return true
				}
			}
		}
	}
	return false
}

func respURI(base, key string) string {
	if base == "" {
		return ""
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "s=" + key
}

// claimSlot finds the device's slot, or gives a new device the first free
// one, and sets the session's policy from it.
func (s *session) claimSlot(ctx context.Context) error {
	devs := pim.NewDevices(s.store, s.srv.opts.MaxDevices)
	devs.Now = s.srv.opts.now
	slot, err := devs.Claim(ctx, s.deviceID)
	if err != nil {
		return err
	}
	s.slot = slot
	s.policy, err = slot.Policy(s.srv.opts.Policy)
	if err != nil {
		s.log.Warn("device policy overrides invalid, using the defaults", "err", err)
		s.policy = s.srv.opts.Policy
	}
	s.log = s.log.With("slot", slot.Number)
	return nil
}

// refuse answers a message without executing it: the header status says
// why (code, with the reason as its Item), every command gets the same
// code, and the session ends.
func (s *session) refuse(out *outbox, msg *Message, hdr *Status, code StatusCode, reason string) {
	hdr.Data = code.String()
	hdr.Items = []Item{{Data: &Data{Text: reason}}}
	out.reply.Hdr.RespURI = ""
	for _, c := range msg.Body {
		if _, isStatus := c.(*Status); isStatus || noResp(c) {
			continue
		}
		st := out.status(c.CmdName(), c.ID(), code)
		st.Items = []Item{{Data: &Data{Text: reason}}}
	}
	s.done = true
	s.refused = true
	s.pending = nil
}

// dispatch handles one command of the client's message.
func (s *session) dispatch(ctx context.Context, out *outbox, cmd Command) {
	switch c := cmd.(type) {
	case *Status:
		s.handleStatus(ctx, c)
	case *Alert:
		s.handleAlert(ctx, out, c)
	case *Sync:
		s.handleSync(ctx, out, c)
	case *Access:
		s.handleAccess(ctx, out, c)
	case *Results:
		if !noResp(c) {
			st := out.status("Results", c.CmdID, StatusOK)
			st.SourceRef = []string{c.SourceRef}
		}
		s.storeDevInf(ctx, c.Items)
	case *Map:
		s.handleMap(ctx, out, c)
	case *Change:
		// Outside a Sync an item command has no database.
		if !c.NoResp {
			out.status(string(c.Op), c.CmdID, StatusBadRequest)
		}
	case *Container:
		if !c.NoResp {
			out.status(c.Op, c.CmdID, StatusNotImplemented)
		}
	case *Unknown:
		if !c.NoResp {
			out.status(c.Name, c.CmdID, StatusNotImplemented)
		}
	}
}

func noResp(c Command) bool {
	switch c := c.(type) {
	case *Alert:
		return c.NoResp
	case *Sync:
		return c.NoResp
	case *Change:
		return c.NoResp
	case *Access:
		return c.NoResp
	}
	return false
}

// largeObjects reports whether items may be sent to the client in
// chunks: SyncML 1.1 or later, and the client announced a MaxObjSize or
// said SupportLargeObjs in its DevInf.
func (s *session) largeObjects() bool {
	return s.verDTD != "1.0" && (s.maxObj > 0 || s.largeObjs)
}

// handleStatus takes note of the client's answer to a server command.
func (s *session) handleStatus(ctx context.Context, st *Status) {
	code, _ := strconv.Atoi(st.Data)
	if st.Cmd == "Put" && code == int(StatusOK) && s.serverInfOffered {
		s.serverDevInfAccepted(ctx)
	}
	if code >= 300 && code != int(StatusConflictServerWon) && st.Cmd != "SyncHdr" {
		s.log.Warn("client refused a command", "cmd", st.Cmd, "status", code, "target", st.TargetRef, "source", st.SourceRef)
	}
	switch st.Cmd {
	case "Add", "Replace", "Delete":
		s.itemStatus(st, StatusCode(code))
	}
	if st.Cmd == "Alert" && code == int(StatusRefreshRequired) {
		// The client found our anchor stale: it asks for a slow sync
		// (OMA-TS-DS_Protocol; Synthesis switches without a new Alert).
		for _, d := range s.order {
			for _, ref := range st.SourceRef {
				if ref == d.serverURI {
					d.becomeSlow(ctx)
				}
			}
		}
	}
}

// endOfMessage decides what follows the statuses: server commands, the
// next package, the end of the session.
func (s *session) endOfMessage(ctx context.Context, out *outbox, final bool) *Message {
	if s.phase == phaseServerSync {
		// The client answered a message of our package 4: send the rest.
		return s.sendPending(ctx, out)
	}
	if s.nextRequested && len(s.pending) > 0 {
		// The client pulls the rest of our package (Alert 222).
		s.nextRequested = false
		out.fill()
		return out.finish(len(s.pending) == 0)
	}
	if !final {
		// The client's package goes on. Answer its statuses; if nothing
		// else is to be said, ask for the next message (Alert 222).
		if len(out.reply.Body) <= 1 && len(s.pending) == 0 {
			out.alertNext()
		}
		return out.finish(false)
	}
	switch s.phase {
	case phaseInit:
		s.phase = phaseClientSync
		if len(s.order) > 0 && s.allClientSyncsDone() {
			// A combined init+sync package: go on to the server's changes.
			return s.startServerSync(ctx, out)
		}
		return out.finish(true)
	case phaseClientSync:
		return s.startServerSync(ctx, out)
	default: // phaseMap: the client's package 5 is complete.
		s.commit(ctx)
		return out.finish(true)
	}
}

// allClientSyncsDone reports whether the client has sent its Sync for
// every database. Even in one-way and refresh from the server it sends an
// empty one (package 3) before the server's changes may follow.
func (s *session) allClientSyncsDone() bool {
	for _, d := range s.order {
		if !d.clientSynced {
			return false
		}
	}
	return true
}

// startServerSync runs after the client's package 3: finish client-side
// work (refresh from client deletes what the client did not send), then
// queue every database's server changes as package 4.
func (s *session) startServerSync(ctx context.Context, out *outbox) *Message {
	needMap := false
	for _, d := range s.order {
		if !d.failed {
			d.finishClientSide(ctx)
		}
		// A failed database still gets its (empty) Sync, so that the
		// device answers it and the session ends in order.
		if d.mode.serverSends() {
			s.pending = append(s.pending, d.serverSync(ctx)...)
			needMap = true
		}
	}
	s.phase = phaseServerSync
	if !needMap {
		// One-way/refresh from client only: no package 5 follows
		// (Synthesis: "don't expect map phase").
		s.commit(ctx)
		return out.finish(true)
	}
	return s.sendPending(ctx, out)
}

// sendPending puts as much of the pending package into this message as
// fits; the last message of the package carries Final.
func (s *session) sendPending(ctx context.Context, out *outbox) *Message {
	out.fill()
	if len(s.pending) == 0 {
		s.phase = phaseMap
		return out.finish(true)
	}
	return out.finish(false)
}
