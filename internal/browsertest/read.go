package browsertest

import (
	"fmt"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Text returns the text that the first element matching the CSS selector
// shows (its innerText: what a person reads, without the markup).
func (b *Browser) Text(selector string) string {
	b.t.Helper()
	b.need(selector)
	ctx, cancel := b.step()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
	if err != nil {
		b.fatalf(err, "read the text of %q", selector)
	}
	return s
}

// Has reports whether an element on the page matches the CSS selector.
func (b *Browser) Has(selector string) bool {
	b.t.Helper()
	return b.eval(fmt.Sprintf("look for %q", selector),
		fmt.Sprintf(`String(document.querySelector(%s) !== null)`, js(selector))) == "true"
}

// HTML returns the page's document as the browser holds it now.
func (b *Browser) HTML() string {
	b.t.Helper()
	return b.eval("read the page's HTML", `document.documentElement.outerHTML`)
}

// Cookie is a cookie as the browser stored it.
type Cookie struct {
	Name, Value string
	Path        string
	HTTPOnly    bool
	Secure      bool
	SameSite    string // "Strict", "Lax", "None", or "" when the server set none
}

// Cookies returns the cookies that the browser would send to the page
// shown now.
func (b *Browser) Cookies() []Cookie {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		b.fatalf(err, "read the cookies")
	}
	var cs []Cookie
	for _, c := range res.Cookies {
		cs = append(cs, Cookie{
			Name: c.Name, Value: c.Value, Path: c.Path,
			HTTPOnly: c.HTTPOnly, Secure: c.Secure, SameSite: string(c.SameSite),
		})
	}
	return cs
}

// Cookie returns the cookie called name that the page shown now gets, or
// nil when there is none.
func (b *Browser) Cookie(name string) *Cookie {
	b.t.Helper()
	for _, c := range b.Cookies() {
		if c.Name == name {
			return &c
		}
	}
	return nil
}
