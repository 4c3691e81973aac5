package syncml

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"syncml-imap/pim"
)

// Device information (OMA-TS-DS_DevInf 1.2). The server answers a Get of
// ./devinf1x with its own DevInf, sends it unasked (Put) to a device that
// has not seen this version of it, and keeps the device's DevInf (from its
// Put or Results) with the device's slot, for later sessions.

const devInfType = "application/vnd.syncml-devinf+xml"

// devInfTypeFor is the DevInf media type in messages of the encoding
// (a WBXML message carries its DevInf as WBXML).
func devInfTypeFor(enc Encoding) string {
	if enc == EncodingWBXML {
		return "application/vnd.syncml-devinf+wbxml"
	}
	return devInfType
}

func isDevInfURI(uri string) bool {
	u := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(uri), "./"))
	return u == "devinf10" || u == "devinf11" || u == "devinf12"
}

func (s *session) devInfURI() string { return "./devinf" + strings.ReplaceAll(s.verDTD, ".", "") }

func devInfKey(deviceID string) string        { return "device/" + deviceID + "/devinf" }
func serverInfSeenKey(deviceID string) string { return "device/" + deviceID + "/server-devinf" }

func (s *session) handleAccess(ctx context.Context, out *outbox, a *Access) {
	for _, it := range a.Items {
		var uri string
		if a.Op == "Put" {
			uri = locURI(it.Source)
		} else {
			uri = locURI(it.Target)
		}
		code := StatusOK
		if !isDevInfURI(uri) {
			code = StatusNotFound
		}
		if !a.NoResp {
			st := out.status(a.Op, a.CmdID, code)
			if a.Op == "Put" {
				st.SourceRef = []string{uri}
			} else {
				st.TargetRef = []string{uri}
			}
		}
		if code != StatusOK {
			continue
		}
		if a.Op == "Put" {
			s.storeDevInf(ctx, []Item{it})
			continue
		}
		s.serverInfSent = true
		out.add(&Results{MsgRef: out.msgRef, CmdRef: a.CmdID, Meta: &Meta{Type: devInfTypeFor(s.encoding)},
			Items: []Item{{Source: &Loc{LocURI: s.devInfURI()}, Data: &Data{XML: s.serverDevInf()}}}})
	}
}

// storeDevInf reads what the device says of itself and keeps it with the
// device's slot.
func (s *session) storeDevInf(ctx context.Context, items []Item) {
	for _, it := range items {
		if it.Data == nil || it.Data.XML == nil {
			continue
		}
		di, err := ParseDevInf(it.Data.XML)
		if err != nil {
			s.log.Warn("device information unreadable", "err", err)
			continue
		}
		s.devinf = di
		if di.SupportLargeObjs {
			s.largeObjs = true
		}
		s.log.Info("device information", "man", di.Man, "mod", di.Mod, "swv", di.SwV, "datastores", len(di.DataStores))
		var b bytes.Buffer
		if err := EncodeXML(&b, it.Data.XML); err == nil {
			if err := s.store.SaveState(ctx, devInfKey(s.deviceID), b.Bytes()); err != nil {
				s.log.Error("save device information", "err", err)
			}
		}
	}
}

// deviceInfo returns the device's DevInf: from this session, else as kept
// from an earlier one (nil when the device never sent any).
func (s *session) deviceInfo(ctx context.Context) *DevInf {
	if s.devinf != nil || s.devinfLoaded {
		return s.devinf
	}
	s.devinfLoaded = true
	raw, err := s.store.LoadState(ctx, devInfKey(s.deviceID))
	if err != nil || raw == nil {
		return nil
	}
	root, err := DecodeXML(bytes.NewReader(raw))
	if err != nil {
		return nil
	}
	if s.devinf, err = ParseDevInf(root); err != nil {
		return nil
	}
	if s.devinf.SupportLargeObjs {
		s.largeObjs = true
	}
	return s.devinf
}

// serverDevInf is this server's DevInf in the session's version. Its
// CTCaps (optional) are left out when they would not fit comfortably in
// the client's messages: a DevInf is not chunked.
func (s *session) serverDevInf() *Element {
	di := ServerDevInf(s.verDTD, s.srv.opts.ServerID)
	full := di.Element(s.verDTD)
	limit := s.maxMsg
	if limit <= 0 || encodedSize(full) <= limit/2 {
		return full
	}
	// Next: the property names alone, which is what clients filter on.
	compactCTCaps(di)
	if short := di.Element(s.verDTD); encodedSize(short) <= limit/2 {
		return short
	}
	di.CTCaps = nil
	for i := range di.DataStores {
		di.DataStores[i].CTCaps = nil
	}
	return di.Element(s.verDTD)
}

// compactCTCaps keeps of each CTCap the property names only (and the
// values of BEGIN, END and VERSION): a third of the size.
func compactCTCaps(di *DevInf) {
	compact := func(caps []CTCap) {
		for i := range caps {
			props := make([]CTProperty, len(caps[i].Properties))
			for j, p := range caps[i].Properties {
				props[j] = CTProperty{Name: p.Name}
				if p.Name == "BEGIN" || p.Name == "END" || p.Name == "VERSION" {
					props[j].ValEnums = p.ValEnums
				}
			}
			caps[i].Properties = props
		}
	}
	compact(di.CTCaps)
	for i := range di.DataStores {
		compact(di.DataStores[i].CTCaps)
	}
}

// serverDevInfHash identifies this server's DevInf (in full, whatever
// was trimmed to fit a message), to know whether a device has seen it.
func (s *session) serverDevInfHash() string {
	var b bytes.Buffer
	EncodeXML(&b, ServerDevInf(s.verDTD, s.srv.opts.ServerID).Element(s.verDTD))
	h := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(h[:8])
}

// offerServerDevInf puts the server's DevInf to a device that has not
// seen this version of it (package 2), once per session.
func (s *session) offerServerDevInf(ctx context.Context, out *outbox) {
	if s.serverInfOffered {
		return
	}
	s.serverInfOffered = true
	if s.deviceInfo(ctx) == nil {
		// A device that did not put its DevInf is asked for it: what it
		// holds decides merges and the form of recurring events. (A
		// Synthesis client puts it in its first message only; when that
		// message was answered with an authentication challenge, the
		// retry comes without it.) Its Results come with its next
		// message, before the server sends items.
		out.add(&Access{Op: "Get", Meta: &Meta{Type: devInfTypeFor(s.encoding)},
			Items: []Item{{Target: &Loc{LocURI: s.devInfURI()}}}})
	}
	if s.serverInfSent {
		return
	}
	seen, _ := s.store.LoadState(ctx, serverInfSeenKey(s.deviceID))
	if string(seen) == s.serverDevInfHash() {
		return
	}
	put := &Access{Op: "Put", Meta: &Meta{Type: devInfTypeFor(s.encoding)},
		Items: []Item{{Source: &Loc{LocURI: s.devInfURI()}, Data: &Data{XML: s.serverDevInf()}}}}
	// Unasked, it must not crowd out package 2: a device with small
	// messages can Get it instead.
	if encodedSize(commandElement(put)) > out.limit()/3 {
		return
	}
	out.add(put)
}

// serverDevInfAccepted records that the device took the server's DevInf.
func (s *session) serverDevInfAccepted(ctx context.Context) {
	if err := s.store.SaveState(ctx, serverInfSeenKey(s.deviceID), []byte(s.serverDevInfHash())); err != nil {
		s.log.Error("save server devinf mark", "err", err)
	}
}

// holdsExceptions reports whether a device takes recurrence exceptions
// as items of their own: its DevInf announces RECURRENCE-ID (or
// Synthesis' X-RECURRENCE-ID, for vCalendar 1.0) for a calendar type.
func holdsExceptions(ds *DataStore) bool {
	if ds == nil {
		return false
	}
	for _, cp := range ds.CTCaps {
		for _, p := range []string{"RECURRENCE-ID", "X-RECURRENCE-ID"} {
			if ok, _ := ds.SupportsProperty(cp.CTType, p); ok {
				return true
			}
		}
	}
	return false
}

// slotFromDevInf takes the device's description from its DevInf into its
// slot and reports whether anything changed.
func slotFromDevInf(s *pim.Slot, di *DevInf) bool {
	if di == nil {
		return false
	}
	changed := false
	for _, f := range []struct {
		dst *string
		v   string
	}{
		{&s.Manufacturer, di.Man}, {&s.Model, di.Mod}, {&s.SoftwareVersion, di.SwV}, {&s.DevType, di.DevTyp},
	} {
		if f.v != "" && *f.dst != f.v {
			*f.dst, changed = f.v, true
		}
	}
	return changed
}
