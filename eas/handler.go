package eas

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
)

// Versions are the protocol versions served (MS-ASProtocolVersions).
var Versions = []string{"14.0", "14.1", "16.0", "16.1"}

// Protocol is the name a device slot of this front carries.
const Protocol = "ActiveSync"

// maxBody bounds a request body.
const maxBody = 16 << 20

// Handler serves POST and OPTIONS at /Microsoft-Server-ActiveSync.
type Handler struct {
	// Auth logs a user in (throttled: the daemon's Authenticator).
	Auth pim.Authenticator
	// Devices manages the slots of the account behind a store.
	Devices func(pim.Store) *pim.Devices
	// Policy is the server's default policy ([sync.defaults]).
	Policy pim.Policy
	Logger *slog.Logger
	// Now is the clock (time.Now unless a test sets it).
	Now func() time.Time
	// Security is the security policy devices are given ([activesync]).
	Security Security
	// Cache keeps the devices' committed sync states (item maps) between
	// their requests ([sync] state_cache_items); nil: none.
	Cache *pim.ReplicaCache
	// PingPoll is how often a Ping looks at folders the store cannot
	// wake it for (a store that is no pim.Watcher); 0: 15s.
	PingPoll time.Duration

	// busy serializes a device's requests (but Ping, which waits): a
	// client that sends again before its first request is answered
	// gets the kept answer, not a second run on the same state.
	mu   sync.Mutex
	busy map[string]*deviceLock
}

type deviceLock struct {
	sync.Mutex
	users int
}

// lock takes the device's lock; the func returned gives it back.
func (h *Handler) lock(user, device string) func() {
	key := strings.ToLower(user) + "\x00" + device
	h.mu.Lock()
	if h.busy == nil {
		h.busy = map[string]*deviceLock{}
	}
	l := h.busy[key]
	if l == nil {
		l = &deviceLock{}
		h.busy[key] = l
	}
	l.users++
	h.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		h.mu.Lock()
		if l.users--; l.users == 0 {
			delete(h.busy, key)
		}
		h.mu.Unlock()
	}
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// commands are the commands served, each with its handler.
var commands = map[string]func(*call) (*wbxml.Node, error){
	"Provision":  (*call).provision,
	"FolderSync": (*call).folderSync,
	"Settings":   (*call).settings,
	"Sync":       (*call).sync,
	// GetItemEstimate: how much the next Sync brings.
	"GetItemEstimate": (*call).getItemEstimate,
	"Ping":            (*call).ping,
	"ItemOperations":  (*call).itemOperations,
	"MeetingResponse": (*call).meetingResponse,
}

// Commands lists the commands served (MS-ASProtocolCommands).
func Commands() []string {
	return []string{"FolderSync", "GetItemEstimate", "ItemOperations", "MeetingResponse", "Ping", "Provision", "Settings", "Sync"}
}

func (h *Handler) log() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("MS-Server-ActiveSync", "16.1")
	switch r.Method {
	case http.MethodOptions:
		w.Header().Set("Allow", "OPTIONS,POST")
		w.Header().Set("Public", "OPTIONS,POST")
		w.Header().Set("MS-ASProtocolVersions", strings.Join(Versions, ","))
		w.Header().Set("MS-ASProtocolCommands", strings.Join(Commands(), ","))
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "OPTIONS,POST")
		http.Error(w, "ActiveSync takes OPTIONS and POST", http.StatusMethodNotAllowed)
		return
	}
	req, err := ParseRequest(r.URL.RawQuery, r.Header.Get)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !supported(req.Version) {
		// MS-ASHTTP: a version the server does not speak.
		w.Header().Set("MS-ASProtocolVersions", strings.Join(Versions, ","))
		http.Error(w, fmt.Sprintf("protocol version %q is not served (%s)", req.Version, strings.Join(Versions, ", ")), http.StatusBadRequest)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" {
		w.Header().Set("WWW-Authenticate", realm)
		http.Error(w, "log in with your mail account", http.StatusUnauthorized)
		return
	}
	ctx := pim.WithDevice(r.Context(), req.DeviceID)
	st, err := h.Auth.Login(ctx, user, pass)
	if err != nil {
		if errors.Is(err, pim.ErrAuthFailed) && !errors.Is(err, pim.ErrUnavailable) {
			h.log().Info("ActiveSync login refused", "user", user, "device", req.DeviceID)
			w.Header().Set("WWW-Authenticate", realm)
			http.Error(w, "wrong user name or password", http.StatusUnauthorized)
			return
		}
		h.log().Error("ActiveSync login failed: mail server unavailable", "user", user, "err", err)
		w.Header().Set("Retry-After", "60")
		http.Error(w, "the mail server cannot be reached now", http.StatusServiceUnavailable)
		return
	}
	c := &call{h: h, ctx: ctx, st: st, user: user, req: req, w: w, r: r}
	// The call's store, which a Ping may give back while it waits and
	// open again.
	defer func() {
		if c.st != nil {
			c.st.Close()
		}
	}()
	run, ok := commands[req.Cmd]
	if !ok {
		http.Error(w, "command "+req.Cmd+" is not served", http.StatusNotImplemented)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		http.Error(w, "request body unreadable or too large", http.StatusRequestEntityTooLarge)
		return
	}
	var root *wbxml.Node
	if len(body) > 0 {
		if root, err = wbxml.DecodeEAS(body); err != nil {
			h.log().Info("ActiveSync: bad WBXML", "user", user, "device", req.DeviceID, "cmd", req.Cmd, "err", err)
			http.Error(w, "the body is no ActiveSync WBXML: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	if req.Cmd != "Ping" && req.Cmd != "Sync" {
		defer h.lock(user, req.DeviceID)() // Sync takes it after any wait
	}
	c.body = root
	if err := c.begin(); err != nil {
		c.fail(err)
		return
	}
	if req.Cmd != "Provision" && !c.provisioned() {
		c.notProvisioned()
		return
	}
	out, err := run(c)
	if err != nil {
		c.fail(err)
		return
	}
	if out == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	data, err := wbxml.EncodeEAS(out)
	if err != nil {
		c.fail(err)
		return
	}
	w.Header().Set("Content-Type", "application/vnd.ms-sync.wbxml")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Write(data)
}

func supported(v string) bool {
	for _, s := range Versions {
		if s == v {
			return true
		}
	}
	return false
}

// call is one request being answered.
type call struct {
	h    *Handler
	ctx  context.Context
	st   pim.Store
	user string
	req  *Request
	body *wbxml.Node
	w    http.ResponseWriter
	r    *http.Request
	slot *pim.Slot
	dev  deviceState
}

// deviceState is what this front keeps of a device, besides its slot
// and its replicas: the provisioning and the folder hierarchy it was
// given.
type deviceState struct {
	PolicyKey  uint32 `json:"policy_key,omitempty"`
	PendingKey uint32 `json:"pending_key,omitempty"`
	// Policy: the digest of the policy it acknowledged (policyDigest).
	Policy string `json:"policy,omitempty"`
	// FolderKey is the FolderSync SyncKey the device holds (0: none).
	FolderKey int           `json:"folder_key,omitempty"`
	Folders   []folderState `json:"folders,omitempty"`
}

type folderState struct {
	ServerID, Name string
	Type           int
}

func (c *call) stateKey() string { return pim.DeviceKey(c.req.DeviceID, "eas") }

// begin claims the device's slot (first free) and reads its state.
func (c *call) begin() error {
	slot, err := c.h.Devices(c.st).Claim(c.ctx, c.req.DeviceID)
	if err != nil {
		return err
	}
	c.slot = slot
	if slot.Protocol != Protocol || slot.DevType == "" && c.req.DeviceType != "" {
		slot.Protocol = Protocol
		if slot.DevType == "" {
			slot.DevType = c.req.DeviceType
		}
		if err := c.h.Devices(c.st).Save(c.ctx, slot); err != nil {
			return err
		}
	}
	raw, err := c.st.LoadState(c.ctx, c.stateKey())
	if err != nil {
		return err
	}
	if raw != nil && json.Unmarshal(raw, &c.dev) != nil {
		c.h.log().Warn("ActiveSync: unreadable device state: starting over", "user", c.user, "device", c.req.DeviceID)
		c.dev = deviceState{}
	}
	return nil
}

func (c *call) save() error {
	raw, err := json.Marshal(&c.dev)
	if err != nil {
		return err
	}
	return c.st.SaveState(c.ctx, c.stateKey(), raw)
}

func (c *call) provisioned() bool {
	return c.dev.PolicyKey != 0 && c.req.HasPolicyKey && c.req.PolicyKey == c.dev.PolicyKey && c.dev.Policy == policyDigest(c.h.Security)
}

// notProvisioned tells the device to provision first: HTTP 449 before
// 14.0, a command status 142 from 14.0 on (MS-ASPROV 3.2.5.1).
func (c *call) notProvisioned() {
	code := 142 // not provisioned
	if c.dev.PolicyKey != 0 && c.req.HasPolicyKey && c.req.PolicyKey == c.dev.PolicyKey {
		code = 143 // provisioned under a policy that has changed since
	}
	root := el(c.req.Cmd, c.req.Cmd, status("", code))
	page := map[string]string{"Sync": "AirSync", "FolderSync": "FolderHierarchy", "GetItemEstimate": "GetItemEstimate",
		"Ping": "Ping", "ItemOperations": "ItemOperations", "Settings": "Settings"}[c.req.Cmd]
	if page == "" {
		c.w.WriteHeader(449)
		return
	}
	root.NS = page
	data, err := wbxml.EncodeEAS(root)
	if err != nil {
		c.fail(err)
		return
	}
	c.w.Header().Set("Content-Type", "application/vnd.ms-sync.wbxml")
	c.w.Write(data)
}

// fail answers an error: 503 when the mail server cannot answer, 403 for
// a device that gets no slot, 500 else.
func (c *call) fail(err error) {
	var full *pim.SlotsFullError
	switch {
	case errors.As(err, &full):
		c.h.log().Warn("ActiveSync device refused: no free slot", "user", c.user, "device", c.req.DeviceID)
		http.Error(c.w, err.Error(), http.StatusForbidden)
	case errors.Is(err, pim.ErrUnavailable):
		c.w.Header().Set("Retry-After", "60")
		http.Error(c.w, "the mail server cannot be reached now", http.StatusServiceUnavailable)
	default:
		c.h.log().Error("ActiveSync command failed", "user", c.user, "device", c.req.DeviceID, "cmd", c.req.Cmd, "err", err)
		http.Error(c.w, "the server failed: "+err.Error(), http.StatusInternalServerError)
	}
}

// newKey is a random non-zero policy key.
func newKey() uint32 {
	for {
		var b [4]byte
		rand.Read(b[:])
		if k := binary.LittleEndian.Uint32(b[:]) & 0x7fffffff; k != 0 {
			return k
		}
	}
}

// Security is what the device's security policy demands (MS-ASPROV's
// EASProvisionDoc); the zero value demands nothing. The server never
// sends a wipe, nor MaxDevicePasswordFailedAttempts (which makes a
// device wipe itself).
type Security struct {
	RequirePassword   bool
	MinPasswordLength int  // 0: any
	Alphanumeric      bool // letters and digits
	MaxInactivity     time.Duration
	RequireEncryption bool
}

func (s Security) demands() bool { return s != Security{} }

// provisionDoc is the policy: what sec demands, everything allowed.
func provisionDoc(sec Security) *wbxml.Node {
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	kv := [][2]string{
		{"DevicePasswordEnabled", b(sec.RequirePassword)}, {"AlphanumericDevicePasswordRequired", b(sec.RequirePassword && sec.Alphanumeric)},
		{"PasswordRecoveryEnabled", "0"}, {"RequireStorageCardEncryption", b(sec.RequireEncryption)}, {"AttachmentsEnabled", "1"},
	}
	if sec.RequirePassword && sec.MinPasswordLength > 0 {
		kv = append(kv, [2]string{"MinDevicePasswordLength", strconv.Itoa(sec.MinPasswordLength)})
	}
	if sec.RequirePassword && sec.MaxInactivity > 0 {
		kv = append(kv, [2]string{"MaxInactivityTimeDeviceLock", strconv.Itoa(int(sec.MaxInactivity / time.Second))})
	}
	kv = append(kv, [][2]string{
		{"AllowSimpleDevicePassword", b(!sec.Alphanumeric)},
		{"AllowStorageCard", "1"}, {"AllowCamera", "1"}, {"RequireDeviceEncryption", b(sec.RequireEncryption)},
		{"AllowUnsignedApplications", "1"}, {"AllowUnsignedInstallationPackages", "1"}, {"AllowWiFi", "1"},
		{"AllowTextMessaging", "1"}, {"AllowPOPIMAPEmail", "1"}, {"AllowBluetooth", "2"}, {"AllowIrDA", "1"},
		{"RequireManualSyncWhenRoaming", "0"}, {"AllowDesktopSync", "1"}, {"AllowHTMLEmail", "1"},
		{"AllowSMIMESoftCerts", "1"}, {"AllowBrowser", "1"}, {"AllowConsumerEmail", "1"},
		{"AllowRemoteDesktop", "1"}, {"AllowInternetSharing", "1"},
	}...)
	doc := el("", "EASProvisionDoc")
	for _, p := range kv {
		doc.Children = append(doc.Children, tx("", p[0], p[1]))
	}
	return doc
}

// policyDigest names a policy: a device provisioned under another one is
// asked to provision again (143). The policy that demands nothing is "",
// as devices provisioned before policies could be set have it.
func policyDigest(sec Security) string {
	if !sec.demands() {
		return ""
	}
	data, _ := wbxml.EncodeEAS(el("Provision", "Provision", provisionDoc(sec)))
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// provision is MS-ASPROV's two phases: the policy with a temporary key,
// then, acknowledged with it, the final key.
func (c *call) provision() (*wbxml.Node, error) {
	const ns = "Provision"
	root := el(ns, "Provision")
	if di := child(c.body, "DeviceInformation"); di != nil {
		c.noteDevice(child(di, "Set"))
		root.Children = append(root.Children, el("Settings", "DeviceInformation", status("", 1)))
	}
	policy := child(child(c.body, "Policies"), "Policy")
	if child(c.body, "RemoteWipe") != nil {
		// An acknowledged wipe we never asked for: nothing to do.
		root.Children = append(root.Children, status("", 1))
		return root, nil
	}
	if policy == nil {
		root.Children = append(root.Children, status("", 2)) // protocol error
		return root, nil
	}
	typ := text(policy, "PolicyType")
	if typ != "MS-EAS-Provisioning-WBXML" {
		root.Children = append(root.Children, status("", 1), el("", "Policies", el("", "Policy", tx("", "PolicyType", typ), status("", 3))))
		return root, nil
	}
	if key := text(policy, "PolicyKey"); key != "" {
		// The acknowledgement.
		n, _ := strconv.ParseUint(key, 10, 32)
		if c.dev.PendingKey == 0 || uint32(n) != c.dev.PendingKey {
			root.Children = append(root.Children, status("", 1), el("", "Policies", el("", "Policy", tx("", "PolicyType", typ), status("", 5))))
			return root, nil
		}
		if text(policy, "Status") == "2" && c.h.Security.demands() {
			// The device cannot apply all of it, and it demands something.
			c.h.log().Warn("ActiveSync device refused: it cannot apply the security policy", "user", c.user, "device", c.req.DeviceID)
			root.Children = append(root.Children, status("", 139))
			return root, nil
		}
		c.dev.PolicyKey, c.dev.PendingKey, c.dev.Policy = newKey(), 0, policyDigest(c.h.Security)
		if err := c.save(); err != nil {
			return nil, err
		}
		c.h.log().Info("ActiveSync device provisioned", "user", c.user, "device", c.req.DeviceID)
		root.Children = append(root.Children, status("", 1), el("", "Policies", el("", "Policy",
			tx("", "PolicyType", typ), status("", 1), tx("", "PolicyKey", strconv.FormatUint(uint64(c.dev.PolicyKey), 10)))))
		return root, nil
	}
	c.dev.PendingKey = newKey()
	if err := c.save(); err != nil {
		return nil, err
	}
	root.Children = append(root.Children, status("", 1), el("", "Policies", el("", "Policy",
		tx("", "PolicyType", typ), status("", 1), tx("", "PolicyKey", strconv.FormatUint(uint64(c.dev.PendingKey), 10)),
		el("", "Data", provisionDoc(c.h.Security)))))
	return root, nil
}

// noteDevice keeps what a device says of itself (Settings'
// DeviceInformation Set) in its slot.
func (c *call) noteDevice(set *wbxml.Node) {
	if set == nil {
		return
	}
	s := c.slot
	changed := false
	for _, f := range []struct {
		dst  *string
		name string
	}{{&s.Model, "Model"}, {&s.SoftwareVersion, "OS"}, {&s.Manufacturer, "FriendlyName"}} {
		if v := strings.TrimSpace(text(set, f.name)); v != "" && *f.dst != v {
			*f.dst, changed = v, true
		}
	}
	if changed {
		if err := c.h.Devices(c.st).Save(c.ctx, s); err != nil {
			c.h.log().Warn("ActiveSync: keep device information", "device", c.req.DeviceID, "err", err)
		}
	}
}

// settings answers DeviceInformation Set and UserInformation Get.
func (c *call) settings() (*wbxml.Node, error) {
	const ns = "Settings"
	root := el(ns, "Settings", status("", 1))
	if di := child(c.body, "DeviceInformation"); di != nil {
		c.noteDevice(child(di, "Set"))
		root.Children = append(root.Children, el("", "DeviceInformation", status("", 1)))
	}
	if ui := child(c.body, "UserInformation"); ui != nil && child(ui, "Get") != nil {
		addr := c.user
		root.Children = append(root.Children, el("", "UserInformation", status("", 1),
			el("", "Get", el("", "Accounts", el("", "Account", el("", "EmailAddresses", tx("", "PrimarySmtpAddress", addr)))))))
	}
	return root, nil
}

// Folder types (MS-ASCMD 2.2.3.186.3).
const (
	typeTasks    = 7
	typeCalendar = 8
	typeContacts = 9
)

// folders are the folders the device's policy gives it: the contacts
// (the Contacts folder or its configured sub-folders), Calendar and
// Tasks.
func (c *call) folders() ([]folderState, error) {
	p, err := c.slot.Policy(c.h.Policy)
	if err != nil {
		return nil, err
	}
	var out []folderState
	if p.DirectionOf(pim.Contacts) != pim.DirOff {
		// One address book, as for SyncML: the Contacts folder, or the
		// sub-folders the policy names together.
		out = append(out, folderState{"contacts", "Contacts", typeContacts})
	}
	if p.DirectionOf(pim.Calendar) != pim.DirOff {
		out = append(out, folderState{"calendar", "Calendar", typeCalendar})
	}
	if p.DirectionOf(pim.Tasks) != pim.DirOff {
		out = append(out, folderState{"tasks", "Tasks", typeTasks})
	}
	return out, nil
}

// folderSync is MS-ASCMD FolderSync: the hierarchy at SyncKey 0, then
// what changed since the key the device holds.
func (c *call) folderSync() (*wbxml.Node, error) {
	const ns = "FolderHierarchy"
	key := strings.TrimSpace(text(c.body, "SyncKey"))
	n, err := strconv.Atoi(key)
	if err != nil || n < 0 || n != 0 && n != c.dev.FolderKey {
		// An unknown key: the device starts over with SyncKey 0.
		return el(ns, "FolderSync", status("", 9)), nil
	}
	have := c.dev.Folders
	if n == 0 {
		have = nil
	}
	now, err := c.folders()
	if err != nil {
		return nil, err
	}
	changes := el("", "Changes")
	count := 0
	for _, f := range now {
		var old *folderState
		for i := range have {
			if have[i].ServerID == f.ServerID {
				old = &have[i]
			}
		}
		switch {
		case old == nil:
			changes.Children = append(changes.Children, el("", "Add", tx("", "ServerId", f.ServerID), tx("", "ParentId", "0"),
				tx("", "DisplayName", f.Name), tx("", "Type", strconv.Itoa(f.Type))))
			count++
		case old.Name != f.Name || old.Type != f.Type:
			changes.Children = append(changes.Children, el("", "Update", tx("", "ServerId", f.ServerID), tx("", "ParentId", "0"),
				tx("", "DisplayName", f.Name), tx("", "Type", strconv.Itoa(f.Type))))
			count++
		}
	}
	for _, f := range have {
		gone := true
		for _, g := range now {
			gone = gone && g.ServerID != f.ServerID
		}
		if gone {
			changes.Children = append(changes.Children, el("", "Delete", tx("", "ServerId", f.ServerID)))
			count++
		}
	}
	if count > 0 || n == 0 {
		c.dev.FolderKey++
		c.dev.Folders = now
		if err := c.save(); err != nil {
			return nil, err
		}
	}
	changes.Children = append([]*wbxml.Node{tx("", "Count", strconv.Itoa(count))}, changes.Children...)
	return el(ns, "FolderSync", status("", 1), tx("", "SyncKey", strconv.Itoa(c.dev.FolderKey)), changes), nil
}
