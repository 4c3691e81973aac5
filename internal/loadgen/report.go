package loadgen

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Report is what a run measured: one row per figure, and the checks that
// failed.
type Report struct {
	URL        string   `json:"url"`
	Encoding   string   `json:"encoding"`
	MaxMsgSize int64    `json:"max_msg_size"`
	Rows       []Row    `json:"rows"`
	Errors     []string `json:"errors,omitempty"`
}

// Row is one figure: what was measured, at which N (items, or sessions
// for the concurrent scenario), the figure in its unit, and a ratio to a
// figure of the same run (RatioTo says which; 0: none).
type Row struct {
	What    string  `json:"what"`
	N       int     `json:"n"`
	Figure  float64 `json:"figure"`
	Unit    string  `json:"unit"`
	Ratio   float64 `json:"ratio,omitempty"`
	RatioTo string  `json:"ratio_to,omitempty"`
}

func (r *Report) add(row Row) *Row {
	r.Rows = append(r.Rows, row)
	return &r.Rows[len(r.Rows)-1]
}

// errorf notes a failed check.
func (r *Report) errorf(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

// find is the latest row of what at n, or nil.
func (r *Report) find(what string, n int) *Row {
	// The latest: a run may measure an N more than once (-sizes
	// 1000,1000), each time against its own baseline.
	for i := len(r.Rows) - 1; i >= 0; i-- {
		if r.Rows[i].What == what && r.Rows[i].N == n {
			return &r.Rows[i]
		}
	}
	return nil
}

// Markdown is the report as one table.
func (r *Report) Markdown() string {
	var b strings.Builder
	b.WriteString("| what | N | figure | unit | ratio |\n|---|---:|---:|---|---|\n")
	for _, row := range r.Rows {
		ratio := ""
		if row.Ratio != 0 {
			ratio = formatFigure(row.Ratio) + " " + row.RatioTo
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s |\n", row.What, row.N, formatFigure(row.Figure), row.Unit, ratio)
	}
	return b.String()
}

// JSON is the report for programs.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// formatFigure writes a figure with three significant digits or more.
func formatFigure(v float64) string {
	switch a := max(v, -v); {
	case v == float64(int64(v)):
		return strconv.FormatInt(int64(v), 10)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}
