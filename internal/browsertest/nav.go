package browsertest

import (
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Go loads url in the tab and waits until the page has loaded, following
// redirects.
func (b *Browser) Go(url string) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		b.fatalf(err, "go to %s", url)
	}
	b.setStatus(resp)
}

// Click clicks the first element that matches the CSS selector, a link or a
// submit button, and waits until the page it leads to has loaded. The click
// is a mouse click at the element's centre, so the element must be visible.
func (b *Browser) Click(selector string) {
	b.t.Helper()
	b.need(selector)
	ctx, cancel := b.step()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
	if err != nil {
		b.fatalf(err, "click %q and wait for the next page", selector)
	}
	b.setStatus(resp)
}

// Status returns the HTTP status of the main document of the last page
// that Go or Click loaded, after redirects: 200 for the page that a 303
// led to, 403 for a refusal. It is 0 before the first page.
func (b *Browser) Status() int {
	return b.status
}

// URL returns the address of the page shown now.
func (b *Browser) URL() string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		b.fatalf(err, "read the URL")
	}
	return u
}

// setStatus keeps the status of the main document from the network events
// of a navigation (Network.responseReceived for its request).
func (b *Browser) setStatus(resp *network.Response) {
	b.status = 0
	if resp != nil {
		b.status = int(resp.Status)
	}
}
