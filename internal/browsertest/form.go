package browsertest

import (
	"encoding/json"
	"fmt"
	"path/filepath"

	"github.com/chromedp/chromedp"
)

// Fill types value into the text field or textarea that the CSS selector
// matches, after emptying it, with key events as a person types. The field
// must be visible, and must hold value afterwards (a maxlength that cuts
// it fails the test).
func (b *Browser) Fill(selector, value string) {
	b.t.Helper()
	b.need(selector)
	b.eval(fmt.Sprintf("fill %q", selector), fmt.Sprintf(`document.querySelector(%s).value = ""`, js(selector)))
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(selector), value)); err != nil {
		b.fatalf(err, "fill %q", selector)
	}
	if got := b.eval(fmt.Sprintf("read back %q", selector), fmt.Sprintf(`document.querySelector(%s).value`, js(selector))); got != value {
		b.t.Fatalf("browsertest: fill %q with %q: the field holds %q (on %s)", selector, value, got, b.location())
	}
}

// Select chooses the option whose value is value in the <select> that the
// CSS selector matches. An option that is not there fails the test, with
// the values that are.
func (b *Browser) Select(selector, value string) {
	b.t.Helper()
	b.need(selector)
	msg := b.eval(fmt.Sprintf("select %q in %q", value, selector), fmt.Sprintf(`(() => {
		const e = document.querySelector(%s), v = %s;
		if (e.tagName !== "SELECT") return "it is a <" + e.tagName.toLowerCase() + ">, not a <select>";
		const values = Array.from(e.options, o => o.value);
		if (!values.includes(v)) return "no such option; the options are " + JSON.stringify(values);
		e.value = v;
		e.dispatchEvent(new Event("input", {bubbles: true}));
		e.dispatchEvent(new Event("change", {bubbles: true}));
		return "";
	})()`, js(selector), js(value)))
	if msg != "" {
		b.t.Fatalf("browsertest: select %q in %q: %s (on %s)", value, selector, msg, b.location())
	}
}

// Check sets the checkbox or radio button that the CSS selector matches to
// checked or unchecked, by clicking it when it is not so already.
func (b *Browser) Check(selector string, checked bool) {
	b.t.Helper()
	b.need(selector)
	if b.checked(selector) == checked {
		return
	}
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector))); err != nil {
		b.fatalf(err, "click %q to check it", selector)
	}
	if b.checked(selector) != checked {
		b.t.Fatalf("browsertest: %q is still checked=%v after a click (on %s)", selector, !checked, b.location())
	}
}

func (b *Browser) checked(selector string) bool {
	b.t.Helper()
	return b.eval(fmt.Sprintf("read %q", selector), fmt.Sprintf(`String(document.querySelector(%s).checked === true)`, js(selector))) == "true"
}

// SetFile chooses the file at path in the <input type=file> that the CSS
// selector matches, as the file dialog would.
func (b *Browser) SetFile(selector, path string) {
	b.t.Helper()
	b.need(selector)
	abs, err := filepath.Abs(path)
	if err != nil {
		b.t.Fatalf("browsertest: set file %q: %v", selector, err)
	}
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS(selector), []string{abs})); err != nil {
		b.fatalf(err, "set file %q to %s", selector, abs)
	}
}

// need fails the test at once when nothing on the page matches the CSS
// selector; chromedp's own queries would wait for it until the deadline.
// The pages have no scripts, so what a loaded page lacks stays missing.
func (b *Browser) need(selector string) {
	b.t.Helper()
	if !b.Has(selector) {
		b.t.Fatalf("browsertest: no element matches %q (on %s)", selector, b.location())
	}
}

// eval runs a JavaScript expression whose value is a string.
func (b *Browser) eval(what, expr string) string {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.fatalf(err, "%s", what)
	}
	return v
}

// js quotes s as a JavaScript string literal.
func js(s string) string {
	q, _ := json.Marshal(s) // a string always marshals
	return string(q)
}
