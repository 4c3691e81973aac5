package browsertest

import (
	"bytes"
	"fmt"
	"html"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// harnessSite is a small site with what the web pages have: a form behind
// a cookie, a POST that redirects (303) to a message, a refusal (403), an
// upload and a download.
func harnessSite(t *testing.T) *httptest.Server {
	page := func(w http.ResponseWriter, status int, body string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<!doctype html><html><head><meta name="viewport" content="width=device-width">
<title>harness</title><style>body{font:16px sans-serif;margin:1em}</style></head><body>%s</body></html>`, body)
	}
	signedIn := func(r *http.Request) bool {
		c, err := r.Cookie("harness_session")
		return err == nil && c.Value == "s3cret"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "harness_session", Value: "s3cret", Path: "/",
			HttpOnly: true, SameSite: http.SameSiteLaxMode})
		page(w, http.StatusOK, `<h1>Policy</h1>
<form method="post" action="/submit">
<label>Name <input id="name" name="name" value="old"></label>
<label>Direction <select id="direction" name="direction">
<option value="two-way">both ways</option><option value="from-device">from the device</option></select></label>
<label><input type="checkbox" id="open" name="open" checked> open tasks only</label>
<label><input type="checkbox" id="past" name="past"> past events</label>
<button id="save" type="submit">Save</button>
</form>`)
	})
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			page(w, http.StatusForbidden, `<p id="message">no cookie: refused</p>`)
			return
		}
		r.ParseForm()
		msg := fmt.Sprintf("name=%s direction=%s open=%s past=%s",
			r.PostForm.Get("name"), r.PostForm.Get("direction"), r.PostForm.Get("open"), r.PostForm.Get("past"))
		http.Redirect(w, r, "/done?msg="+strings.ReplaceAll(msg, " ", "+"), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		page(w, http.StatusOK, `<p id="message">Saved: `+html.EscapeString(r.URL.Query().Get("msg"))+`</p>
<p><a id="admin" href="/admin">Admin</a> <a id="upload" href="/upload">Import</a></p>`)
	})
	mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		page(w, http.StatusForbidden, `<h1>Forbidden</h1><p id="message">You are not an admin: refused.</p>`)
	})
	mux.HandleFunc("GET /upload", func(w http.ResponseWriter, r *http.Request) {
		page(w, http.StatusOK, `<form method="post" action="/upload" enctype="multipart/form-data">
<input type="file" id="file" name="file"><button id="import" type="submit">Import</button></form>`)
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		f, h, err := r.FormFile("file")
		if err != nil {
			page(w, http.StatusBadRequest, `<p id="message">no file</p>`)
			return
		}
		data, _ := io.ReadAll(f)
		page(w, http.StatusOK, fmt.Sprintf(`<p id="message">%s: %d bytes, %s</p>`,
			html.EscapeString(h.Filename), len(data), html.EscapeString(string(data))))
	})
	mux.HandleFunc("GET /backup/contacts.vcf", func(w http.ResponseWriter, r *http.Request) {
		if !signedIn(r) {
			http.Error(w, "refused", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "text/vcard; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="contacts.vcf"`)
		io.WriteString(w, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada\r\nEND:VCARD\r\n")
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: mux}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestHarness(t *testing.T) {
	site := harnessSite(t)
	began := time.Now()
	b := Start(t)
	t.Logf("Start took %v", time.Since(began).Round(time.Millisecond))

	// Before the form, no cookie: the download is refused.
	b.Go(site.URL + "/backup/contacts.vcf")
	if b.Status() != http.StatusForbidden {
		t.Errorf("download page before the cookie: status %d, want 403", b.Status())
	}
	if d := b.Download(site.URL + "/backup/contacts.vcf"); d.Status != http.StatusForbidden {
		t.Errorf("Download before the cookie: status %d, want 403", d.Status)
	}

	b.Go(site.URL + "/form")
	if b.Status() != http.StatusOK || b.URL() != site.URL+"/form" {
		t.Fatalf("form: status %d at %s", b.Status(), b.URL())
	}
	c := b.Cookie("harness_session")
	if c == nil {
		t.Fatalf("no session cookie; cookies %+v", b.Cookies())
	}
	if !c.HTTPOnly || c.Secure || c.SameSite != "Lax" || c.Value != "s3cret" {
		t.Errorf("session cookie %+v, want HttpOnly, not Secure (plain HTTP), SameSite=Lax", *c)
	}
	if !strings.Contains(b.HTML(), `<form method="post" action="/submit">`) {
		t.Errorf("HTML lacks the form:\n%s", b.HTML())
	}
	if !b.Has("#save") || b.Has("#message") {
		t.Errorf("Has: #save %v (want true), #message %v (want false)", b.Has("#save"), b.Has("#message"))
	}

	b.Fill("#name", "Ada Lovelace")
	b.Select("#direction", "from-device")
	b.Check("#open", false)
	b.Check("#past", true)
	b.Check("#past", true) // already so: no click
	b.Click("#save")
	if b.Status() != http.StatusOK || !strings.HasPrefix(b.URL(), site.URL+"/done?") {
		t.Errorf("after the 303: status %d at %s, want 200 at /done", b.Status(), b.URL())
	}
	if got, want := b.Text("#message"), "Saved: name=Ada Lovelace direction=from-device open= past=on"; got != want {
		t.Errorf("message %q, want %q", got, want)
	}

	for _, w := range []int{PhoneWidth, DesktopWidth} {
		b.SetWidth(w)
		path := b.Screenshot(t, "saved")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if cfg.Width != w || filepath.Base(path) != fmt.Sprintf("saved-%d.png", w) {
			t.Errorf("%s is %d pixels wide, want %d", path, cfg.Width, w)
		}
	}

	b.Click("#admin")
	if b.Status() != http.StatusForbidden || !strings.Contains(b.Text("#message"), "refused") {
		t.Errorf("admin: status %d, message %q; want 403 and \"refused\"", b.Status(), b.Text("#message"))
	}

	b.Go(site.URL + "/upload")
	file := filepath.Join(t.TempDir(), "cards.vcf")
	if err := os.WriteFile(file, []byte("BEGIN:VCARD"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.SetFile("#file", file)
	b.Click("#import")
	if got, want := b.Text("#message"), "cards.vcf: 11 bytes, BEGIN:VCARD"; b.Status() != http.StatusOK || got != want {
		t.Errorf("upload: status %d, message %q, want 200 and %q", b.Status(), got, want)
	}

	d := b.Download(site.URL + "/backup/contacts.vcf")
	if d.Status != http.StatusOK || d.ContentType != "text/vcard; charset=utf-8" ||
		d.ContentDisposition != `attachment; filename="contacts.vcf"` || !bytes.Contains(d.Body, []byte("FN:Ada")) {
		t.Errorf("download: %d %q %q %q", d.Status, d.ContentType, d.ContentDisposition, d.Body)
	}

	// The pages asked for nothing beyond loopback; what a page asks for
	// there gets the sink's 502 and shows in Outside.
	if out := b.Outside(); len(out) > 0 {
		t.Errorf("the pages reached beyond 127.0.0.1: %q", out)
	}
	b.Go("http://example.invalid/")
	if b.Status() != http.StatusBadGateway || !slices.Contains(b.sink.requests(), "GET http://example.invalid/") {
		t.Errorf("outside address: status %d, sink saw %q; want 502 from the sink", b.Status(), b.sink.requests())
	}
	if out := b.Outside(); !slices.Equal(out, []string{"GET http://example.invalid/"}) {
		t.Errorf("Outside() = %q, want the one request for example.invalid", out)
	}
	t.Logf("Start and the test took %v", time.Since(began).Round(time.Millisecond))
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"TestWeb/phone signin": "TestWeb/phone_signin",
		"../../etc/passwd":     "etc/passwd",
		"":                     "_",
		"a//b/./c":             "a/b/c",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}
