package vobject

// Physical and logical lines: the one place where content-line data is
// cut into lines and unfolded. vCard, vCalendar, iCalendar and the backup
// files all go through here; what differs between them is an
// UnfoldOptions.

import "strings"

var bom = []byte("\xef\xbb\xbf")

// UnfoldOptions are the unfolding rules that differ between the forms.
// The zero value is RFC 5545 3.1 / RFC 6350 3.2 unfolding with vCard 2.1
// quoted-printable soft breaks.
type UnfoldOptions struct {
	// KeepSpace keeps the white space that starts a continuation line,
	// as the RFC 822 folding of vCard 2.1 and vCalendar 1.0 prescribes;
	// otherwise that one character is removed.
	KeepSpace bool
	// BlankEnds makes a line of nothing but white space end the logical
	// line before it (vCard 2.1: base64 ends with a blank line) instead
	// of continuing it.
	BlankEnds bool
	// EndsSoftBreak, when set, is asked about the physical line after a
	// quoted-printable soft break: if it reports true (END:VCARD, say) the
	// line is not joined, as some writers end a value with a stray "=".
	EndsSoftBreak func(line string) bool
	// Orig keeps, for each logical line, its physical lines as they stood
	// (Folded.Orig).
	Orig bool
}

// Folded is one logical (unfolded) line.
type Folded struct {
	Text string
	// First and Last are the numbers of its first and last physical
	// lines (1 is the first of the data); the lines before First that
	// belong to no logical line are blank.
	First, Last int
	// Orig is its physical lines as they stood, each CRLF-terminated
	// (only with UnfoldOptions.Orig).
	Orig string
	// Start is where its first physical line starts in the data (after
	// a byte order mark), End where the line after its last one starts.
	Start, End int
	// StrayBreak reports that it ends in a quoted-printable soft break
	// that EndsSoftBreak cut; the "=" is still in Text.
	StrayBreak bool
}

// Unfolder reads the logical lines of data one at a time. It takes CRLF,
// LF and lone CR line ends and a UTF-8 byte order mark at the start of
// any line (concatenated files have several), and joins
//   - a line starting with a space or tab to the one before it (see
//     UnfoldOptions.KeepSpace);
//   - the line after one ending in "=" when that line declares
//     QUOTED-PRINTABLE before its first unquoted colon (a vCard 2.1 /
//     vCalendar 1.0 soft line break; the "=" is removed).
//
// Empty lines are dropped. It takes time linear in len(data).
type Unfolder struct {
	opts UnfoldOptions
	// One copy of the data; a logical line that is one physical line (most
	// are) is a part of it, and so is its original when the data has CRLF
	// line ends, so that reading an item costs few allocations.
	s    string
	pos  int // where the next physical line starts in s
	num  int // physical lines read
	done bool

	cur        []byte // the logical line being read
	qp         qpScan
	qpSoft     bool
	start, end int  // s[start:end]: its physical lines with their line ends
	oneEnd     int  // where its first physical line's text ends in s
	phys       int  // how many physical lines it has
	crlf       bool // each of them ended in CRLF
	first      int  // the number of its first physical line

	line Folded
}

// NewUnfolder returns an Unfolder of data; opts nil is the zero
// UnfoldOptions.
func NewUnfolder(data []byte, opts *UnfoldOptions) *Unfolder {
	u := &Unfolder{s: string(data)}
	if opts != nil {
		u.opts = *opts
	}
	return u
}

// Line is the logical line the last Next read.
func (u *Unfolder) Line() Folded { return u.line }

// Next reads the next logical line; it reports false at the end of the
// data.
func (u *Unfolder) Next() bool {
	for u.pos < len(u.s) {
		start := u.pos
		line, next, ending := physicalLine(u.s, start)
		u.num++
		if strings.HasPrefix(line, string(bom)) {
			line, start = line[len(bom):], start+len(bom)
		}
		got := false
		cut := u.qpSoft && u.opts.EndsSoftBreak != nil && u.opts.EndsSoftBreak(line)
		switch {
		case u.qpSoft && !cut:
			u.cur = append(u.cur[:len(u.cur)-1], line...) // drop the soft break's "="
			u.phys++
		case u.opts.BlankEnds && strings.TrimSpace(line) == "":
			got = u.flush(cut)
		case !cut && len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && len(u.cur) > 0:
			if u.opts.KeepSpace {
				u.cur = append(u.cur, line...)
			} else {
				u.cur = append(u.cur, line[1:]...)
			}
			u.phys++
		default:
			got = u.flush(cut)
			u.cur = append(u.cur, line...)
			u.start, u.oneEnd, u.phys, u.crlf, u.first = start, start+len(line), 1, true, u.num
		}
		u.crlf = u.crlf && ending == "\r\n"
		u.end, u.pos = next, next
		u.qpSoft = len(u.cur) > 0 && u.cur[len(u.cur)-1] == '=' && u.qp.declared(u.cur)
		if got {
			return true
		}
	}
	if !u.done {
		u.done = true
		return u.flush(false)
	}
	return false
}

// flush makes the logical line read so far the current Line, if there is
// one, and starts an empty one.
func (u *Unfolder) flush(stray bool) bool {
	got := len(u.cur) > 0
	if got {
		// Every physical line from the first on was joined to it.
		l := Folded{First: u.first, Last: u.first + u.phys - 1, Start: u.start, End: u.end, StrayBreak: stray}
		if u.phys == 1 {
			l.Text = u.s[u.start:u.oneEnd]
		} else {
			l.Text = string(u.cur)
		}
		if u.opts.Orig {
			if u.crlf {
				l.Orig = u.s[u.start:u.end]
			} else {
				l.Orig = crlfLines(u.s[u.start:u.end])
			}
		}
		u.line = l
	}
	u.cur = u.cur[:0]
	u.qp = qpScan{}
	return got
}

// physicalLine returns the physical line of s that starts at pos without
// its line end (CRLF, LF or a lone CR; "" at the end of the data), and
// where the next one starts.
func physicalLine(s string, pos int) (line string, next int, ending string) {
	rest := s[pos:]
	i := strings.IndexAny(rest, "\r\n")
	switch {
	case i < 0:
		return rest, len(s), ""
	case rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n':
		return rest[:i], pos + i + 2, "\r\n"
	}
	return rest[:i], pos + i + 1, rest[i : i+1]
}

// PhysicalLines cuts data at CRLF, LF and lone CR, as Unfolder does: the
// line ends and a UTF-8 byte order mark starting a line are removed.
// Line n of an Unfolder's Folded is PhysicalLines(data)[n-1].
func PhysicalLines(data []byte) []string {
	s := string(data)
	var out []string
	for pos := 0; pos < len(s); {
		line, next, _ := physicalLine(s, pos)
		out = append(out, strings.TrimPrefix(line, string(bom)))
		pos = next
	}
	return out
}

// Unfold returns the logical lines of data (see Unfolder); keepSpace is
// UnfoldOptions.KeepSpace.
func Unfold(data []byte, keepSpace bool) []string {
	var texts []string
	u := NewUnfolder(data, &UnfoldOptions{KeepSpace: keepSpace})
	for u.Next() {
		texts = append(texts, u.Line().Text)
	}
	return texts
}

// crlfLines is s with each line ended in CRLF, whatever its line ends were.
func crlfLines(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	for pos := 0; pos < len(s); {
		line, next, _ := physicalLine(s, pos)
		b.WriteString(line)
		b.WriteString("\r\n")
		pos = next
	}
	return b.String()
}

// qpScan finds, once per logical line and without going over its bytes
// again as the line grows, whether its header (the part before the first
// unquoted colon) declares QUOTED-PRINTABLE.
type qpScan struct {
	pos          int
	quoted, done bool
	qp           bool
}

func (q *qpScan) declared(line []byte) bool {
	for ; !q.done && q.pos < len(line); q.pos++ {
		switch line[q.pos] {
		case '"':
			q.quoted = !q.quoted
		case ':':
			if !q.quoted {
				q.done = true
				q.qp = headerDeclaresQP(string(line[:q.pos]))
			}
		}
	}
	return q.qp
}

func headerDeclaresQP(head string) bool {
	return strings.Contains(strings.ToUpper(head), "QUOTED-PRINTABLE")
}
