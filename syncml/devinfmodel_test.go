package syncml

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syncml-imap/pim"
	"testing"
)

func readDevInfFixture(t testing.TB, name string) *DevInf {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "devinf", name))
	if err != nil {
		t.Fatal(err)
	}
	root, err := DecodeXML(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDevInf(root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// encodeParseDevInf writes d in the shape of verDTD, encodes it as XML and
// reads it back.
func encodeParseDevInf(t testing.TB, d *DevInf, verDTD string) (*DevInf, string) {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodeXML(&buf, d.Element(verDTD)); err != nil {
		t.Fatal(err)
	}
	root, err := DecodeXML(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	back, err := ParseDevInf(root)
	if err != nil {
		t.Fatal(err)
	}
	return back, buf.String()
}

func ctNames(caps []CTCap) []string {
	var out []string
	for _, cp := range caps {
		out = append(out, cp.CTType+" "+cp.VerCT)
	}
	return out
}

func findProp(t *testing.T, cp CTCap, name string) CTProperty {
	t.Helper()
	for _, p := range cp.Properties {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("%s %s: no property %s", cp.CTType, cp.VerCT, name)
	return CTProperty{}
}

func mustStore(t *testing.T, d *DevInf, uri string) *DataStore {
	t.Helper()
	ds := d.DataStore(uri)
	if ds == nil {
		t.Fatalf("no datastore %q", uri)
	}
	return ds
}

func wantEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func TestParseDevInfFixtures(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, d *DevInf)
	}{
		{"sonyericsson-devinf11.xml", func(t *testing.T, d *DevInf) {
			wantEqual(t, "header", []string{d.VerDTD, d.Man, d.Mod, d.OEM, d.FwV, d.SwV, d.HwV, d.DevID, d.DevTyp},
				[]string{"1.1", "Sony Ericsson", "K750i", "", "R1CA021", "R1CA021 prgCXC125792_EU_1_RO", "R1A", "IMEI:351234567890123", "phone"})
			wantEqual(t, "flags", []bool{d.UTC, d.SupportLargeObjs, d.SupportNumberOfChanges, d.SupportHierarchicalSync}, []bool{false, false, false, false})
			// One CTCap element with two CTTypes: two caps, as sent (no VerCT).
			wantEqual(t, "DevInf CTCaps", ctNames(d.CTCaps), []string{"text/x-vcard ", "text/x-vcalendar "})
			if len(d.DataStores) != 4 {
				t.Fatalf("%d datastores", len(d.DataStores))
			}
			c := mustStore(t, d, "contacts")
			wantEqual(t, "contacts", []any{c.SourceRef, c.DisplayName, c.MaxGUIDSize, c.RxPref, c.TxPref, c.MaxID, c.SyncTypes},
				[]any{"Contacts", "Contacts", 64, ContentType{"text/x-vcard", "2.1"}, ContentType{"text/x-vcard", "2.1"}, int64(1000), []int{1, 2, 3, 4, 5, 6, 7}})
			// Attached copies take the datastore's version.
			wantEqual(t, "contacts CTCaps", ctNames(c.CTCaps), []string{"text/x-vcard 2.1"})
			wantEqual(t, "calendar CTCaps", ctNames(mustStore(t, d, "Calendar").CTCaps), []string{"text/x-vcalendar 1.0"})
			wantEqual(t, "tasks CTCaps", ctNames(mustStore(t, d, "./tasks").CTCaps), []string{"text/x-vcalendar 1.0"})
			wantEqual(t, "notes CTCaps", ctNames(mustStore(t, d, "notes").CTCaps), []string(nil))
			tel := findProp(t, c.CTCaps[0], "TEL")
			wantEqual(t, "TEL params", tel.Params, []CTParam{{Name: "HOME"}, {Name: "WORK"}, {Name: "CELL"}, {Name: "FAX"}, {Name: "PREF"}})
			wantEqual(t, "NOTE", findProp(t, c.CTCaps[0], "NOTE"), CTProperty{Name: "NOTE", DataType: "chr", MaxSize: 255})
			wantEqual(t, "PHOTO", findProp(t, c.CTCaps[0], "PHOTO"), CTProperty{Name: "PHOTO", Params: []CTParam{{Name: "TYPE", ValEnums: []string{"JPEG", "GIF"}}}})
			wantEqual(t, "BEGIN", findProp(t, d.CTCaps[1], "BEGIN").ValEnums, []string{"VCALENDAR", "VEVENT", "VTODO"})
			// The copies are copies.
			c.CTCaps[0].Properties[0].ValEnums[0] = "changed"
			if d.CTCaps[0].Properties[0].ValEnums[0] != "VCARD" {
				t.Error("attached CTCap shares memory with the DevInf-level one")
			}
		}},
		{"nokia-s60-devinf12.xml", func(t *testing.T, d *DevInf) {
			wantEqual(t, "header", []string{d.VerDTD, d.Man, d.Mod, d.OEM, d.FwV, d.SwV, d.HwV, d.DevID, d.DevTyp},
				[]string{"1.2", "NOKIA", "N95", "Nokia", "21.0.016", "21.0.016", "0.0.0", "IMEI:356789012345678", "phone"})
			wantEqual(t, "flags", []bool{d.UTC, d.SupportLargeObjs, d.SupportNumberOfChanges}, []bool{true, true, true})
			wantEqual(t, "DevInf CTCaps", d.CTCaps, []CTCap(nil))
			c := mustStore(t, d, `C\Contacts.cdb`)
			wantEqual(t, "contacts", []any{c.SourceRef, c.MaxGUIDSize, c.MaxID, c.SyncTypes, ctNames(c.CTCaps)},
				[]any{`./C\Contacts.cdb`, 8, int64(5000), []int{1, 2, 3, 4, 5, 7}, []string{"text/x-vcard 2.1"}})
			wantEqual(t, "REV", findProp(t, c.CTCaps[0], "REV"), CTProperty{Name: "REV", MaxSize: 20, NoTruncate: true})
			wantEqual(t, "N", findProp(t, c.CTCaps[0], "N"), CTProperty{Name: "N", MaxOccur: 1, MaxSize: 150})
			wantEqual(t, "PHOTO", findProp(t, c.CTCaps[0], "PHOTO"), CTProperty{Name: "PHOTO", DataType: "bin", MaxOccur: 1,
				Params: []CTParam{{Name: "ENCODING", ValEnums: []string{"BASE64"}}, {Name: "TYPE", ValEnums: []string{"JPEG"}}}})
			cal := mustStore(t, d, `./c\calendar`)
			wantEqual(t, "calendar Rx", cal.Rx, []ContentType{{"text/calendar", "2.0"}})
			wantEqual(t, "calendar Tx", cal.Tx, []ContentType(nil))
			wantEqual(t, "STATUS", findProp(t, cal.CTCaps[0], "STATUS").ValEnums, []string{"NEEDS ACTION", "COMPLETED"})
		}},
		{"syncevolution-devinf12.xml", func(t *testing.T, d *DevInf) {
			wantEqual(t, "header", []string{d.Man, d.Mod, d.DevTyp}, []string{"Patrick Ohly", "SyncEvolution", "workstation"})
			wantEqual(t, "flags", []bool{d.UTC, d.SupportLargeObjs, d.SupportNumberOfChanges}, []bool{true, true, true})
			wantEqual(t, "Exts", d.Exts, []Ext{{XNam: "X-funambol-smartslow"}, {XNam: "X-syncml-example", XVal: []string{"a", "b"}}})
			ab := mustStore(t, d, "addressbook")
			wantEqual(t, "addressbook", []any{ab.MaxGUIDSize, ab.RxPref, ab.Rx, ab.TxPref, ab.Tx, ab.SyncTypes, ctNames(ab.CTCaps)},
				[]any{255, ContentType{"text/vcard", "3.0"}, []ContentType{{"text/x-vcard", "2.1"}}, ContentType{"text/vcard", "3.0"},
					[]ContentType{{"text/x-vcard", "2.1"}}, []int{1, 2, 3, 4, 5, 6, 7}, []string{"text/vcard 3.0", "text/x-vcard 2.1"}})
			wantEqual(t, "TEL", findProp(t, ab.CTCaps[0], "TEL").Params, []CTParam{{Name: "TYPE", DataType: "chr",
				ValEnums: []string{"WORK", "HOME", "CELL", "FAX", "PAGER", "PREF", "VOICE", "CAR"}}})
			wantEqual(t, "PHOTO param", findProp(t, ab.CTCaps[0], "PHOTO").Params, []CTParam{{Name: "TYPE"}})
			wantEqual(t, "VERSION", findProp(t, ab.CTCaps[0], "VERSION"), CTProperty{Name: "VERSION", MaxOccur: 1, ValEnums: []string{"3.0"}})
			cal := mustStore(t, d, "calendar")
			wantEqual(t, "calendar CTCaps", ctNames(cal.CTCaps), []string{"text/calendar 2.0", "text/x-vcalendar 1.0"})
			wantEqual(t, "TRIGGER", findProp(t, cal.CTCaps[0], "TRIGGER").Params, []CTParam{
				{Name: "VALUE", ValEnums: []string{"DURATION", "DATE-TIME"}}, {Name: "RELATED", ValEnums: []string{"START", "END"}}})
			wantEqual(t, "todo CTCaps", ctNames(mustStore(t, d, "todo").CTCaps), []string{"text/calendar 2.0"})
		}},
		{"funambol-outlook-devinf12.xml", func(t *testing.T, d *DevInf) {
			wantEqual(t, "header", []string{d.Man, d.Mod, d.OEM, d.SwV, d.DevTyp}, []string{"Funambol", "Outlook Sync Client", "Funambol", "10.0.4", "desktop"})
			card := mustStore(t, d, "CARD")
			wantEqual(t, "card", []any{card.SharedMem, card.MaxMem, card.MaxID, card.MaxGUIDSize, card.CTCaps, card.Tx},
				[]any{true, int64(1048576), int64(0), 32, []CTCap(nil), []ContentType(nil)})
			wantEqual(t, "Exts", d.Exts, []Ext{{XNam: "X-funambol-smartslow"}})
		}},
		{"minimal-devinf10.xml", func(t *testing.T, d *DevInf) {
			want := &DevInf{
				VerDTD: "1.0", DevID: "1234567", DevTyp: "phone",
				DataStores: []DataStore{
					{SourceRef: "./telecom/pb.vcf", RxPref: ContentType{CTType: "text/x-vcard"},
						CTCaps: []CTCap{{CTType: "text/x-vcard", Properties: []CTProperty{
							{Name: "N"}, {Name: "TEL", Params: []CTParam{{Name: "CELL"}}}}}}},
					{SourceRef: "./telecom/cal.vcs", RxPref: ContentType{"text/x-vcalendar", "1.0"}, TxPref: ContentType{"text/x-vcalendar", "1.0"},
						SyncTypes: []int{2, 1}},
				},
				CTCaps: []CTCap{{CTType: "text/x-vcard", Properties: []CTProperty{
					{Name: "N"}, {Name: "TEL", Params: []CTParam{{Name: "CELL"}}}}}},
			}
			if !reflect.DeepEqual(d, want) {
				t.Errorf("got  %+v\nwant %+v", d, want)
			}
		}},
		{"mixed-toplevel-ctcap12.xml", func(t *testing.T, d *DevInf) {
			wantEqual(t, "DevInf CTCaps", ctNames(d.CTCaps), []string{"text/x-vcard 2.1", "text/x-vcard 3.0", "text/x-vcalendar 1.0"})
			c := mustStore(t, d, "contacts")
			// Only the version the datastore takes is attached.
			wantEqual(t, "contacts CTCaps", ctNames(c.CTCaps), []string{"text/x-vcard 2.1"})
			wantEqual(t, "TEL", findProp(t, c.CTCaps[0], "TEL").Params, []CTParam{{Name: "TYPE", ValEnums: []string{"CELL", "HOME"}}})
			// The datastore's own CTCap wins over the DevInf-level one.
			cal := mustStore(t, d, "calendar")
			wantEqual(t, "calendar CTCaps", ctNames(cal.CTCaps), []string{"text/x-vcalendar "})
			wantEqual(t, "SUMMARY", findProp(t, cal.CTCaps[0], "SUMMARY"), CTProperty{Name: "SUMMARY", DataType: "chr", MaxSize: 64})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			d := readDevInfFixture(t, tc.file)
			tc.check(t, d)
		})
	}
}

// TestDevInfFixturesReencode: each fixture, written in the 1.2 shape and
// read back, keeps every datastore's capabilities; written in the 1.1
// shape, keeps the DevInf-level ones.
func TestDevInfFixturesReencode(t *testing.T) {
	files, _ := filepath.Glob("testdata/devinf/*.xml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			d := readDevInfFixture(t, filepath.Base(file))
			back, xml := encodeParseDevInf(t, d, "1.2")
			if len(back.DataStores) != len(d.DataStores) {
				t.Fatalf("%d datastores back, want %d", len(back.DataStores), len(d.DataStores))
			}
			for i := range d.DataStores {
				if !reflect.DeepEqual(back.DataStores[i], d.DataStores[i]) {
					t.Errorf("1.2: datastore %s\n got  %+v\n want %+v\n%s", d.DataStores[i].SourceRef, back.DataStores[i], d.DataStores[i], xml)
				}
			}
			// Once normalised, the 1.2 shape is stable.
			again, _ := encodeParseDevInf(t, back, "1.2")
			wantEqual(t, "1.2 twice", again, back)

			b11, xml11 := encodeParseDevInf(t, d, "1.1")
			if strings.Contains(xml11, "<Property>") || strings.Contains(xml11, "MaxOccur") {
				t.Errorf("1.1 document has 1.2 elements:\n%s", xml11)
			}
			for _, cp := range d.CTCaps {
				found := false
				for _, got := range b11.CTCaps {
					found = found || strings.EqualFold(got.CTType, cp.CTType)
				}
				if !found {
					t.Errorf("1.1: CTCap %s lost", cp.CTType)
				}
			}
			wantEqual(t, "1.1 header", []string{b11.VerDTD, b11.Man, b11.Mod, b11.DevID}, []string{"1.1", d.Man, d.Mod, d.DevID})
		})
	}
}

func TestServerDevInfRoundTrip(t *testing.T) {
	for _, ver := range []string{"1.1", "1.2"} {
		t.Run(ver, func(t *testing.T) {
			d := ServerDevInf(ver, "http://example.org/sync")
			back, xml := encodeParseDevInf(t, d, ver)
			if !reflect.DeepEqual(back, d) {
				t.Errorf("round trip differs\n got  %+v\n want %+v\n%s", back, d, xml)
			}
			if !strings.Contains(xml, `<DevInf xmlns="syncml:devinf"><VerDTD>`+ver+`</VerDTD>`) || strings.Count(xml, "xmlns") != 1 {
				t.Errorf("namespace or VerDTD:\n%s", xml)
			}
			if ver == "1.1" {
				if strings.Contains(xml, "<Property>") || strings.Contains(xml, "<DataStore><SourceRef>contacts</SourceRef><DisplayName>Contacts</DisplayName><MaxGUIDSize>64</MaxGUIDSize><Rx-Pref><CTType>text/vcard</CTType><VerCT>3.0</VerCT></Rx-Pref><Rx><CTType>text/x-vcard</CTType><VerCT>2.1</VerCT></Rx><Tx-Pref><CTType>text/vcard</CTType><VerCT>3.0</VerCT></Tx-Pref><Tx><CTType>text/x-vcard</CTType><VerCT>2.1</VerCT></Tx><SyncCap>") == false {
					t.Errorf("1.1 shape:\n%s", xml)
				}
				if i, j := strings.LastIndex(xml, "</DataStore>"), strings.Index(xml, "<CTCap>"); j < i {
					t.Errorf("1.1: CTCap before the last DataStore:\n%s", xml)
				}
				if n := strings.Count(xml, "<CTCap>"); n != 4 {
					t.Errorf("1.1: %d CTCaps, want one per type (4)", n)
				}
			} else {
				if strings.Contains(xml, "<PropName>BEGIN</PropName><ValEnum>VCARD</ValEnum><PropName>") || !strings.Contains(xml, "<Property><PropName>BEGIN</PropName><ValEnum>VCARD</ValEnum></Property>") {
					t.Errorf("1.2 shape:\n%s", xml)
				}
				if i, j := strings.Index(xml, "</DataStore>"), strings.Index(xml, "<CTCap>"); j > i {
					t.Errorf("1.2: CTCap not inside the first DataStore:\n%s", xml)
				}
			}
			// Also readable in the other version's shape.
			other := map[string]string{"1.1": "1.2", "1.2": "1.1"}[ver]
			o, _ := encodeParseDevInf(t, d, other)
			for i := range d.DataStores {
				wantEqual(t, other+" "+d.DataStores[i].SourceRef+" CTCaps", o.DataStores[i].CTCaps, d.DataStores[i].CTCaps)
			}
		})
	}
}

func TestServerDevInfContent(t *testing.T) {
	d := ServerDevInf("1.2", "srv")
	wantEqual(t, "header", []any{d.VerDTD, d.Man, d.Mod, d.DevID, d.DevTyp, d.UTC, d.SupportLargeObjs, d.SupportNumberOfChanges},
		[]any{"1.2", "syncml-imap", "syncml-imap", "srv", "server", true, true, true})
	want := map[string][2]ContentType{
		"contacts": {{"text/vcard", "3.0"}, {"text/x-vcard", "2.1"}},
		"calendar": {{"text/calendar", "2.0"}, {"text/x-vcalendar", "1.0"}},
		"tasks":    {{"text/calendar", "2.0"}, {"text/x-vcalendar", "1.0"}},
	}
	if len(d.DataStores) != len(want) {
		t.Fatalf("%d datastores", len(d.DataStores))
	}
	for db, types := range want {
		ds := mustStore(t, d, db)
		wantEqual(t, db, []any{ds.RxPref, ds.TxPref, ds.Rx, ds.Tx, ds.SyncTypes, ds.MaxGUIDSize},
			// The legacy type is always taken (Rx), and sent (Tx) where the
			// conversion to it exists.
			[]any{types[0], types[0], []ContentType{types[1]}, sendable(pim.Kind(db), types[1]), []int{1, 2, 3, 4, 5, 6}, 64})
		if db == "contacts" && len(ds.Tx) != 1 {
			t.Errorf("contacts: vCard 2.1 is converted, so sent: Tx %v", ds.Tx)
		}
		for _, ct := range types {
			if _, known := ds.SupportsProperty(ct.CTType, "UID"); !known {
				t.Errorf("%s: no CTCap for %s", db, ct.CTType)
			}
		}
	}
	c := d.DataStore("contacts")
	for _, p := range []string{"FN", "N", "NICKNAME", "TEL", "EMAIL", "ADR", "PHOTO", "CATEGORIES"} {
		if ok, _ := c.SupportsProperty("text/vcard", p); !ok {
			t.Errorf("vCard 3.0 %s not supported", p)
		}
	}
	// Everything the mailbox keeps is announced, so that a client sending
	// only what the server lists leaves nothing out (issue 14).
	for _, ct := range []string{"text/vcard", "text/x-vcard"} {
		for _, p := range []string{"X-JABBER", "X-PHONETIC-FIRST-NAME", "X-ABLabel", "X-ABDATE", "IMPP", "LABEL", "GEO", "X-EVOLUTION-FILE-AS"} {
			if ok, _ := c.SupportsProperty(ct, p); !ok {
				t.Errorf("%s %s not announced", ct, p)
			}
		}
	}
	if ok, known := c.SupportsProperty("text/vcard", "X-SOMETHING-ELSE"); ok || !known {
		t.Errorf("X-SOMETHING-ELSE = %v, %v", ok, known)
	}
	cal := d.DataStore("calendar")
	for _, p := range []string{"RRULE", "EXDATE", "RECURRENCE-ID", "TRIGGER", "ACTION", "DUE", "COMPLETED",
		"ATTENDEE", "ORGANIZER", "URL", "TRANSP", "DTSTAMP", "CREATED", "LAST-MODIFIED", "PERCENT-COMPLETE", "SEQUENCE", "DURATION", "RELATED-TO"} {
		if ok, _ := cal.SupportsProperty("text/calendar", p); !ok {
			t.Errorf("iCalendar %s not supported", p)
		}
	}
	for _, p := range []string{"ATTENDEE", "URL", "TRANSP", "DCREATED", "LAST-MODIFIED"} {
		if ok, _ := cal.SupportsProperty("text/x-vcalendar", p); !ok {
			t.Errorf("vCalendar %s not supported", p)
		}
	}
	for _, p := range []string{"AALARM", "DALARM"} {
		if ok, _ := cal.SupportsProperty("text/x-vcalendar", p); !ok {
			t.Errorf("vCalendar %s not supported", p)
		}
	}
	if d11 := ServerDevInf("1.1", "srv"); len(d11.CTCaps) != 4 || d11.CTCaps[0].VerCT != "" {
		t.Errorf("1.1 DevInf-level CTCaps: %v", ctNames(d11.CTCaps))
	}
}

func TestDataStorePreferred(t *testing.T) {
	vcard30 := ContentType{"text/vcard", "3.0"}
	vcard21 := ContentType{"text/x-vcard", "2.1"}
	ical := ContentType{"text/calendar", "2.0"}
	vcal := ContentType{"text/x-vcalendar", "1.0"}
	se := readDevInfFixture(t, "sonyericsson-devinf11.xml")
	nokia := readDevInfFixture(t, "nokia-s60-devinf12.xml")
	syncevo := readDevInfFixture(t, "syncevolution-devinf12.xml")
	funambol := readDevInfFixture(t, "funambol-outlook-devinf12.xml")
	minimal := readDevInfFixture(t, "minimal-devinf10.xml")
	tests := []struct {
		name       string
		ds         *DataStore
		candidates []ContentType
		want       ContentType
		ok         bool
	}{
		{"Rx-Pref among candidates", syncevo.DataStore("addressbook"), []ContentType{vcard21, vcard30}, vcard30, true},
		{"Rx-Pref, case of CTType ignored", syncevo.DataStore("addressbook"), []ContentType{{"TEXT/VCARD", "3.0"}}, ContentType{"TEXT/VCARD", "3.0"}, true},
		{"Rx-Pref 2.1 device", se.DataStore("contacts"), []ContentType{vcard30, vcard21}, vcard21, true},
		{"candidate without version", se.DataStore("contacts"), []ContentType{{"text/x-vcard", ""}}, ContentType{"text/x-vcard", ""}, true},
		{"version differs", se.DataStore("contacts"), []ContentType{{"text/x-vcard", "3.0"}}, ContentType{}, false},
		{"fallback to Rx", nokia.DataStore(`C\Calendar`), []ContentType{ical}, ical, true},
		{"Rx-Pref wins over earlier Rx candidate", nokia.DataStore(`C\Calendar`), []ContentType{ical, vcal}, vcal, true},
		{"Rx in the server's order", funambol.DataStore("card"), []ContentType{vcard30, vcard21}, vcard21, true},
		{"nothing matches", funambol.DataStore("event"), []ContentType{ical, vcal}, ContentType{}, false},
		{"device gave no version", minimal.DataStore("telecom/pb.vcf"), []ContentType{vcard30, vcard21}, vcard21, true},
		{"no candidates", syncevo.DataStore("calendar"), nil, ContentType{}, false},
		{"nil datastore", nil, []ContentType{vcard21}, ContentType{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.ds.Preferred(tc.candidates...)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Preferred = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestDataStoreSupportsProperty(t *testing.T) {
	se := readDevInfFixture(t, "sonyericsson-devinf11.xml")
	nokia := readDevInfFixture(t, "nokia-s60-devinf12.xml")
	syncevo := readDevInfFixture(t, "syncevolution-devinf12.xml")
	funambol := readDevInfFixture(t, "funambol-outlook-devinf12.xml")
	tests := []struct {
		name             string
		ds               *DataStore
		ctType, prop     string
		supported, known bool
	}{
		{"1.1 attached cap has it", se.DataStore("contacts"), "text/x-vcard", "TEL", true, true},
		{"1.1 attached cap lacks it", se.DataStore("contacts"), "text/x-vcard", "NICKNAME", false, true},
		{"1.1 cap shared by tasks", se.DataStore("tasks"), "text/x-vcalendar", "due", true, true},
		{"other type than the cap's", se.DataStore("contacts"), "text/vcard", "TEL", false, false},
		{"store without cap", se.DataStore("notes"), "text/plain", "BODY", false, false},
		{"1.2 cap", nokia.DataStore(`C\Contacts.cdb`), "TEXT/X-VCARD", "x-nickname", true, true},
		{"1.2 cap lacks it", nokia.DataStore(`C\Contacts.cdb`), "text/x-vcard", "NICKNAME", false, true},
		{"second cap of a store", syncevo.DataStore("addressbook"), "text/x-vcard", "EMAIL", true, true},
		{"second cap lacks it", syncevo.DataStore("addressbook"), "text/x-vcard", "PHOTO", false, true},
		{"X-* wildcard", syncevo.DataStore("addressbook"), "text/vcard", "X-ANNIVERSARY", true, true},
		{"no CTCap at all", funambol.DataStore("card"), "text/x-vcard", "TEL", false, false},
		{"nil datastore", nil, "text/x-vcard", "TEL", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, k := tc.ds.SupportsProperty(tc.ctType, tc.prop)
			if s != tc.supported || k != tc.known {
				t.Errorf("SupportsProperty(%q, %q) = %v, %v; want %v, %v", tc.ctType, tc.prop, s, k, tc.supported, tc.known)
			}
		})
	}
}

func TestDevInfDataStoreLookup(t *testing.T) {
	d := &DevInf{DataStores: []DataStore{{SourceRef: "./Contacts"}, {SourceRef: "calendar"}, {SourceRef: "./C\\Notepad.dat"}}}
	tests := []struct {
		uri  string
		want string // SourceRef, "" for none
	}{
		{"contacts", "./Contacts"},
		{"./CONTACTS", "./Contacts"},
		{" ./contacts ", "./Contacts"},
		{"./calendar", "calendar"},
		{"Calendar", "calendar"},
		{`c\notepad.dat`, `./C\Notepad.dat`},
		{"tasks", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got := ""
		if ds := d.DataStore(tc.uri); ds != nil {
			got = ds.SourceRef
		}
		if got != tc.want {
			t.Errorf("DataStore(%q) = %q, want %q", tc.uri, got, tc.want)
		}
	}
	d.DataStore("contacts").DisplayName = "set"
	if d.DataStores[0].DisplayName != "set" {
		t.Error("DataStore does not point into DataStores")
	}
	if (*DevInf)(nil).DataStore("contacts") != nil {
		t.Error("nil DevInf")
	}
}

func TestParseDevInfNotDevInf(t *testing.T) {
	tests := []struct {
		name string
		e    *Element
		ok   bool
	}{
		{"nil", nil, false},
		{"SyncML", &Element{Name: "SyncML", Children: []*Element{{Name: "SyncHdr"}}}, false},
		{"Data with two children", &Element{Name: "Data", Children: []*Element{{Name: "DevInf"}, {Name: "DevInf"}}}, false},
		{"empty DevInf", &Element{Name: "DevInf"}, true},
		{"Data wrapping DevInf", &Element{Name: "Data", Children: []*Element{{Name: "DevInf", Children: []*Element{{Name: "Man", Text: "X"}}}}}, true},
		{"DevInf without namespace, other case", &Element{Name: "devinf", Children: []*Element{{Name: "VerDTD", Text: "1.1"}}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDevInf(tc.e)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err == nil {
				// Even an empty one writes a document.
				encodeParseDevInf(t, d, "1.2")
				encodeParseDevInf(t, d, "1.1")
			}
		})
	}
}

// TestDevInfElementModelOnlyTopLevelCaps: a model built with DevInf-level
// CTCaps only is written in the 1.2 shape with the caps inside the
// matching datastores.
func TestDevInfElementModelOnlyTopLevelCaps(t *testing.T) {
	d := &DevInf{DevID: "x", DevTyp: "phone",
		DataStores: []DataStore{
			{SourceRef: "c", RxPref: ContentType{"text/x-vcard", "2.1"}, TxPref: ContentType{"text/x-vcard", "2.1"}, SyncTypes: []int{2}},
			{SourceRef: "n", RxPref: ContentType{"text/plain", "1.0"}, TxPref: ContentType{"text/plain", "1.0"}, SyncTypes: []int{2}},
		},
		CTCaps: []CTCap{{CTType: "text/x-vcard", Properties: []CTProperty{{Name: "N"}}}},
	}
	back, xml := encodeParseDevInf(t, d, "1.2")
	wantEqual(t, "c CTCaps", back.DataStores[0].CTCaps, []CTCap{{CTType: "text/x-vcard", VerCT: "2.1", Properties: []CTProperty{{Name: "N"}}}})
	wantEqual(t, "n CTCaps", back.DataStores[1].CTCaps, []CTCap(nil))
	wantEqual(t, "DevInf CTCaps", back.CTCaps, []CTCap(nil))
	if d.DataStores[0].CTCaps != nil {
		t.Error("Element changed the model")
	}
	if !strings.Contains(xml, "<DevID>x</DevID><DevTyp>phone</DevTyp><DataStore>") {
		t.Errorf("order:\n%s", xml)
	}
}

// TestParseDevInfLimits: a hostile document cannot make the model or its
// encoding grow beyond the limits.
func TestParseDevInfLimits(t *testing.T) {
	var b strings.Builder
	b.WriteString("<DevInf><VerDTD>1.1</VerDTD>")
	for i := 0; i < maxDevInfDataStores+50; i++ {
		fmt.Fprintf(&b, "<DataStore><SourceRef>%d</SourceRef><Rx-Pref><CTType>t</CTType></Rx-Pref>", i)
		if i == 0 {
			for j := 0; j < maxDevInfTypes+10; j++ {
				fmt.Fprintf(&b, "<Rx><CTType>t</CTType><VerCT>%d</VerCT></Rx><Tx><CTType>t</CTType><VerCT>%d</VerCT></Tx>", j, j)
			}
		}
		b.WriteString("</DataStore>")
	}
	b.WriteString("<CTCap><CTType>t</CTType>")
	for j := 0; j < 3000; j++ {
		b.WriteString("<PropName>P</PropName>")
	}
	for j := 0; j < maxDevInfCTCaps+10; j++ {
		fmt.Fprintf(&b, "<CTType>t</CTType><VerCT>%d</VerCT>", j)
	}
	b.WriteString("</CTCap></DevInf>")
	root, err := DecodeXML(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDevInf(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.DataStores) != maxDevInfDataStores || len(d.DataStores[0].Rx) != maxDevInfTypes || len(d.DataStores[0].Tx) != maxDevInfTypes || len(d.CTCaps) != maxDevInfCTCaps {
		t.Errorf("kept %d datastores, %d Rx, %d Tx, %d CTCaps", len(d.DataStores), len(d.DataStores[0].Rx), len(d.DataStores[0].Tx), len(d.CTCaps))
	}
	copied := 0
	for _, ds := range d.DataStores {
		for _, cp := range ds.CTCaps {
			copied += ctCapSize(cp)
		}
	}
	if copied > maxDevInfCopy || copied == 0 {
		t.Errorf("%d entries copied, limit %d", copied, maxDevInfCopy)
	}
	for _, ver := range []string{"1.1", "1.2"} {
		var buf bytes.Buffer
		if err := EncodeXML(&buf, d.Element(ver)); err != nil {
			t.Fatal(err)
		}
		if buf.Len() > 4*(len(b.String())+maxDevInfCopy*40) {
			t.Errorf("%s: %d bytes written for %d read", ver, buf.Len(), len(b.String()))
		}
	}
}

// FuzzParseDevInf: whatever the input, decoding, parsing and writing do
// not panic, and the 1.2 shape of what was read is stable.
func FuzzParseDevInf(f *testing.F) {
	files, _ := filepath.Glob("testdata/devinf/*.xml")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		root, err := DecodeXML(bytes.NewReader(b))
		if err != nil {
			return
		}
		d, err := ParseDevInf(root)
		if err != nil {
			return
		}
		var out [2]bytes.Buffer
		for i, ver := range []string{"1.1", "1.2"} {
			if err := EncodeXML(&out[i], d.Element(ver)); err != nil {
				t.Fatal(err)
			}
		}
		d.DataStore("contacts").Preferred(ContentType{"text/vcard", "3.0"})
		for i := range d.DataStores {
			d.DataStores[i].SupportsProperty("text/vcard", "X-FOO")
			d.DataStores[i].Preferred(ContentType{"text/vcard", "3.0"}, ContentType{"text/x-vcard", ""})
		}
		// Stability: read back what was written (1.2), write and read again.
		r1, err := DecodeXML(bytes.NewReader(out[1].Bytes()))
		if err != nil {
			return // the input held text XML cannot carry
		}
		d1, err := ParseDevInf(r1)
		if err != nil {
			t.Fatalf("written DevInf does not parse: %v", err)
		}
		var again bytes.Buffer
		if err := EncodeXML(&again, d1.Element("1.2")); err != nil {
			t.Fatal(err)
		}
		r2, err := DecodeXML(bytes.NewReader(again.Bytes()))
		if err != nil {
			t.Fatalf("re-encoded DevInf does not decode: %v", err)
		}
		d2, err := ParseDevInf(r2)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d1, d2) {
			t.Errorf("1.2 shape not stable\n%+v\n%+v", d1, d2)
		}
	})
}

// TestServerDevInfFits: the server's DevInf (not chunked) takes at most
// half of a device's MaxMsgSize: in full where that fits, else with the
// CTCaps' property names only (what clients filter on), else without
// CTCaps.
func TestServerDevInfFits(t *testing.T) {
	for _, c := range []struct {
		maxMsg    int64
		wantCaps  bool
		wantParam bool
	}{
		{0, true, true}, {200000, true, true}, {45000, true, false}, {12000, false, false},
	} {
		s := &session{srv: NewServer(ServerOptions{ServerID: "srv"}), verDTD: "1.2", maxMsg: c.maxMsg}
		e := s.serverDevInf()
		if c.maxMsg > 0 && int64(encodedSize(e)) > c.maxMsg/2 {
			t.Errorf("MaxMsgSize %d: DevInf of %d bytes", c.maxMsg, encodedSize(e))
		}
		di, err := ParseDevInf(e)
		if err != nil {
			t.Fatal(err)
		}
		cs := di.DataStore("calendar")
		ok, _ := cs.SupportsProperty("text/calendar", "ATTENDEE")
		params := false
		for _, cp := range cs.CTCaps {
			for _, p := range cp.Properties {
				params = params || len(p.Params) > 0
			}
		}
		if ok != c.wantCaps || params != c.wantParam {
			t.Errorf("MaxMsgSize %d: ATTENDEE announced %v (want %v), parameters %v (want %v)", c.maxMsg, ok, c.wantCaps, params, c.wantParam)
		}
	}
}
