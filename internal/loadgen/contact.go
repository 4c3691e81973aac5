package loadgen

import (
	"fmt"
	"strings"
)

// contact is the vCard 3.0 a device of the run makes: about 400 bytes,
// what an address book entry without a photo weighs. Its FN names the
// user, the device and the number, so every contact of a run is unique
// (a slow sync matches nothing by accident) and a received one tells
// whose it is.
func contact(user string, device, i, rev int) string {
	fn := fmt.Sprintf("Load %s %d-%d", user, device, i)
	return "BEGIN:VCARD\r\nVERSION:3.0\r\n" +
		"FN:" + fn + "\r\n" +
		fmt.Sprintf("N:%d-%d;Load %s;;;\r\n", device, i, user) +
		fmt.Sprintf("ORG:Load Testing Ltd.;Team %d\r\n", i%17) +
		fmt.Sprintf("TEL;TYPE=CELL:+49 170 %07d\r\n", i) +
		fmt.Sprintf("TEL;TYPE=WORK:+49 30 %04d %04d\r\n", device, i%10000) +
		fmt.Sprintf("EMAIL;TYPE=INTERNET:load.%d.%d@%s.example.org\r\n", device, i, user) +
		fmt.Sprintf("ADR;TYPE=WORK:;;Teststrasse %d;Berlin;;%05d;Germany\r\n", i%200+1, 10000+i%90000) +
		fmt.Sprintf("NOTE:revision %d of a contact the load generator made\r\n", rev) +
		"END:VCARD\r\n"
}

// fnOf is a vCard's FN (unfolded lines are all this package writes, and
// the server keeps FN on one line).
func fnOf(card string) string {
	for line := range strings.SplitSeq(card, "\n") {
		line = strings.TrimRight(line, "\r")
		if v, ok := strings.CutPrefix(line, "FN:"); ok {
			return v
		}
	}
	return ""
}

// withNote is card with its NOTE replaced by note (or added).
func withNote(card, note string) string {
	var b strings.Builder
	done := false
	for line := range strings.SplitSeq(strings.TrimSuffix(card, "\r\n"), "\r\n") {
		switch {
		case strings.HasPrefix(line, "NOTE:") || strings.HasPrefix(line, "NOTE;"):
			line = "NOTE:" + note
			done = true
		case line == "END:VCARD" && !done:
			b.WriteString("NOTE:" + note + "\r\n")
		}
		b.WriteString(line + "\r\n")
	}
	return b.String()
}
