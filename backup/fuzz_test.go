package backup

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// dtstamp matches a DTSTAMP line: a converted vCalendar 1.0 item without
// a time of its own gets the time of conversion.
var dtstamp = regexp.MustCompile(`(?m)^DTSTAMP:[0-9TZ]+\r\n`)

// FuzzSplit: Split never panics, reads the same bytes the same way,
// gives only items the store takes, and points at lines that exist.
// Seeds: testdata/fuzz/FuzzSplit and the fixture files.
func FuzzSplit(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.*"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil && len(data) < 8<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Split(data)
		lines := len(physicalLines(data))
		for _, it := range d.Items {
			if it.Line < 1 || it.Line > lines {
				t.Fatalf("item at line %d of %d", it.Line, lines)
			}
			if err := checkObject(it.DB, it.Data); err != nil {
				t.Fatalf("item of line %d is not what the store takes: %v\n%q", it.Line, err, it.Data)
			}
		}
		for _, p := range d.Problems {
			if p.Line < 1 || p.Line > lines {
				t.Fatalf("problem at line %d of %d: %v", p.Line, lines, p)
			}
		}
		again := Split(data)
		if len(again.Items) != len(d.Items) || len(again.Problems) != len(d.Problems) {
			t.Fatal("Split is not deterministic")
		}
		for i := range d.Items {
			a, b := d.Items[i], again.Items[i]
			if a.DB != b.DB || a.Line != b.Line || !bytes.Equal(dtstamp.ReplaceAll(a.Data, nil), dtstamp.ReplaceAll(b.Data, nil)) {
				t.Fatalf("Split is not deterministic:\n%s\n%s", a.Data, b.Data)
			}
		}
	})
}
