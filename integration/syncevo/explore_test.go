package syncevo

import (
	"os"
	"testing"
)

func TestExplore(t *testing.T) {
	srv := newToyServer(t)
	srv.items["srv1"] = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\nUID:srv1\r\nEND:VCARD\r\n"
	c := New(t, &Options{URL: srv.URL + "/syncml", Username: "alice", Password: "pw", DeviceID: "dev-toy"})
	r := c.Sync(t, Configured)
	t.Logf("result: %s\n%s", r, r.Output)
	st, _ := os.ReadFile(r.LogDir + "/status.ini")
	t.Logf("status.ini:\n%s", st)
	ents, _ := os.ReadDir(r.LogDir)
	for _, e := range ents { t.Log(e.Name()) }
	t.Logf("items: %q", c.Items(t, "addressbook"))
	c.WriteItem(t, "addressbook", "mine", []byte("BEGIN:VCARD\r\nVERSION:3.0\r\nN:Roe;Jane;;;\r\nFN:Jane Roe\r\nEND:VCARD\r\n"))
	r = c.Sync(t, Configured)
	t.Logf("result: %s\n%s", r, r.Output)
	st, _ = os.ReadFile(r.LogDir + "/status.ini")
	t.Logf("status.ini:\n%s", st)
	t.Logf("server got %q", srv.added)
	os.RemoveAll("/tmp/explore"); os.CopyFS("/tmp/explore", os.DirFS(c.Dir))
}
