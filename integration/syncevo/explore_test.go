package syncevo

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestExplore(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { select { case <-block: case <-r.Context().Done(): } }))
	defer srv.Close()
	defer close(block)
	c := New(t, &Options{URL: srv.URL + "/syncml", Username: "alice", Password: "pw", Timeout: 3 * time.Second})
	r := c.Sync(t, Configured)
	t.Logf("%s %v\n%s", r, r.Duration, r.Output)
}
