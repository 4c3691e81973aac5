package eas

import (
	"slices"
	"strings"
	"testing"

	"syncml-imap/internal/vobject"
	"syncml-imap/internal/wbxml"
)

const richCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c1\r\nFN:Ann Example\r\nN:Example;Ann;B.;Dr.;\r\n" +
	"ORG:Example Inc.;Research\r\nTITLE:Chemist\r\nTEL;TYPE=WORK,VOICE:+49 30 1\r\nTEL;TYPE=WORK:+49 30 2\r\n" +
	"TEL;TYPE=WORK,VOICE:+49 30 3\r\nTEL;TYPE=CELL:+49 170 1\r\nEMAIL;TYPE=INTERNET,PREF:ann@example.org\r\n" +
	"EMAIL;TYPE=INTERNET:ann@home.example\r\nADR;TYPE=HOME:;;Main St 1;Berlin;;10115;Germany\r\n" +
	"BDAY:1976-01-12\r\nNOTE:Line one\\nline two\r\nCATEGORIES:Family,Work\r\nX-JABBER:ann@jabber.example\r\n" +
	"item1.X-ABLabel:_$!<Friend>!$_\r\nEND:VCARD\r\n"

func fieldValue(fs []Field, name string) string {
	for _, f := range fs {
		if f.Name == name {
			if f.List != nil {
				return strings.Join(f.List, ",")
			}
			return f.Value
		}
	}
	return ""
}

func TestContactFields(t *testing.T) {
	fs := ContactFields([]byte(richCard))
	for name, want := range map[string]string{
		"FileAs": "Ann Example", "LastName": "Example", "FirstName": "Ann", "MiddleName": "B.", "Title": "Dr.",
		"CompanyName": "Example Inc.", "Department": "Research", "JobTitle": "Chemist",
		"BusinessPhoneNumber": "+49 30 1", "Business2PhoneNumber": "+49 30 2", "MobilePhoneNumber": "+49 170 1",
		"Email1Address": "ann@example.org", "Email2Address": "ann@home.example", "HomeAddressStreet": "Main St 1",
		"HomeAddressCity": "Berlin", "HomeAddressPostalCode": "10115", "HomeAddressCountry": "Germany", "Birthday": "1976-01-12T00:00:00.000Z",
		"Body": "Line one\nline two", "Categories": "Family,Work",
	} {
		if got := fieldValue(fs, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if fieldValue(fs, "Email3Address") != "" {
		t.Error("a third e-mail out of nothing")
	}
}

// A client that sends back what it got changes nothing.
func TestApplyContactRoundTrip(t *testing.T) {
	got := ApplyContact([]byte(richCard), ContactFields([]byte(richCard)), nil)
	if string(got) != richCard {
		t.Errorf("round trip changed the card:\n%s\nwant\n%s", got, richCard)
	}
}

// A client's edit changes the fields it carries and keeps every line it
// cannot hold: the third work phone, X-JABBER, the labelled group line.
func TestApplyContactKeeps(t *testing.T) {
	fs := ContactFields([]byte(richCard))
	var edited []Field
	for _, f := range fs {
		switch f.Name {
		case "MobilePhoneNumber":
			f.Value = "+49 171 9"
		case "Email2Address", "Department":
			continue // cleared on the client
		case "Birthday":
			f.Value = "1976-01-11T23:00:00.000Z" // midnight in Berlin
		}
		edited = append(edited, f)
	}
	edited = append(edited, Field{Page: "Contacts", Name: "HomeFaxNumber", Value: "+49 30 9"})
	out := string(ApplyContact([]byte(richCard), edited, nil))
	for _, want := range []string{"TEL;TYPE=CELL:+49 171 9\r\n", "TEL;TYPE=WORK,VOICE:+49 30 3\r\n", "X-JABBER:ann@jabber.example\r\n",
		"item1.X-ABLabel:_$!<Friend>!$_\r\n", "ORG:Example Inc.;\r\n", "BDAY:1976-01-12\r\n", "TEL;TYPE=HOME,FAX:+49 30 9\r\n", "UID:c1\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the edited card lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ann@home.example") {
		t.Errorf("the cleared e-mail stayed:\n%s", out)
	}
	// Ghosted: a field the client does not send and ghosts stays.
	out = string(ApplyContact([]byte(richCard), []Field{{Page: "Contacts", Name: "FirstName", Value: "Anna"}}, []string{"Email1Address", "Categories", "Body"}))
	for _, want := range []string{"ann@example.org", "CATEGORIES:Family,Work", "NOTE:Line one", "N:;Anna;;;", "FN:Ann Example"} {
		if !strings.Contains(out, want) {
			t.Errorf("with ghosted fields the card lacks %q:\n%s", want, out)
		}
	}
}

func TestApplyContactNew(t *testing.T) {
	out := ApplyContact(nil, []Field{{Page: "Contacts", Name: "FirstName", Value: "Bob"}, {Page: "Contacts", Name: "LastName", Value: "New"},
		{Page: "Contacts", Name: "Email1Address", Value: `"Bob New" <bob@example.org>`}, {Page: "Contacts", Name: fieldCategories, List: []string{"A", "B,C"}},
		{Page: "AirSyncBase", Name: fieldBody, Value: "two\r\nlines"}}, nil)
	objs := vobject.Parse(out)
	if len(objs) != 1 || objs[0].PropValue("VERSION") != "3.0" || objs[0].PropValue("FN") != "Bob New" || objs[0].PropValue("N") != "New;Bob;;;" ||
		objs[0].PropValue("EMAIL") != "bob@example.org" || objs[0].Prop("CATEGORIES").Value != `A,B\,C` || objs[0].PropValue("NOTE") != "two\nlines" {
		t.Errorf("new card:\n%s", out)
	}
	back := ContactFields(out)
	if fieldValue(back, "Categories") != "A,B,C" || !slices.ContainsFunc(back, func(f Field) bool { return f.Name == "Categories" && len(f.List) == 2 }) {
		t.Errorf("categories back: %+v", back)
	}
}

func FuzzApplyContact(f *testing.F) {
	f.Add([]byte(richCard), "MobilePhoneNumber", "+1", "HomeAddressCity")
	f.Add([]byte("BEGIN:VCARD\r\nN:;;\r\nEND:VCARD\r\n"), "FirstName", "x;y\\", "")
	f.Fuzz(func(t *testing.T, stored []byte, name, value, ghost string) {
		out := ApplyContact(stored, []Field{{Page: "Contacts", Name: name, Value: value}}, []string{ghost})
		objs := vobject.Parse(out)
		if len(objs) != 1 || objs[0].Name != "VCARD" || objs[0].Prop("FN") == nil || objs[0].Prop("N") == nil {
			t.Fatalf("not a vCard with FN and N:\n%q", out)
		}
		ContactFields(out)
	})
}

// TestContactFieldNames: every field a card gives is an element of the
// Contacts or Contacts2 code page (MS-ASCNTC's names: HomeAddressCity, not
// HomeCity), so that a Sync can encode it, and a client that sends the
// addresses back under those names changes nothing.
func TestContactFieldNames(t *testing.T) {
	card := "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nN:A;B;C;D;E\r\nORG:O;P\r\nTITLE:T\r\nNICKNAME:N\r\nURL:http://x.example\r\n" +
		"BDAY:1970-01-01\r\nX-ANNIVERSARY:1990-01-01\r\nX-EVOLUTION-SPOUSE:S\r\nX-EVOLUTION-ASSISTANT:As\r\nX-EVOLUTION-MANAGER:M\r\n" +
		"X-MS-OFFICELOCATION:R1\r\nEMAIL:a@x\r\nEMAIL:b@x\r\nEMAIL:c@x\r\n" +
		"ADR;TYPE=WORK:;;W St;W City;W State;1;W Land\r\nADR;TYPE=HOME:;;H St;H City;H State;2;H Land\r\nADR:;;O St;O City;O State;3;O Land\r\n" +
		"TEL;TYPE=WORK,VOICE:1\r\nTEL;TYPE=WORK,VOICE:2\r\nTEL;TYPE=HOME,VOICE:3\r\nTEL;TYPE=HOME,VOICE:4\r\nTEL;TYPE=CELL:5\r\n" +
		"TEL;TYPE=WORK,FAX:6\r\nTEL;TYPE=HOME,FAX:7\r\nTEL;TYPE=PAGER:8\r\nTEL;TYPE=CAR:9\r\nTEL;TYPE=X-RADIO:10\r\n" +
		"TEL;TYPE=X-ASSISTANT:11\r\nTEL;TYPE=WORK,PREF:12\r\nTEL;TYPE=MSG:13\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\n" +
		"CATEGORIES:K\r\nNOTE:n\r\nEND:VCARD\r\n"
	fs := ContactFields([]byte(card))
	if len(fs) != len(contactPlaces)+2 {
		t.Errorf("%d fields of %d places (and Categories, Body)", len(fs), len(contactPlaces))
	}
	if _, err := wbxml.EncodeEAS(el("AirSync", "ApplicationData", fieldNodes(fs)...)); err != nil {
		t.Errorf("the fields do not encode: %v", err)
	}
	if got := ApplyContact([]byte(card), fs, nil); string(got) != card {
		t.Errorf("sent back, the card changed:\n%s", got)
	}
	if v := fieldValue(fs, "OtherAddressCity"); v != "O City" {
		t.Errorf("OtherAddressCity %q", v)
	}
}
