package web

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"syncml-imap/pim"
)

//go:embed templates/*.html templates/style.css
var files embed.FS

// pages are the page templates, each with the layout.
var pages = parsePages("signin", "error", "devices", "device", "confirm", "backup", "imported", "setup", "admin")

func parsePages(names ...string) map[string]*template.Template {
	base := template.Must(template.New("layout.html").ParseFS(files, "templates/layout.html"))
	m := map[string]*template.Template{}
	for _, n := range names {
		m[n] = template.Must(template.Must(base.Clone()).ParseFS(files, "templates/"+n+".html"))
	}
	return m
}

var style = func() []byte {
	b, err := files.ReadFile("templates/style.css")
	if err != nil {
		panic(err)
	}
	return b
}()

func serveStyle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(style)
}

// layout is what every page gets.
type layout struct {
	Title    string
	Prefix   string
	User     string
	SignedIn bool
	Own      bool
	Admin    bool
	CSRF     string
	Message  string
	Page     string
	Data     any
}

// render writes a page; s is nil when not signed in.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, s *session, code int, name, title string, data any) {
	l := layout{Title: title, Prefix: h.Prefix, Page: name, Data: data}
	if s != nil {
		l.User, l.SignedIn, l.Own, l.Admin, l.CSRF = s.user, true, s.own, s.admin && h.Admin != nil, s.csrf
		l.Message = h.sess.takeFlash(s)
	}
	var buf bytes.Buffer
	if err := pages[name].Execute(&buf, l); err != nil {
		h.Logger.Error("web: page", "page", name, "err", err)
		http.Error(w, "the page could not be made", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// setupView is what the setup page shows.
type setupView struct {
	SyncMLURL, DAVURL, Host string
	User                    string
	Databases               []setupDB
}

type setupDB struct {
	Kind, What string
	Names      []string
}

func (h *Handler) setupPage(w http.ResponseWriter, r *http.Request, s *session) {
	base := h.Setup.PublicURL
	var origin string
	if u, err := url.Parse(base); err == nil && base != "" {
		origin = u.Scheme + "://" + u.Host
	} else {
		scheme := "http"
		if r.TLS != nil || h.Secure {
			scheme = "https"
		}
		origin = scheme + "://" + r.Host
		base = origin + h.Setup.SyncMLPath
	}
	v := setupView{SyncMLURL: base, User: s.user, Host: strings.TrimPrefix(strings.TrimPrefix(origin, "https://"), "http://")}
	if h.Setup.DAVPath != "" {
		v.DAVURL = origin + strings.TrimSuffix(h.Setup.DAVPath, "/") + "/"
	}
	for _, db := range pim.Kinds {
		what := map[pim.Kind]string{pim.Contacts: "contacts (vCard 2.1 or 3.0)", pim.Calendar: "events (vCalendar 1.0 or iCalendar 2.0; a vCalendar 1.0 phone without a tasks database gets its tasks here too)",
			pim.Tasks: "tasks (to-dos)"}[db]
		v.Databases = append(v.Databases, setupDB{string(db), what, h.namesOf(db)})
	}
	h.render(w, r, s, http.StatusOK, "setup", "Set up a device", v)
}
