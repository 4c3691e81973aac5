package browsertest

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// DownloadData is what a download brought.
type DownloadData struct {
	Status             int
	ContentType        string
	ContentDisposition string
	Body               []byte
}

// Download fetches rawURL as the browser's session would: with the cookies
// that the browser holds for that URL, HttpOnly ones too. A non-2xx status
// is returned, not a failure, so a test can check a refusal.
//
// The request is made by Go's HTTP client, not by Chromium's download
// manager: headless Chromium saves a download to a file and reports neither
// its status nor its headers, which are what a test of a backup link
// checks. What the browser adds is its cookie jar, read over the DevTools
// protocol (Network.getCookies for the URL), so a test cannot pass with a
// cookie that the browser would not send.
func (b *Browser) Download(rawURL string) *DownloadData {
	b.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		b.t.Fatalf("browsertest: download %s: %v", rawURL, err)
	}
	if !loopback(u.Hostname()) {
		b.t.Fatalf("browsertest: download %s: only loopback addresses are allowed", rawURL)
	}
	ctx, cancel := b.step()
	defer cancel()
	jar, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	if err != nil {
		b.fatalf(err, "read the cookies for %s", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		b.t.Fatalf("browsertest: download %s: %v", rawURL, err)
	}
	for _, c := range jar.Cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{
		// As the browser does (IgnoreCertErrors): the servers under test
		// use throwaway certificates and only loopback is reached.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		// A redirect elsewhere than loopback is refused like the request.
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if !loopback(r.URL.Hostname()) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		b.fatalf(err, "download %s", rawURL)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.fatalf(err, "download %s: read the body", rawURL)
	}
	return &DownloadData{
		Status:             resp.StatusCode,
		ContentType:        resp.Header.Get("Content-Type"),
		ContentDisposition: resp.Header.Get("Content-Disposition"),
		Body:               body,
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
