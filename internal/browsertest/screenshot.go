package browsertest

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// SetWidth sets the width of the tab's viewport in CSS pixels and lays the
// page out again. A width under 768 emulates a phone: the page is laid out
// as a mobile browser does, so a page without a viewport meta tag shows
// shrunk, as it would on a phone. Use [PhoneWidth] and [DesktopWidth].
func (b *Browser) SetWidth(px int) {
	b.t.Helper()
	height, opts := 800, []chromedp.EmulateViewportOption{}
	if px < 768 {
		height = 844
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(int64(px), int64(height), opts...)); err != nil {
		b.fatalf(err, "set the width to %d", px)
	}
	b.width = px
}

// Screenshot saves a PNG of the whole page (not only the viewport) at the
// current width as <dir>/<name>-<width>.png and logs its path. The dir is
// $SYNCML_IMAP_SCREENSHOTS/<TestName> when that variable is set, else
// syncml-imap-screenshots/<TestName> under the system's temporary
// directory; it is kept after the test, for a person to look at.
func (b *Browser) Screenshot(t testing.TB, name string) string {
	t.Helper()
	root := os.Getenv("SYNCML_IMAP_SCREENSHOTS")
	if root == "" {
		root = filepath.Join(os.TempDir(), "syncml-imap-screenshots")
	}
	dir := filepath.Join(root, fileName(t.Name()))
	path := filepath.Join(dir, fileName(name)+"-"+strconv.Itoa(b.width)+".png")
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.fatalf(err, "screenshot %q", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browsertest: screenshot %q: %v", name, err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browsertest: screenshot %q: %v", name, err)
	}
	t.Logf("browsertest: screenshot %s", path)
	return path
}

var unsafeInName = regexp.MustCompile(`[^A-Za-z0-9._/-]+`)

// fileName makes a test or screenshot name a relative path: a subtest's
// "/" makes a subdirectory, anything odd becomes "_", and ".." cannot
// climb out.
func fileName(s string) string {
	s = unsafeInName.ReplaceAllString(s, "_")
	s = filepath.Clean("/" + s)[1:]
	if s == "" {
		return "_"
	}
	return s
}
