package eas

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
	"syncml-imap/pim/memstore"
)

type phone struct {
	t     *testing.T
	srv   *httptest.Server
	key   string
	accts *memstore.Accounts
	h     *Handler
	// version is the protocol version sent ("": 14.1).
	version string
}

func newPhone(t *testing.T) *phone {
	accts := &memstore.Accounts{Password: "secret"}
	h := &Handler{Auth: accts, Devices: func(st pim.Store) *pim.Devices { return pim.NewDevices(st, 4) }, Policy: pim.DefaultPolicy(),
		Now: func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &phone{t: t, srv: srv, accts: accts, h: h}
}

// post sends a command as TbSync does (plain query, headers) and returns
// the HTTP status and the decoded answer.
func (p *phone) post(cmd, password string, body *wbxml.Node) (int, *wbxml.Node) {
	p.t.Helper()
	var data []byte
	if body != nil {
		var err error
		if data, err = wbxml.EncodeEAS(body); err != nil {
			p.t.Fatal(err)
		}
	}
	req, _ := http.NewRequest("POST", p.srv.URL+"/Microsoft-Server-ActiveSync?Cmd="+cmd+"&User=alice&DeviceId=TB1234&DeviceType=TbSync", bytes.NewReader(data))
	req.SetBasicAuth("alice", password)
	v := p.version
	if v == "" {
		v = "14.1"
	}
	req.Header.Set("MS-ASProtocolVersion", v)
	req.Header.Set("Content-Type", "application/vnd.ms-sync.wbxml")
	if p.key != "" {
		req.Header.Set("X-MS-PolicyKey", p.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(out) == 0 {
		return resp.StatusCode, nil
	}
	root, err := wbxml.DecodeEAS(out)
	if err != nil {
		p.t.Fatalf("answer to %s: %v", cmd, err)
	}
	return resp.StatusCode, root
}

func TestOptions(t *testing.T) {
	p := newPhone(t)
	req, _ := http.NewRequest("OPTIONS", p.srv.URL+"/Microsoft-Server-ActiveSync", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("MS-ASProtocolVersions") != "14.0,14.1,16.0,16.1" || resp.Header.Get("MS-ASProtocolCommands") == "" {
		t.Errorf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestProvisionAndFolderSync(t *testing.T) {
	p := newPhone(t)
	if code, _ := p.post("FolderSync", "wrong", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "0"))); code != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", code)
	}
	// Not provisioned: status 142.
	_, ans := p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "0")))
	if text(ans, "Status") != "142" {
		t.Fatalf("unprovisioned FolderSync: %s", wbxml.Format(ans))
	}
	// Phase 1: the policy and a temporary key.
	_, ans = p.post("Provision", "secret", el("Provision", "Provision",
		el("Settings", "DeviceInformation", el("", "Set", tx("", "Model", "TbSync"), tx("", "OS", "Linux"))),
		el("", "Policies", el("", "Policy", tx("", "PolicyType", "MS-EAS-Provisioning-WBXML")))))
	pol := child(child(ans, "Policies"), "Policy")
	temp := text(pol, "PolicyKey")
	if text(ans, "Status") != "1" || text(pol, "Status") != "1" || temp == "" || child(child(pol, "Data"), "EASProvisionDoc") == nil {
		t.Fatalf("provision phase 1: %s", wbxml.Format(ans))
	}
	if text(child(child(pol, "Data"), "EASProvisionDoc"), "RequireDeviceEncryption") != "0" {
		t.Error("the policy demands encryption")
	}
	// A wrong acknowledgement: 5.
	_, ans = p.post("Provision", "secret", el("Provision", "Provision", el("", "Policies", el("", "Policy",
		tx("", "PolicyType", "MS-EAS-Provisioning-WBXML"), tx("", "PolicyKey", "1"), tx("", "Status", "1")))))
	if text(child(child(ans, "Policies"), "Policy"), "Status") != "5" {
		t.Errorf("wrong key acknowledged: %s", wbxml.Format(ans))
	}
	// Phase 2: the final key.
	_, ans = p.post("Provision", "secret", el("Provision", "Provision", el("", "Policies", el("", "Policy",
		tx("", "PolicyType", "MS-EAS-Provisioning-WBXML"), tx("", "PolicyKey", temp), tx("", "Status", "1")))))
	final := text(child(child(ans, "Policies"), "Policy"), "PolicyKey")
	if final == "" || final == temp {
		t.Fatalf("provision phase 2: %s", wbxml.Format(ans))
	}
	p.key = final

	_, ans = p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "0")))
	if text(ans, "Status") != "1" || text(child(ans, "Changes"), "Count") != "3" {
		t.Fatalf("FolderSync 0: %s", wbxml.Format(ans))
	}
	types := map[string]string{}
	for _, a := range children(child(ans, "Changes"), "Add") {
		types[text(a, "ServerId")] = text(a, "Type")
	}
	if types["contacts"] != strconv.Itoa(typeContacts) || types["calendar"] != strconv.Itoa(typeCalendar) || types["tasks"] != strconv.Itoa(typeTasks) {
		t.Errorf("folders %v", types)
	}
	key := text(ans, "SyncKey")
	_, ans = p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", key)))
	if text(ans, "Status") != "1" || text(child(ans, "Changes"), "Count") != "0" || text(ans, "SyncKey") != key {
		t.Errorf("FolderSync again: %s", wbxml.Format(ans))
	}
	if _, ans = p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "77"))); text(ans, "Status") != "9" {
		t.Errorf("unknown key: %s", wbxml.Format(ans))
	}
	// The tasks turned off for this device: the next FolderSync deletes
	// the folder.
	devs := pim.NewDevices(p.accts.Store("alice"), 4)
	if _, _, err := devs.SetPolicy(context.Background(), "TB1234", pim.DefaultPolicy(), map[string]string{"tasks_direction": "off"}); err != nil {
		t.Fatal(err)
	}
	_, ans = p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", key)))
	if d := children(child(ans, "Changes"), "Delete"); len(d) != 1 || text(d[0], "ServerId") != "tasks" {
		t.Errorf("tasks off: %s", wbxml.Format(ans))
	}
	s, _ := devs.Get(context.Background(), "TB1234")
	if s == nil || s.ProtocolName() != Protocol || s.Model != "TbSync" {
		t.Errorf("slot %+v", s)
	}
}

// An admin's security policy: the device is told to lock itself, may
// not refuse that, and provisions again when the policy changes.
func TestProvisionSecurityPolicy(t *testing.T) {
	p := newPhone(t)
	p.h.Security = Security{RequirePassword: true, MinPasswordLength: 6, MaxInactivity: 5 * time.Minute}
	ask := el("Provision", "Provision", el("", "Policies", el("", "Policy", tx("", "PolicyType", "MS-EAS-Provisioning-WBXML"))))
	ack := func(key, st string) *wbxml.Node {
		return el("Provision", "Provision", el("", "Policies", el("", "Policy",
			tx("", "PolicyType", "MS-EAS-Provisioning-WBXML"), tx("", "PolicyKey", key), tx("", "Status", st))))
	}
	policyOf := func(ans *wbxml.Node) *wbxml.Node { return child(child(ans, "Policies"), "Policy") }
	_, ans := p.post("Provision", "secret", ask)
	doc := child(child(policyOf(ans), "Data"), "EASProvisionDoc")
	for name, want := range map[string]string{"DevicePasswordEnabled": "1", "MinDevicePasswordLength": "6", "MaxInactivityTimeDeviceLock": "300",
		"RequireDeviceEncryption": "0", "MaxDevicePasswordFailedAttempts": ""} {
		if got := text(doc, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// A device that cannot apply it is refused.
	if _, ans = p.post("Provision", "secret", ack(text(policyOf(ans), "PolicyKey"), "2")); text(ans, "Status") != "139" {
		t.Errorf("a device that cannot comply: %s", wbxml.Format(ans))
	}
	_, ans = p.post("Provision", "secret", ask)
	_, ans = p.post("Provision", "secret", ack(text(policyOf(ans), "PolicyKey"), "1"))
	p.key = text(policyOf(ans), "PolicyKey")
	if _, ans = p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "0"))); text(ans, "Status") != "1" {
		t.Fatalf("FolderSync: %s", wbxml.Format(ans))
	}
	// The admin changes the policy: the device is to provision again.
	p.h.Security.RequireEncryption = true
	if _, ans = p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "0"))); text(ans, "Status") != "143" {
		t.Errorf("after the policy changed: %s", wbxml.Format(ans))
	}
	_, ans = p.post("Provision", "secret", ask)
	if text(child(child(policyOf(ans), "Data"), "EASProvisionDoc"), "RequireDeviceEncryption") != "1" {
		t.Errorf("the new policy: %s", wbxml.Format(ans))
	}
	_, ans = p.post("Provision", "secret", ack(text(policyOf(ans), "PolicyKey"), "1"))
	p.key = text(policyOf(ans), "PolicyKey")
	if _, ans = p.post("FolderSync", "secret", el("FolderHierarchy", "FolderSync", tx("", "SyncKey", "0"))); text(ans, "Status") != "1" {
		t.Errorf("FolderSync after provisioning again: %s", wbxml.Format(ans))
	}
}
