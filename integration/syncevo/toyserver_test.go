package syncevo

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// node is an XML element with its children and text, namespaces dropped.
type node struct {
	name string
	text string
	kids []*node
}

func parseXML(data []byte) (*node, error) {
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	root := &node{}
	stack := []*node{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{name: tok.Name.Local}
			top.kids = append(top.kids, n)
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.text += string(tok)
		}
	}
	if len(root.kids) != 1 {
		return nil, fmt.Errorf("%d root elements", len(root.kids))
	}
	return root.kids[0], nil
}

// get follows a path of child names; nil when missing.
func (n *node) get(path ...string) *node {
	for _, name := range path {
		if n == nil {
			return nil
		}
		var next *node
		for _, k := range n.kids {
			if k.name == name {
				next = k
				break
			}
		}
		n = next
	}
	return n
}

// str is the trimmed text at path; "" when missing.
func (n *node) str(path ...string) string {
	if m := n.get(path...); m != nil {
		return strings.TrimSpace(m.text)
	}
	return ""
}

// toyServer is the least SyncML 1.2 server (XML only, one datastore
// "contacts" of vCard 3.0) that the SyncEvolution client completes a
// sync with. It sends its items in every sync it answers and records what
// the client sends.
type toyServer struct {
	*httptest.Server
	t testing.TB

	mu         sync.Mutex
	items      map[string]string // server ID -> vCard, sent to the client as Add
	forceSlow  bool              // answer every two-way alert with a slow sync (201)
	loseAnchor bool              // send a wrong Last anchor, as a server that lost it
	anchors    map[string]string // database -> the Next anchor sent last
	added      []string          // item data of the client's Adds and Replaces
	deleted    int               // the client's Deletes
	msgs       int
}

func newToyServer(t testing.TB) *toyServer {
	s := &toyServer{t: t, items: map[string]string{}, anchors: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *toyServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	msg, err := parseXML(body)
	if err != nil || msg.name != "SyncML" {
		s.t.Errorf("toy server: bad message %v: %.200s", err, body)
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs++
	reply := s.answer(msg)
	w.Header().Set("Content-Type", "application/vnd.syncml+xml")
	io.WriteString(w, reply)
}

func (s *toyServer) answer(msg *node) string {
	hdr := msg.get("SyncHdr")
	dev := hdr.str("Source", "LocURI")
	url := hdr.str("Target", "LocURI")
	msgRef := hdr.str("MsgID")
	var b strings.Builder
	cmdID := 0
	next := func() int { cmdID++; return cmdID }
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?><SyncML xmlns='SYNCML:SYNCML1.2'><SyncHdr><VerDTD>1.2</VerDTD><VerProto>SyncML/1.2</VerProto>`+
		`<SessionID>%s</SessionID><MsgID>%d</MsgID><Target><LocURI>%s</LocURI></Target><Source><LocURI>%s</LocURI></Source></SyncHdr><SyncBody>`,
		hdr.str("SessionID"), s.msgs, dev, url)
	hdrStatus := "200"
	if hdr.get("Cred") != nil {
		hdrStatus = "212"
	}
	status := func(cmdRef, cmd, targetRef, sourceRef, code, extra string) {
		fmt.Fprintf(&b, "<Status><CmdID>%d</CmdID><MsgRef>%s</MsgRef><CmdRef>%s</CmdRef><Cmd>%s</Cmd>", next(), msgRef, cmdRef, cmd)
		if targetRef != "" {
			fmt.Fprintf(&b, "<TargetRef>%s</TargetRef>", targetRef)
		}
		if sourceRef != "" {
			fmt.Fprintf(&b, "<SourceRef>%s</SourceRef>", sourceRef)
		}
		fmt.Fprintf(&b, "<Data>%s</Data>%s</Status>", code, extra)
	}
	status("0", "SyncHdr", url, dev, hdrStatus, "")

	body := msg.get("SyncBody")
	final := body.get("Final") != nil
	var after strings.Builder // commands after the statuses
	for _, cmd := range body.kids {
		id := cmd.str("CmdID")
		switch cmd.name {
		case "Put", "Map":
			status(id, cmd.name, "", "", "200", "")
		case "Get":
			status(id, "Get", "./devinf12", "", "200", "")
			fmt.Fprintf(&after, "<Results><CmdID>%d</CmdID><MsgRef>%s</MsgRef><CmdRef>%s</CmdRef>"+
				"<Meta><Type xmlns='syncml:metinf'>application/vnd.syncml-devinf+xml</Type></Meta>"+
				"<Item><Source><LocURI>./devinf12</LocURI></Source><Data>%s</Data></Item></Results>",
				next(), msgRef, id, toyDevInf)
		case "Alert":
			code := cmd.str("Data")
			item := cmd.get("Item")
			target, source := item.str("Target", "LocURI"), item.str("Source", "LocURI")
			anchor := item.str("Meta", "Anchor", "Next")
			status(id, "Alert", target, source, "200",
				fmt.Sprintf("<Item><Data><Anchor xmlns='syncml:metinf'><Next>%s</Next></Anchor></Data></Item>", anchor))
			if code == "222" {
				continue
			}
			if code == "200" && s.forceSlow {
				code = "201"
			}
			last := s.anchors[target]
			if s.loseAnchor {
				last = "lost"
			}
			serverNext := fmt.Sprintf("toy-%d", s.msgs)
			s.anchors[target] = serverNext
			fmt.Fprintf(&after, "<Alert><CmdID>%d</CmdID><Data>%s</Data><Item><Target><LocURI>%s</LocURI></Target>"+
				"<Source><LocURI>%s</LocURI></Source><Meta><Anchor xmlns='syncml:metinf'><Last>%s</Last><Next>%s</Next></Anchor></Meta></Item></Alert>",
				next(), code, source, target, last, serverNext)
		case "Sync":
			target, source := cmd.str("Target", "LocURI"), cmd.str("Source", "LocURI")
			status(id, "Sync", target, source, "200", "")
			for _, c := range cmd.kids {
				switch c.name {
				case "Add", "Replace":
					s.added = append(s.added, c.str("Item", "Data"))
					code := "201"
					if c.name == "Replace" {
						code = "200"
					}
					status(c.str("CmdID"), c.name, "", c.str("Item", "Source", "LocURI"), code, "")
				case "Delete":
					s.deleted++
					status(c.str("CmdID"), c.name, "", c.str("Item", "Source", "LocURI"), "200", "")
				}
			}
			if !final {
				continue
			}
			fmt.Fprintf(&after, "<Sync><CmdID>%d</CmdID><Target><LocURI>%s</LocURI></Target><Source><LocURI>%s</LocURI></Source>",
				next(), source, target)
			for id, data := range s.items {
				fmt.Fprintf(&after, "<Add><CmdID>%d</CmdID><Meta><Type xmlns='syncml:metinf'>text/vcard</Type></Meta>"+
					"<Item><Source><LocURI>%s</LocURI></Source><Data><![CDATA[%s]]></Data></Item></Add>", next(), id, data)
			}
			s.items = map[string]string{}
			after.WriteString("</Sync>")
		}
	}
	b.WriteString(after.String())
	if final {
		b.WriteString("<Final/>")
	}
	b.WriteString("</SyncBody></SyncML>")
	return b.String()
}

const toyDevInf = "<DevInf xmlns='syncml:devinf'><VerDTD>1.2</VerDTD><Man>syncevo test</Man><Mod>toy</Mod>" +
	"<OEM>none</OEM><FwV>1</FwV><SwV>1</SwV><HwV>1</HwV><DevID>toy-server</DevID><DevTyp>server</DevTyp>" +
	"<UTC/><SupportLargeObjs/><SupportNumberOfChanges/>" +
	"<DataStore><SourceRef>contacts</SourceRef><Rx-Pref><CTType>text/vcard</CTType><VerCT>3.0</VerCT></Rx-Pref>" +
	"<Tx-Pref><CTType>text/vcard</CTType><VerCT>3.0</VerCT></Tx-Pref>" +
	"<CTCap><CTType>text/vcard</CTType><VerCT>3.0</VerCT><Property><PropName>BEGIN</PropName></Property>" +
	"<Property><PropName>END</PropName></Property><Property><PropName>VERSION</PropName></Property>" +
	"<Property><PropName>N</PropName></Property><Property><PropName>FN</PropName></Property>" +
	"<Property><PropName>EMAIL</PropName></Property><Property><PropName>UID</PropName></Property></CTCap>" +
	"<SyncCap><SyncType>1</SyncType><SyncType>2</SyncType><SyncType>3</SyncType><SyncType>4</SyncType>" +
	"<SyncType>5</SyncType><SyncType>6</SyncType><SyncType>7</SyncType></SyncCap></DataStore>" +
	"</DevInf>"
