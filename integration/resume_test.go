package integration

import (
	"bytes"
	"regexp"
	"sync"
	"testing"

	"syncml-imap/integration/syncevo"
)

// alertResume is the client's Alert 225 (resume) in a logged message.
var alertResume = regexp.MustCompile(`<Alert>\s*<CmdID>\d+</CmdID>\s*<Data>225</Data>`)

// TestResumeAfterCut: the connection to SyncEvolution is cut while the
// server sends it its changes (after the client stored some and sent its
// statuses). Synthesis saves its position at the end of every request,
// so the next sync asks to resume (Alert 225); the server resumes from
// its saved position (200). Either way nothing is lost or doubled: both
// sides agree afterwards and the following sync is quiet.
func TestResumeAfterCut(t *testing.T) {
	e, want := changedFaultEnv(t, 60)
	var mu sync.Mutex
	cutNow, acks := false, 0
	e.setRecord(func(_ string, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		if acksServerChanges(body) {
			acks++
			cutNow = acks == 2
		}
	})
	e.setCut(func() bool {
		mu.Lock()
		defer mu.Unlock()
		c := cutNow
		cutNow = false
		return c
	})
	r := e.client.Sync(t, syncevo.TwoWay)
	e.setCut(nil)
	e.setRecord(nil)
	if acks < 2 {
		t.Fatalf("the sync ended before the client acknowledged twice: %s", r)
	}
	if r.OK() {
		t.Fatalf("the cut sync succeeded: %s", r)
	}
	t.Logf("the cut sync: %s (device holds %d contacts)", r, len(e.client.Items(t, "addressbook")))

	r = e.sync(t, syncevo.TwoWay)
	t.Logf("the next sync: %s", r)
	msgs, err := e.client.Messages(r)
	if err != nil {
		t.Fatal(err)
	}
	resumed := false
	for i, m := range msgs {
		if !m.Outgoing || !alertResume.Match(m.Data) {
			continue
		}
		resumed = true
		t.Logf("the client asked to resume (Alert 225 in %s)", m.File)
		// The server's answer to the message: Status 200 to the Alert.
		for _, a := range msgs[i+1:] {
			if a.Outgoing {
				continue
			}
			if !regexp.MustCompile(`<Cmd>Alert</Cmd>[\s\S]*?<Data>200</Data>`).Match(a.Data) || bytes.Contains(a.Data, []byte("<Data>509</Data>")) {
				t.Errorf("the resume (225) was not answered 200:\n%s", a.Data)
			}
			break
		}
		break
	}
	if !resumed {
		t.Logf("the client did not ask to resume (no Alert 225): it repeated the session instead")
	}
	e.agree(t, want)
	e.quiet(t, want)
}

// changedFaultEnv is a parallel fault case's env with 100 contacts
// synced and the first n changed on both sides since.
func changedFaultEnv(t *testing.T, n int) (*env, book) {
	t.Helper()
	t.Parallel()
	timed(t)
	e := newFaultEnv(t)
	want := book{}
	e.seed(t, want, 0, 100)
	e.changeBoth(t, want, 0, n)
	return e, want
}
