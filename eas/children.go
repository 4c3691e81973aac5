package eas

import (
	"slices"
	"strconv"
	"strings"

	"syncml-imap/internal/vobject"
)

// Children (MS-ASCNTC 2.2.2.15: a list of Child names) in the vCard 3.0
// the mailbox holds. vCard 3.0 has no property for them; programs write
// them three ways, and all three are read:
//
//   - one line of names: X-FUNAMBOL-CHILDREN, as our SyncML front stores
//     Outlook's Children from SIF (Funambol, "Lena\, Tim"), and the
//     X-CHILDREN and X-MS-CHILD that front also reads. Names are split at
//     commas and semicolons.
//   - one line a child, as Apple's Contacts writes related names:
//     itemN.X-ABRELATEDNAMES with itemN.X-ABLabel:_$!<Child>!$_ (Google's
//     CardDAV writes the label as "Child"), or X-ABRELATEDNAMES;TYPE=child.
//   - X-RELATED;TYPE=child: a vCard 4.0 client's RELATED (RFC 6350 6.6.6)
//     as the DAV front stores it in 3.0; a URI value names no child and
//     is left alone.
//
// Evolution and KAddressBook have no field for children.
//
// A client's list is written where the names are: a child it no longer
// has goes from its line (an Apple child with its label), one it keeps
// stays as written, a new one goes to the card's line of names, else to
// a new Apple pair when the card has Apple's, else to a new
// X-FUNAMBOL-CHILDREN line, so that a SyncML Outlook device and the
// ActiveSync one share the same field (both are Outlook's Children).
//
// A change that carries no Children keeps the stored ones when the client
// has never sent Children (ghostedOf, sync.go: it may have no field for
// them, and its change would lose them, issue 10's rule); a client that
// has sent them clears them by leaving them out, as MS-ASCMD has it, or
// with an empty Children.

const fieldChildren = "Children"

// childListProps hold several names on one line; the first is written.
var childListProps = []string{"X-FUNAMBOL-CHILDREN", "X-CHILDREN", "X-MS-CHILD"}

// child forms: where a child's name is in a card.
const (
	childInList = iota
	childApple
	childRelated
)

// childLine is a line of the card that names children.
type childLine struct {
	at    int // index in the card's Props
	label int // Apple: the index of the group's X-ABLabel line, -1 else
	form  int
	names []string
}

// childLines are the card's lines that name children, in card order.
func childLines(c *card) []childLine {
	props := c.obj.Props
	labels := map[string]int{} // group → its X-ABLabel line
	for i, l := range props {
		if l.Name == "X-ABLABEL" && l.Group != "" {
			labels[strings.ToLower(l.Group)] = i
		}
	}
	var out []childLine
	for i, l := range props {
		switch {
		case slices.Contains(childListProps, l.Name):
			if names := splitChildren(vobject.UnescapeText(l.Value)); len(names) > 0 {
				out = append(out, childLine{at: i, label: -1, form: childInList, names: names})
			}
		case l.Name == "X-ABRELATEDNAMES":
			li, labelled := labels[strings.ToLower(l.Group)]
			isChild := hasType(l, "CHILD")
			if labelled && l.Group != "" {
				lab := strings.ToLower(strings.TrimSpace(vobject.UnescapeText(props[li].Value)))
				isChild = isChild || lab == "_$!<child>!$_" || lab == "child"
			} else {
				li = -1
			}
			if name := strings.TrimSpace(vobject.UnescapeText(l.Value)); isChild && name != "" {
				out = append(out, childLine{at: i, label: li, form: childApple, names: []string{name}})
			}
		case l.Name == "X-RELATED" && hasType(l, "CHILD"):
			v := strings.TrimSpace(l.Value)
			if strings.EqualFold(l.Params["VALUE"], "uri") || l.Params["VALUE"] == "" && strings.Contains(v, ":") {
				continue // a reference to a card, not a name
			}
			if name := strings.TrimSpace(vobject.UnescapeText(v)); name != "" {
				out = append(out, childLine{at: i, label: -1, form: childRelated, names: []string{name}})
			}
		}
	}
	return out
}

// hasType reports whether a line's TYPE parameter has t (upper case).
func hasType(l vobject.Line, t string) bool {
	return slices.ContainsFunc(strings.Split(l.Params["TYPE"], ","), func(s string) bool {
		return strings.EqualFold(strings.TrimSpace(s), t)
	})
}

// splitChildren splits a line of names (Outlook's Children text).
func splitChildren(v string) []string {
	return nonEmpty(strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' }))
}

// childrenField is the card's Children field (none when it names none).
func childrenField(c *card) []Field {
	var names []string
	for _, cl := range childLines(c) {
		names = append(names, cl.names...)
	}
	if len(names) == 0 {
		return nil
	}
	return []Field{{Page: "Contacts", Name: fieldChildren, List: names}}
}

// applyChildren puts the client's list want into the card's lines (lines
// and dropped are ApplyContact's, indexed as the card's Props) and
// returns the lines to add.
func applyChildren(c *card, want []string, lines []string, dropped []bool) []string {
	have := childLines(c)
	var cur []string
	for _, cl := range have {
		cur = append(cur, cl.names...)
	}
	if slices.Equal(cur, want) {
		return nil
	}
	left := slices.Clone(want) // the names not placed yet
	take := func(name string) bool {
		if i := slices.Index(left, name); i >= 0 {
			left = slices.Delete(left, i, i+1)
			return true
		}
		return false
	}
	// One line a child: kept when the client still has the child.
	firstList := -1
	for i, cl := range have {
		if cl.form == childInList {
			if firstList < 0 {
				firstList = i
			}
			continue
		}
		if !take(cl.names[0]) {
			lines[cl.at], dropped[cl.at] = "", true
			if cl.label >= 0 {
				lines[cl.label], dropped[cl.label] = "", true
			}
		}
	}
	// Lines of names: each keeps the names the client still has, the
	// first takes the new ones.
	var kept [][]string
	for _, cl := range have {
		if cl.form != childInList {
			continue
		}
		var k []string
		for _, n := range cl.names {
			if take(n) {
				k = append(k, n)
			}
		}
		kept = append(kept, k)
	}
	if firstList >= 0 {
		kept[0] = append(kept[0], left...)
		left = nil
		j := 0
		for _, cl := range have {
			if cl.form != childInList {
				continue
			}
			if names := kept[j]; !slices.Equal(names, cl.names) {
				l := c.obj.Props[cl.at]
				if len(names) == 0 {
					lines[cl.at], dropped[cl.at] = "", true
				} else {
					head := strings.TrimSuffix(l.Raw, ":"+l.RawValue)
					var b strings.Builder
					vobject.WriteFolded(&b, head+":"+vobject.EscapeText(strings.Join(names, ", ")))
					lines[cl.at] = b.String()
				}
			}
			j++
		}
	}
	if len(left) == 0 {
		return nil
	}
	var added []string
	if slices.ContainsFunc(have, func(cl childLine) bool { return cl.form == childApple }) {
		n := maxItemGroup(c.obj.Props)
		for _, name := range left {
			n++
			g := "item" + strconv.Itoa(n)
			var b strings.Builder
			vobject.WriteFolded(&b, g+".X-ABRELATEDNAMES:"+vobject.EscapeText(name))
			vobject.WriteFolded(&b, g+".X-ABLabel:_$!<Child>!$_")
			added = append(added, b.String())
		}
		return added
	}
	var b strings.Builder
	vobject.WriteFolded(&b, childListProps[0]+":"+vobject.EscapeText(strings.Join(left, ", ")))
	return []string{b.String()}
}

// maxItemGroup is the highest N of the card's itemN groups (Apple's).
func maxItemGroup(props []vobject.Line) int {
	top := 0
	for _, l := range props {
		g := strings.ToLower(l.Group)
		if n, err := strconv.Atoi(strings.TrimPrefix(g, "item")); strings.HasPrefix(g, "item") && err == nil && n > top {
			top = n
		}
	}
	return top
}
