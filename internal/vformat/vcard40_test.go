package vformat

import (
	"slices"
	"strings"
	"testing"
)

// thunderbird40 is a contact as Thunderbird 115 writes it (its export,
// and the card a mail client drops into a folder).
const thunderbird40 = "BEGIN:VCARD\r\nVERSION:4.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\n" +
	"EMAIL;PREF=1:john@example.com\r\nTEL;VALUE=TEXT;TYPE=cell:+49 170 1234567\r\n" +
	"TEL;TYPE=\"work,voice\";VALUE=uri:tel:+49-30-1234\r\nADR;TYPE=home:;;Street 1;Berlin;;10115;Germany\r\n" +
	"NOTE:x\r\nUID:5d2f6a0e-1b7c-4c1e-9f3a-2d8e4b6c7a10\r\nEND:VCARD\r\n"

// TestVCard40To30Thunderbird: every card comes out 3.0, with all that the
// Thunderbird card holds.
func TestVCard40To30Thunderbird(t *testing.T) {
	out := vcardMust30(t, []byte(thunderbird40))
	want := "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Doe;John;;;\r\nFN:John Doe\r\n" +
		"EMAIL;TYPE=PREF:john@example.com\r\nTEL;TYPE=CELL:+49 170 1234567\r\n" +
		"TEL;TYPE=WORK,VOICE:+49-30-1234\r\nADR;TYPE=HOME:;;Street 1;Berlin;;10115;Germany\r\n" +
		"NOTE:x\r\nUID:5d2f6a0e-1b7c-4c1e-9f3a-2d8e4b6c7a10\r\nEND:VCARD\r\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// The 3.0 form is stable: converting it again changes nothing.
	if again := vcardMust30(t, out); string(again) != string(out) {
		t.Errorf("not stable:\n%s", again)
	}
	// And a 2.1 device gets the same from the 4.0 card as from its 3.0 form.
	if a, b := vcardMust21(t, []byte(thunderbird40)), vcardMust21(t, out); string(a) != string(b) {
		t.Errorf("2.1 from 4.0:\n%s\n2.1 from 3.0:\n%s", a, b)
	}
}

// TestVCard40To30 converts single 4.0 properties (RFC 6350 appendix A)
// and checks the 3.0 lines they give.
func TestVCard40To30(t *testing.T) {
	tests := []struct {
		name string
		in   string   // content lines of a 4.0 card with FN and N
		want []string // lines, in order, of the 3.0 card
		not  []string // substrings the output must not hold
	}{
		{"lowest PREF is pref", "EMAIL;PREF=2:b@x\nEMAIL;PREF=1:a@x\nEMAIL:c@x",
			[]string{"EMAIL:b@x", "EMAIL;TYPE=PREF:a@x", "EMAIL:c@x"}, []string{"PREF="}},
		{"PREF with TYPE", "TEL;TYPE=home;PREF=1:1", []string{"TEL;TYPE=HOME,PREF:1"}, nil},
		{"tel: URI", "TEL;VALUE=uri;TYPE=cell:tel:+49-170-1", []string{"TEL;TYPE=CELL:+49-170-1"}, []string{"tel:", "VALUE"}},
		{"sip URI stays a URI", "TEL;VALUE=uri:sip:a@b", []string{"TEL;VALUE=uri:sip:a@b"}, nil},
		{"quoted TYPE list", `EMAIL;TYPE="work,internet":w@x`, []string{"EMAIL;TYPE=WORK,INTERNET:w@x"}, nil},
		{"data: photo", "PHOTO:data:image/jpeg;base64,/9j/4AAQ\n SkZJRg==",
			[]string{"PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRg=="}, []string{"data:"}},
		{"data: logo with MEDIATYPE", "LOGO;MEDIATYPE=image/png:data:image/png;base64,iVBORw0K",
			[]string{"LOGO;ENCODING=b;TYPE=PNG:iVBORw0K"}, []string{"MEDIATYPE"}},
		{"data: sound", "SOUND:data:audio/ogg;base64,T2dnUw==", []string{"SOUND;ENCODING=b;TYPE=OGG:T2dnUw=="}, nil},
		{"URL photo", "PHOTO;MEDIATYPE=image/jpeg:http://example.org/p.jpg", []string{"PHOTO;VALUE=uri;TYPE=JPEG:http://example.org/p.jpg"}, nil},
		{"key as text", "KEY;VALUE=text:-----BEGIN PGP", []string{"KEY;VALUE=text:-----BEGIN PGP"}, nil},
		{"GEO", "GEO:geo:52.5,13.4", []string{"GEO:52.5;13.4"}, []string{"geo:"}},
		{"GEO with altitude and u=", "GEO:geo:52.5,13.4,34;u=10", []string{"GEO:52.5;13.4"}, nil},
		{"BDAY without year", "BDAY:--0415", []string{"BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15"}, nil},
		{"BDAY --MM-DD", "BDAY:--04-15", []string{"BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-15"}, nil},
		{"BDAY full date kept", "BDAY:19850412", []string{"BDAY:19850412"}, nil},
		{"BDAY date-and-or-time", "BDAY;VALUE=date-and-or-time:1985-04-12", []string{"BDAY:1985-04-12"}, nil},
		{"BDAY text", "BDAY;VALUE=text:circa 1800", []string{"X-BDAY;VALUE=text:circa 1800"}, []string{"\r\nBDAY"}},
		{"BDAY year only", "BDAY:1985", []string{"X-BDAY:1985"}, nil},
		{"ANNIVERSARY", "ANNIVERSARY:--1231", []string{"X-ANNIVERSARY;X-APPLE-OMIT-YEAR=1604:1604-12-31"}, nil},
		{"ANNIVERSARY full", "ANNIVERSARY:20090808", []string{"X-ANNIVERSARY:20090808"}, nil},
		{"KIND and MEMBER", "KIND:group\nMEMBER:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af",
			[]string{"X-ADDRESSBOOKSERVER-KIND:group", "X-ADDRESSBOOKSERVER-MEMBER:urn:uuid:03a0e51f-d1aa-4385-8a53-e29025acd8af"}, []string{"\r\nKIND", "\r\nMEMBER"}},
		{"GENDER LANG RELATED", "GENDER:F;grrrl\nLANG;TYPE=work:en\nRELATED;TYPE=spouse:urn:uuid:1",
			[]string{"X-GENDER:F;grrrl", "X-LANG;TYPE=WORK:en", "X-RELATED;TYPE=SPOUSE:urn:uuid:1"}, nil},
		{"XML", `XML:<a xmlns="urn:x"/>`, []string{`X-XML:<a xmlns="urn:x"/>`}, nil},
		{"CLIENTPIDMAP and PID dropped", "CLIENTPIDMAP:1;urn:uuid:3df403f4\nEMAIL;PID=1.1:a@x",
			[]string{"EMAIL:a@x"}, []string{"CLIENTPIDMAP", "PID"}},
		{"ADR LABEL", `ADR;TYPE=work;LABEL="Mr. Smith\nMain St. 1\nTown, 1234":;;Main St. 1;Town;;1234;`,
			[]string{"ADR;TYPE=WORK:;;Main St. 1;Town;;1234;", `LABEL;TYPE=WORK:Mr. Smith\nMain St. 1\nTown\, 1234`}, []string{"LABEL="}},
		{"ADR LABEL with RFC 6868 escapes", `ADR;LABEL="a^nb ^'c^'":;;a;b;;;`,
			[]string{"ADR:;;a;b;;;", `LABEL:a\nb "c"`}, nil},
		{"SORT-AS on N", `N;SORT-AS="Doe,John":Doe;John;;;`, []string{"N:Doe;John;;;", "SORT-STRING:Doe John"}, []string{"SORT-AS"}},
		{"SORT-AS on ORG", `ORG;SORT-AS="ACME":ACME Inc.`, []string{"ORG:ACME Inc.", "SORT-STRING:ACME"}, nil},
		{"TZ text", "TZ:Europe/Berlin", []string{"TZ;VALUE=text:Europe/Berlin"}, nil},
		{"TZ offset", "TZ;VALUE=utc-offset:-0500", []string{"TZ:-05:00"}, nil},
		{"IMPP kept", "IMPP;PREF=1:xmpp:a@b", []string{"IMPP;TYPE=PREF:xmpp:a@b"}, nil},
		{"URL", "URL;VALUE=uri:https://example.org/", []string{"URL:https://example.org/"}, nil},
		{"Thunderbird's URL, dates and photo", "URL;VALUE=URL:http://example.org/\nBDAY;VALUE=DATE:19800101\nANNIVERSARY;VALUE=DATE:20100612\n" +
			"PHOTO;VALUE=URL:data:image/jpeg;base64,/9j/4AAQ",
			[]string{"URL:http://example.org/", "BDAY:19800101", "X-ANNIVERSARY:20100612", "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQ"}, []string{"VALUE"}},
		{"text escapes kept", `NOTE:a\, b\; c\\d\nnext`, []string{`NOTE:a\, b\; c\\d\nnext`}, nil},
		{"ALTID kept", "TITLE;ALTID=1;LANGUAGE=fr:Patron\nTITLE;ALTID=1;LANGUAGE=en:Boss",
			[]string{"TITLE;ALTID=1;LANGUAGE=fr:Patron", "TITLE;ALTID=1;LANGUAGE=en:Boss"}, nil},
		{"group and X- kept", "item1.EMAIL:a@b\nitem1.X-ABLabel:Other", []string{"item1.EMAIL:a@b", "item1.X-ABLabel:Other"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := "BEGIN:VCARD\nVERSION:4.0\nFN:x\nN:;;;;\n" + tc.in + "\nEND:VCARD\n"
			if strings.HasPrefix(tc.in, "N;") {
				in = "BEGIN:VCARD\nVERSION:4.0\nFN:x\n" + tc.in + "\nEND:VCARD\n"
			}
			out := vcardMust30(t, vcardCRLF(in))
			lines := vcardUnfold30(out)
			at := 0
			for _, w := range tc.want {
				i := slices.Index(lines[at:], w)
				if i < 0 {
					t.Fatalf("want line %q (in order) in\n%s", w, out)
				}
				at += i + 1
			}
			for _, n := range tc.not {
				if strings.Contains(string(out), n) {
					t.Errorf("output holds %q:\n%s", n, out)
				}
			}
			if again := vcardMust30(t, out); string(again) != string(out) {
				t.Errorf("converting the 3.0 form again changed it:\n%s", again)
			}
		})
	}
}

// TestVCard40To30Required: 3.0 needs N, which 4.0 may leave out (a group
// card), and FN.
func TestVCard40To30Required(t *testing.T) {
	out := vcardMust30(t, vcardCRLF("BEGIN:VCARD\nVERSION:4.0\nKIND:group\nFN:Team\nEND:VCARD\n"))
	if want := "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nX-ADDRESSBOOKSERVER-KIND:group\r\nFN:Team\r\nEND:VCARD\r\n"; string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	out = vcardMust30(t, vcardCRLF("BEGIN:VCARD\nVERSION:4.0\nEMAIL:a@x\nEND:VCARD\n"))
	if !strings.Contains(string(out), "\r\nFN:a@x\r\n") {
		t.Errorf("no FN from EMAIL:\n%s", out)
	}
}
