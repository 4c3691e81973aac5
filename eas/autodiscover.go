package eas

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"

	"syncml-imap/pim"
)

// Autodiscover (MS-ASCMD 2.2.1.1, and the JSON form newer clients ask
// first) tells a client that set up from an e-mail address and a
// password where ActiveSync is. The XML form is answered after a login,
// as Exchange does; the JSON form, which names only the URL, without.

// Path is where ActiveSync is served.
const Path = "/Microsoft-Server-ActiveSync"

const (
	mobileSyncRequest  = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
	mobileSyncResponse = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
	autodiscoverResp   = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
)

// Autodiscover answers /autodiscover/autodiscover.xml (and the
// capitalised spellings clients use) and /autodiscover/autodiscover.json.
type Autodiscover struct {
	// Auth checks the password of the XML form's login.
	Auth pim.Authenticator
	// URL is ActiveSync's absolute URL ("" : from the request's host).
	URL string
}

func (a *Autodiscover) url(r *http.Request) string {
	if a.URL != "" {
		return a.URL
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + Path
}

type adRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string `xml:"EMailAddress"`
		AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
	} `xml:"Request"`
}

func (a *Autodiscover) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if strings.Contains(strings.ToLower(r.URL.Path), "autodiscover.json") {
		a.serveJSON(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "Autodiscover takes a POST", http.StatusMethodNotAllowed)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" {
		w.Header().Set("WWW-Authenticate", realm)
		http.Error(w, "log in with your mail account", http.StatusUnauthorized)
		return
	}
	st, err := a.Auth.Login(pim.WithDevice(r.Context(), "autodiscover"), user, pass)
	if err != nil {
		if errors.Is(err, pim.ErrAuthFailed) && !errors.Is(err, pim.ErrUnavailable) {
			w.Header().Set("WWW-Authenticate", realm)
			http.Error(w, "wrong user name or password", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Retry-After", "60")
		http.Error(w, "the mail server cannot be reached now", http.StatusServiceUnavailable)
		return
	}
	st.Close()
	var req adRequest
	body, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err := xml.Unmarshal(body, &req); err != nil || req.Request.AcceptableResponseSchema != mobileSyncResponse {
		// Not a mobile-sync request (Outlook asks for its own schema,
		// which names mail servers this daemon does not serve).
		a.writeError(w, "600", "Invalid Request")
		return
	}
	email := strings.TrimSpace(req.Request.EMailAddress)
	if email == "" {
		email = user
	}
	u := a.url(r)
	var resp adResponse
	resp.NS, resp.Response.NS, resp.Response.Culture = autodiscoverResp, mobileSyncResponse, "en:us"
	resp.Response.User = &adUser{DisplayName: user, EMailAddress: email}
	resp.Response.Action = &adAction{Server: adServer{Type: "MobileSync", URL: u, Name: u}}
	writeXML(w, &resp)
}

type adResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	NS       string   `xml:"xmlns,attr"`
	Response struct {
		NS      string    `xml:"xmlns,attr,omitempty"`
		Culture string    `xml:"Culture,omitempty"`
		User    *adUser   `xml:"User,omitempty"`
		Action  *adAction `xml:"Action>Settings,omitempty"`
		Error   *adError  `xml:"Error,omitempty"`
	} `xml:"Response"`
}

type adUser struct {
	DisplayName  string `xml:"DisplayName"`
	EMailAddress string `xml:"EMailAddress"`
}

type adAction struct {
	Server adServer `xml:"Server"`
}

type adServer struct {
	Type string `xml:"Type"`
	URL  string `xml:"Url"`
	Name string `xml:"Name"`
}

type adError struct {
	ErrorCode string `xml:"ErrorCode"`
	Message   string `xml:"Message"`
}

func writeXML(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	io.WriteString(w, xml.Header)
	xml.NewEncoder(w).Encode(v)
}

func (a *Autodiscover) writeError(w http.ResponseWriter, code, msg string) {
	var resp adResponse
	resp.NS = autodiscoverResp
	resp.Response.Error = &adError{code, msg}
	writeXML(w, &resp)
}

// serveJSON answers the JSON form: {"Protocol":"ActiveSync","Url":...}
// for Protocol=ActiveSync, 400 for other protocols.
func (a *Autodiscover) serveJSON(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Query().Get("Protocol"); !strings.EqualFold(p, "ActiveSync") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{"ErrorCode": "InvalidProtocol", "ErrorMessage": "only ActiveSync is served here"})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Protocol string
		URL      string `json:"Url"`
	}{"ActiveSync", a.url(r)})
}

const realm = `Basic realm="syncml-imap", charset="UTF-8"`
