package syncml

import "strings"

// Device information (OMA-TS-DS_DevInf 1.2). The server answers a Get of
// ./devinf11 or ./devinf12 with its own DevInf, and accepts the client's
// Put (or Results).

const devInfType = "application/vnd.syncml-devinf+xml"

func isDevInfURI(uri string) bool {
	u := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(uri), "./"))
	return u == "devinf10" || u == "devinf11" || u == "devinf12"
}

func (s *session) handleAccess(out *outbox, a *Access) {
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
			s.storeDevInf([]Item{it})
			continue
		}
		out.add(&Results{MsgRef: out.msgRef, CmdRef: a.CmdID, Meta: &Meta{Type: devInfType},
			Items: []Item{{Source: &Loc{LocURI: "./devinf" + strings.ReplaceAll(s.verDTD, ".", "")},
				Data: &Data{XML: s.serverDevInf()}}}})
	}
}

// storeDevInf keeps what the device says of itself for the session.
func (s *session) storeDevInf(items []Item) {
	for _, it := range items {
		if it.Data == nil || it.Data.XML == nil {
			continue
		}
		di := it.Data.XML
		if di.Has("SupportLargeObjs") {
			s.largeObjs = true
		}
		s.log.Info("device information", "man", di.ChildText("Man"), "mod", di.ChildText("Mod"), "swv", di.ChildText("SwV"))
	}
}

// serverDevInf describes the server: one DataStore per database with the
// types it takes and sends and the sync types it supports (1-7).
func (s *session) serverDevInf() *Element {
	di := &Element{Name: "DevInf", NS: NSDevInf}
	di.addText("VerDTD", s.verDTD)
	di.addText("Man", "syncml-imap")
	di.addText("Mod", "syncml-imap")
	di.addText("SwV", "0.1")
	di.addText("DevID", s.srv.opts.ServerID)
	di.addText("DevTyp", "server")
	di.addFlag("UTC", true)
	di.addFlag("SupportLargeObjs", true)
	di.addFlag("SupportNumberOfChanges", true)
	for _, db := range Databases {
		ds := di.add("DataStore")
		ds.addText("SourceRef", db)
		typ, ver := contentType(db)
		for _, name := range []string{"Rx-Pref", "Tx-Pref"} {
			x := ds.add(name)
			x.addText("CTType", typ)
			x.addText("VerCT", ver)
		}
		sc := ds.add("SyncCap")
		for _, t := range []string{"1", "2", "3", "4", "5", "6"} {
			sc.addText("SyncType", t)
		}
	}
	return di
}
