package eas

import (
	"context"
	"slices"
	"strings"
	"testing"

	"syncml-imap/internal/vformat"
	"syncml-imap/internal/vobject"
	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
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
	f.Add([]byte(appleChildrenCard), "Children", "", "")
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

// Cards with children as the programs that write them do (fixtures made
// after what /work/shared/testdata's CardDAV and SIF items show).
const (
	// The SyncML front's SIF (Outlook's Children text).
	sifChildrenCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nN:;Ann;;;\r\nX-FUNAMBOL-CHILDREN:Lena\\, Tim\r\nEND:VCARD\r\n"
	// Apple's Contacts: related names with labels; the spouse is no child.
	appleChildrenCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nN:;Ann;;;\r\n" +
		"item1.X-ABRELATEDNAMES:Lena\r\nitem1.X-ABLabel:_$!<Child>!$_\r\n" +
		"item2.X-ABRELATEDNAMES:Bob\r\nitem2.X-ABLabel:_$!<Spouse>!$_\r\n" +
		"item3.X-ABRELATEDNAMES;type=pref:Tim\r\nitem3.X-ABLabel:_$!<Child>!$_\r\n" +
		"item4.URL:http://ann.example\r\nitem4.X-ABLabel:_$!<HomePage>!$_\r\nEND:VCARD\r\n"
	// Google's CardDAV labels, and a vCard 4.0 RELATED as the DAV front
	// keeps it (the URI one names no child).
	otherChildrenCard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann\r\nN:;Ann;;;\r\n" +
		"item17.X-ABRELATEDNAMES:Ida\r\nitem17.X-ABLabel:Child\r\nX-RELATED;TYPE=child;VALUE=text:Max\r\n" +
		"X-RELATED;TYPE=child:urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6\r\nEND:VCARD\r\n"
)

func TestContactChildrenRead(t *testing.T) {
	for _, c := range []struct{ card, want string }{
		{sifChildrenCard, "Lena,Tim"},
		{appleChildrenCard, "Lena,Tim"},
		{otherChildrenCard, "Ida,Max"},
		{richCard, ""},
	} {
		fs := ContactFields([]byte(c.card))
		if got := fieldValue(fs, "Children"); got != c.want {
			t.Errorf("Children %q, want %q, of\n%s", got, c.want, c.card)
		}
		// Sent back as they came, nothing changes.
		if out := ApplyContact([]byte(c.card), fs, nil); string(out) != c.card {
			t.Errorf("round trip changed the card:\n%s\nwant\n%s", out, c.card)
		}
		if c.want == "" {
			continue
		}
		data, err := wbxml.EncodeEAS(el("AirSync", "ApplicationData", fieldNodes(fs)...))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := wbxml.DecodeEAS(data)
		if ch := children(child(n, "Children"), "Child"); len(ch) != 2 || ch[0].Text+","+ch[1].Text != c.want {
			t.Errorf("on the wire: %s", wbxml.Format(n))
		}
	}
}

func TestContactChildrenApply(t *testing.T) {
	with := func(names ...string) Field { return Field{Page: "Contacts", Name: "Children", List: names} }
	var ghosted []string // the client holds every field
	edit := func(card string, ch Field) string {
		var fs []Field
		for _, f := range ContactFields([]byte(card)) {
			if f.Name != "Children" {
				fs = append(fs, f)
			}
		}
		if ch.Name != "" {
			fs = append(fs, ch)
		}
		return string(ApplyContact([]byte(card), fs, ghosted))
	}
	// Apple's card: Tim goes with his label, Lena stays as written, Ida
	// comes as a new pair; the spouse and the home page stay.
	got := edit(appleChildrenCard, with("Lena", "Ida"))
	want := strings.Replace(appleChildrenCard, "item3.X-ABRELATEDNAMES;type=pref:Tim\r\nitem3.X-ABLabel:_$!<Child>!$_\r\n", "", 1)
	want = strings.Replace(want, "END:VCARD", "item5.X-ABRELATEDNAMES:Ida\r\nitem5.X-ABLabel:_$!<Child>!$_\r\nEND:VCARD", 1)
	if got != want {
		t.Errorf("Apple's card edited:\n%s\nwant\n%s", got, want)
	}
	// The SIF line: rewritten in place, gone when the list is empty.
	if got = edit(sifChildrenCard, with("Lena", "Tim", "Ida")); !strings.Contains(got, "\r\nX-FUNAMBOL-CHILDREN:Lena\\, Tim\\, Ida\r\n") {
		t.Errorf("a child added to the SIF line:\n%s", got)
	}
	if got = edit(sifChildrenCard, with()); strings.Contains(got, "CHILDREN") {
		t.Errorf("an empty Children kept the line:\n%s", got)
	}
	// A change without Children from a client that never sent any keeps
	// them (issue 10: nothing stored is lost when a client edits); from
	// one that has sent them, it clears them (MS-ASCMD).
	ghosted = []string{"Children"}
	for _, card := range []string{sifChildrenCard, appleChildrenCard, otherChildrenCard} {
		if got = edit(card, Field{}); got != card {
			t.Errorf("a change without Children:\n%s\nwant\n%s", got, card)
		}
	}
	ghosted = nil
	if got = edit(sifChildrenCard, Field{}); strings.Contains(got, "CHILDREN") {
		t.Errorf("a change without Children from a client that holds them:\n%s", got)
	}
	// Google's and 4.0's: Max goes, the URI stays, the new one joins the
	// Apple pairs.
	got = edit(otherChildrenCard, with("Ida", "Eva"))
	if strings.Contains(got, "Max") || !strings.Contains(got, "urn:uuid:") || !strings.Contains(got, "item17.X-ABLabel:Child\r\n") ||
		!strings.Contains(got, "item18.X-ABRELATEDNAMES:Eva\r\nitem18.X-ABLabel:_$!<Child>!$_\r\n") {
		t.Errorf("Google's card edited:\n%s", got)
	}
	// A new contact's children go where the SyncML front's SIF reads
	// Outlook's Children.
	out := ApplyContact(nil, []Field{{Page: "Contacts", Name: "FirstName", Value: "Ann"}, with("Lena", "Tim")}, nil)
	if !strings.Contains(string(out), "\r\nX-FUNAMBOL-CHILDREN:Lena\\, Tim\r\n") {
		t.Fatalf("new card:\n%s", out)
	}
	sif, err := vformat.VCardToSIFC(out)
	if err != nil || !strings.Contains(string(sif), "<Children>Lena, Tim</Children>") {
		t.Errorf("the SIF front reads %s (%v)", sif, err)
	}
	back, err := vformat.SIFCToVCard(sif)
	if err != nil || fieldValue(ContactFields(back), "Children") != "Lena,Tim" {
		t.Errorf("from SIF back: %s (%v)", back, err)
	}
}

// TestSyncContactChildren: through a Sync, the device gets the children of
// Apple's card, its change without Children keeps them, its change with
// one child less removes that one.
func TestSyncContactChildren(t *testing.T) {
	p := provisioned(t)
	st := p.accts.Store("alice")
	ctx := context.Background()
	if err := st.Put(ctx, pim.Contacts, &pim.Item{Data: []byte(appleChildrenCard)}); err != nil {
		t.Fatal(err)
	}
	c := p.sync(t, el("", "Collection", tx("", "SyncKey", "0"), tx("", "CollectionId", "contacts")))
	c = p.sync(t, el("", "Collection", tx("", "SyncKey", text(c, "SyncKey")), tx("", "CollectionId", "contacts")))
	adds := children(child(c, "Commands"), "Add")
	if len(adds) != 1 {
		t.Fatalf("first sync: %s", wbxml.Format(c))
	}
	sid := text(adds[0], "ServerId")
	kids := children(child(child(adds[0], "ApplicationData"), "Children"), "Child")
	if len(kids) != 2 || kids[0].Text != "Lena" || kids[1].Text != "Tim" {
		t.Fatalf("the device's children: %s", wbxml.Format(adds[0]))
	}
	stored := func() string {
		t.Helper()
		got, err := st.Get(ctx, pim.Contacts, sid)
		if err != nil || len(got) != 1 || got[0] == nil {
			t.Fatalf("get %s: %v", sid, err)
		}
		return string(got[0].Data)
	}
	change := func(key string, kids ...*wbxml.Node) string {
		fields := []*wbxml.Node{tx("Contacts", "FirstName", "Anna"), tx("Contacts", "FileAs", "Ann")}
		fields = append(fields, kids...)
		c := p.sync(t, el("", "Collection", tx("", "SyncKey", key), tx("", "CollectionId", "contacts"),
			el("", "Commands", el("", "Change", tx("", "ServerId", sid), el("", "ApplicationData", fields...)))))
		if text(c, "Status") != "1" {
			t.Fatalf("change: %s", wbxml.Format(c))
		}
		return text(c, "SyncKey")
	}
	key := change(text(c, "SyncKey"))
	if got := stored(); !strings.Contains(got, "N:;Anna;;;") || !strings.Contains(got, "item1.X-ABRELATEDNAMES:Lena\r\n") ||
		!strings.Contains(got, "item3.X-ABRELATEDNAMES;type=pref:Tim\r\n") {
		t.Fatalf("a change without Children:\n%s", got)
	}
	change(key, el("Contacts", "Children", tx("", "Child", "Lena")))
	if got := stored(); !strings.Contains(got, "item1.X-ABRELATEDNAMES:Lena\r\n") || strings.Contains(got, "Tim") ||
		!strings.Contains(got, "item2.X-ABRELATEDNAMES:Bob\r\n") {
		t.Errorf("a change with one child:\n%s", got)
	}
}
