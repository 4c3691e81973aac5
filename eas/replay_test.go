package eas

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"syncml-imap/internal/wbxml"
)

// The requests Thunderbird 140 with TbSync 4.16 / EAS-4-TbSync 4.18 sent
// (integration/testdata/eas/tbsync-140, recorded by
// integration/thunderbird/run.sh against a stub).
const recorded = "../integration/testdata/eas/tbsync-140"

// xmlNode is the stub's own decoding of a body (its .xml file), read
// back to compare with ours: two token tables written apart.
type xmlNode struct {
	XMLName  xml.Name
	Text     string    `xml:",chardata"`
	Children []xmlNode `xml:",any"`
}

func sameTree(t *testing.T, file string, ours *wbxml.Node, page string, theirs xmlNode) {
	t.Helper()
	page = pageOf(ours, page)
	if ours.Name != theirs.XMLName.Local || page+":" != theirs.XMLName.Space {
		t.Errorf("%s: <%s:%s>, the recording's decoding says <%s%s>", file, page, ours.Name, theirs.XMLName.Space, theirs.XMLName.Local)
		return
	}
	if len(ours.Children) != len(theirs.Children) {
		t.Errorf("%s: <%s> has %d children, the recording's decoding %d", file, ours.Name, len(ours.Children), len(theirs.Children))
		return
	}
	if len(ours.Children) == 0 && !ours.Opaque && strings.TrimSpace(ours.Text) != strings.TrimSpace(theirs.Text) {
		t.Errorf("%s: <%s> text %q, the recording's decoding %q", file, ours.Name, ours.Text, theirs.Text)
	}
	for i := range ours.Children {
		sameTree(t, file, ours.Children[i], page, theirs.Children[i])
	}
}

// TestRecordedBodiesDecode: every body the real client sent (and every
// answer the stub gave it) decodes with our tables to the same tree as
// the stub's own decoding, and reads the same once encoded again.
func TestRecordedBodiesDecode(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(recorded, "*", "*.wbxml"))
	if len(files) < 50 {
		t.Fatalf("%d recorded bodies in %s", len(files), recorded)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		root, err := wbxml.DecodeEAS(data)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		// Encoded again it reads the same (the bytes may differ: the
		// client switches code pages where it need not, before END too).
		back, err := wbxml.EncodeEAS(root)
		if err != nil {
			t.Errorf("%s: encode: %v", f, err)
		} else if again, err := wbxml.DecodeEAS(back); err != nil || wbxml.Format(again) != wbxml.Format(root) {
			t.Errorf("%s: encoded and decoded again, it differs (%v)", f, err)
		}
		raw, err := os.ReadFile(strings.TrimSuffix(f, ".wbxml") + ".xml")
		if err != nil || strings.HasPrefix(filepath.Base(filepath.Dir(f)), "daemon-") {
			continue // no decoding of its own (daemon-*: ours, for reading)
		}
		var theirs xmlNode
		if err := xml.Unmarshal(raw, &theirs); err != nil {
			t.Errorf("%s.xml: %v", f, err)
			continue
		}
		sameTree(t, f, root, "AirSync", theirs)
	}
}

// recordedRequest is a request of the recording: its query, headers and
// body.
type recordedRequest struct {
	name, cmd, query string
	header           http.Header
	body             *wbxml.Node
}

func readRecorded(t *testing.T, dir string) []recordedRequest {
	t.Helper()
	heads, _ := filepath.Glob(filepath.Join(dir, "*-POST-*.headers.txt"))
	sort.Strings(heads)
	var out []recordedRequest
	for _, h := range heads {
		raw, err := os.ReadFile(h)
		if err != nil {
			t.Fatal(err)
		}
		rd := bufio.NewReader(bytes.NewReader(raw))
		line, _ := rd.ReadString('\n')
		fields := strings.Fields(line)
		if len(fields) < 2 {
			t.Fatalf("%s: request line %q", h, line)
		}
		_, query, _ := strings.Cut(fields[1], "?")
		hdr := http.Header{}
		for {
			l, err := rd.ReadString('\n')
			if k, v, ok := strings.Cut(strings.TrimRight(l, "\r\n"), ": "); ok {
				hdr.Add(k, v)
			}
			if err == io.EOF {
				break
			}
		}
		base := strings.TrimSuffix(h, ".headers.txt")
		r := recordedRequest{name: filepath.Base(base), query: query, header: hdr}
		r.cmd = base[strings.LastIndex(base, "-")+1:]
		if data, err := os.ReadFile(base + ".wbxml"); err == nil && len(data) > 0 {
			if r.body, err = wbxml.DecodeEAS(data); err != nil {
				t.Fatalf("%s: %v", base, err)
			}
		}
		out = append(out, r)
	}
	return out
}

// TestReplayTbSync plays the client's requests up to its first Sync
// against the handler, as the client would have sent them to it: its
// policy keys and SyncKeys are ours (the recording's were the stub's).
// Each answer must be what MS-ASPROV and MS-ASCMD say.
func TestReplayTbSync(t *testing.T) {
	for _, ver := range []string{"v14.0", "v16.1"} {
		t.Run(ver, func(t *testing.T) {
			p := newPhone(t)
			var tempKey, finalKey, folderKey string
			for _, r := range readRecorded(t, filepath.Join(recorded, ver)) {
				if r.cmd == "Sync" || r.cmd == "GetItemEstimate" {
					// The stub's Sync answers are not ours: the client's
					// Syncs against the daemon are played by
					// integration's TestReplayThunderbird.
					break
				}
				// The client's keys are ours.
				if finalKey != "" {
					r.header.Set("X-MS-PolicyKey", finalKey)
				}
				if k := child(child(child(r.body, "Policies"), "Policy"), "PolicyKey"); k != nil {
					k.Text = tempKey
				}
				if k := child(r.body, "SyncKey"); k != nil && r.cmd == "FolderSync" && k.Text != "0" {
					k.Text = folderKey
				}
				data, err := wbxml.EncodeEAS(r.body)
				if err != nil {
					t.Fatal(err)
				}
				req, _ := http.NewRequest("POST", p.srv.URL+"/Microsoft-Server-ActiveSync?"+r.query, bytes.NewReader(data))
				for k, vs := range r.header {
					switch k {
					case "Host", "Content-Length", "Connection":
						continue
					}
					for _, v := range vs {
						req.Header.Add(k, v)
					}
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/vnd.ms-sync.wbxml" {
					t.Fatalf("%s: HTTP %d %s", r.name, resp.StatusCode, out)
				}
				ans, err := wbxml.DecodeEAS(out)
				if err != nil {
					t.Fatalf("%s: answer: %v", r.name, err)
				}
				if text(ans, "Status") != "1" {
					t.Fatalf("%s: answer %s", r.name, wbxml.Format(ans))
				}
				switch r.cmd {
				case "Provision":
					pol := child(child(ans, "Policies"), "Policy")
					if text(pol, "Status") != "1" {
						t.Fatalf("%s: %s", r.name, wbxml.Format(ans))
					}
					if tempKey == "" {
						tempKey = text(pol, "PolicyKey")
					} else {
						finalKey = text(pol, "PolicyKey")
					}
				case "FolderSync":
					folderKey = text(ans, "SyncKey")
					if n := text(child(ans, "Changes"), "Count"); fmt.Sprint(n) == "" {
						t.Errorf("%s: no Count: %s", r.name, wbxml.Format(ans))
					}
				}
			}
			if finalKey == "" || folderKey == "" {
				t.Errorf("the replay did not get through Provision and FolderSync (key %q, folder key %q)", finalKey, folderKey)
			}
		})
	}
}
