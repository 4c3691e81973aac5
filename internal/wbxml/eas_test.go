package wbxml

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// s is an inline string: STR_I, the text, its terminator.
func s(text string) []byte { return bs(0x03, text, 0x00) }

// easDoc is the ActiveSync header followed by body.
func easDoc(body ...any) []byte { return bs(append([]any{0x03, 0x01, 0x6A, 0x00}, body...)...) }

// opaque returns n with Opaque set.
func opaque(n *Node) *Node { n.Opaque = true; return n }

type easVector struct {
	name string
	tree *Node
	data []byte
}

// easVectors are ActiveSync requests and responses, shaped after the
// examples of MS-ASCMD 4 and the element tables of MS-ASCMD 2.2.3, with
// their encodings assembled token by token from the MS-ASWBXML tables
// (the token of each tag is in the comment beside it, content bit
// included).
var easVectors = []easVector{
	{
		// MS-ASWBXML 3: the spec's own example, byte for byte.
		name: "aswbxml-example",
		tree: el("Sync", "AirSync", "",
			el("Collections", "", "",
				el("Collection", "", "",
					el("Class", "", "Contacts"),
					el("SyncKey", "", "2"),
					el("CollectionId", "", "2"),
					el("Status", "", "1"),
					el("Commands", "", "",
						el("Add", "", "",
							el("ServerId", "", "2:1"),
							el("ApplicationData", "", "",
								el("Body", "AirSyncBase", "",
									el("Type", "", "1"),
									el("EstimatedDataSize", "", "0"),
									el("Truncated", "", "1")),
								el("FileAs", "Contacts", "Funk, Don"),
								el("FirstName", "Contacts", "Don"),
								el("LastName", "Contacts", "Funk"),
								el("NativeBodyType", "AirSyncBase", "1"))))))),
		data: hexBytes("03 01 6A 00 45 5C 4F 50 03 43 6F 6E 74 61 63 74 73 00 01 4B 03 32 00 01 52 03 32 00 01 4E 03 31 00 01 56 47 4D 03 32 3A 31 00 01 5D 00 11 4A 46 03 31 00 01 4C 03 30 00 01 4D 03 31 00 01 01 00 01 5E 03 46 75 6E 6B 2C 20 44 6F 6E 00 01 5F 03 44 6F 6E 00 01 69 03 46 75 6E 6B 00 01 00 11 56 03 31 00 01 01 01 01 01 01 01"),
	},
	{
		name: "foldersync-request",
		tree: el("FolderSync", "FolderHierarchy", "", el("SyncKey", "", "0")),
		data: easDoc(0x00, 0x07, 0x56, 0x52, s("0"), 0x01, 0x01), // FolderSync 0x16, SyncKey 0x12
	},
	{
		name: "foldersync-response",
		tree: el("FolderSync", "FolderHierarchy", "",
			el("Status", "", "1"),
			el("SyncKey", "", "1"),
			el("Changes", "", "",
				el("Count", "", "2"),
				el("Add", "", "",
					el("ServerId", "", "1"), el("ParentId", "", "0"),
					el("DisplayName", "", "Contacts"), el("Type", "", "9")),
				el("Add", "", "",
					el("ServerId", "", "2"), el("ParentId", "", "0"),
					el("DisplayName", "", "Calendar"), el("Type", "", "8")))),
		data: easDoc(0x00, 0x07, 0x56, // FolderSync
			0x4C, s("1"), 0x01, // Status 0x0C
			0x52, s("1"), 0x01, // SyncKey 0x12
			0x4E,               // Changes 0x0E
			0x57, s("2"), 0x01, // Count 0x17
			0x4F, 0x48, s("1"), 0x01, 0x49, s("0"), 0x01, 0x47, s("Contacts"), 0x01, 0x4A, s("9"), 0x01, 0x01, // Add 0x0F ServerId 0x08 ParentId 0x09 DisplayName 0x07 Type 0x0A
			0x4F, 0x48, s("2"), 0x01, 0x49, s("0"), 0x01, 0x47, s("Calendar"), 0x01, 0x4A, s("8"), 0x01, 0x01,
			0x01, 0x01),
	},
	{
		// A client's Add, Change and Delete of contacts (MS-ASCMD 4.5.3).
		name: "sync-request-contacts",
		tree: el("Sync", "AirSync", "",
			el("Collections", "", "",
				el("Collection", "", "",
					el("SyncKey", "", "3"),
					el("CollectionId", "", "1"),
					el("GetChanges", "", ""),
					el("WindowSize", "", "100"),
					el("Commands", "", "",
						el("Add", "", "",
							el("ClientId", "", "c1"),
							el("ApplicationData", "", "",
								el("FileAs", "Contacts", "Doe, Jane"),
								el("FirstName", "Contacts", "Jane"),
								el("LastName", "Contacts", "Doe"),
								el("Email1Address", "Contacts", `"Jane Doe" <jane@example.org>`),
								el("MobilePhoneNumber", "Contacts", "+1 555 0100"),
								el("NickName", "Contacts2", "JD"))),
						el("Change", "", "",
							el("ServerId", "", "1:5"),
							el("ApplicationData", "", "",
								el("JobTitle", "Contacts", "Engineer"))),
						el("Delete", "", "",
							el("ServerId", "", "1:7")))))),
		data: easDoc(0x45, 0x5C, 0x4F, // Sync 0x05 Collections 0x1C Collection 0x0F
			0x4B, s("3"), 0x01, // SyncKey 0x0B
			0x52, s("1"), 0x01, // CollectionId 0x12
			0x13,                 // GetChanges 0x13, empty
			0x55, s("100"), 0x01, // WindowSize 0x15
			0x56,                      // Commands 0x16
			0x47, 0x4C, s("c1"), 0x01, // Add 0x07 ClientId 0x0C
			0x5D, 0x00, 0x01, // ApplicationData 0x1D, Contacts
			0x5E, s("Doe, Jane"), 0x01, // FileAs 0x1E
			0x5F, s("Jane"), 0x01, // FirstName 0x1F
			0x69, s("Doe"), 0x01, // LastName 0x29
			0x5B, s(`"Jane Doe" <jane@example.org>`), 0x01, // Email1Address 0x1B
			0x6B, s("+1 555 0100"), 0x01, // MobilePhoneNumber 0x2B
			0x00, 0x0C, 0x4D, s("JD"), 0x01, // Contacts2 NickName 0x0D
			0x01, 0x01, // </ApplicationData></Add>
			0x00, 0x00, 0x48, 0x4D, s("1:5"), 0x01, // Change 0x08 ServerId 0x0D
			0x5D, 0x00, 0x01, 0x68, s("Engineer"), 0x01, 0x01, 0x01, // JobTitle 0x28
			0x00, 0x00, 0x49, 0x4D, s("1:7"), 0x01, 0x01, // Delete 0x09
			0x01, 0x01, 0x01, 0x01),
	},
	{
		name: "sync-response-contacts",
		tree: el("Sync", "AirSync", "",
			el("Collections", "", "",
				el("Collection", "", "",
					el("SyncKey", "", "4"),
					el("CollectionId", "", "1"),
					el("Status", "", "1"),
					el("Responses", "", "",
						el("Add", "", "",
							el("ClientId", "", "c1"), el("ServerId", "", "1:8"), el("Status", "", "1")),
						el("Change", "", "",
							el("ServerId", "", "1:5"), el("Status", "", "1")))))),
		data: easDoc(0x45, 0x5C, 0x4F,
			0x4B, s("4"), 0x01, 0x52, s("1"), 0x01, 0x4E, s("1"), 0x01, // Status 0x0E
			0x46, // Responses 0x06
			0x47, 0x4C, s("c1"), 0x01, 0x4D, s("1:8"), 0x01, 0x4E, s("1"), 0x01, 0x01,
			0x48, 0x4D, s("1:5"), 0x01, 0x4E, s("1"), 0x01, 0x01,
			0x01, 0x01, 0x01, 0x01),
	},
	{
		// MS-ASPROV 4.1: the initial Provision request, with device
		// information (protocol 14.1 and later).
		name: "provision-request",
		tree: el("Provision", "Provision", "",
			el("DeviceInformation", "Settings", "",
				el("Set", "", "",
					el("Model", "", "Phone 9"),
					el("FriendlyName", "", "Jane's phone"),
					el("OS", "", "Android 14"),
					el("UserAgent", "", "MailApp/1.0"))),
			el("Policies", "", "",
				el("Policy", "", "", el("PolicyType", "", "MS-EAS-Provisioning-WBXML")))),
		data: easDoc(0x00, 0x0E, 0x45, // Provision 0x05
			0x00, 0x12, 0x56, 0x48, // Settings: DeviceInformation 0x16 Set 0x08
			0x57, s("Phone 9"), 0x01, // Model 0x17
			0x59, s("Jane's phone"), 0x01, // FriendlyName 0x19
			0x5A, s("Android 14"), 0x01, // OS 0x1A
			0x60, s("MailApp/1.0"), 0x01, // UserAgent 0x20
			0x01, 0x01,
			0x00, 0x0E, 0x46, 0x47, 0x48, s("MS-EAS-Provisioning-WBXML"), 0x01, 0x01, 0x01, // Policies 0x06 Policy 0x07 PolicyType 0x08
			0x01),
	},
	{
		name: "provision-response",
		tree: el("Provision", "Provision", "",
			el("Status", "", "1"),
			el("Policies", "", "",
				el("Policy", "", "",
					el("PolicyType", "", "MS-EAS-Provisioning-WBXML"),
					el("Status", "", "1"),
					el("PolicyKey", "", "1307199584"),
					el("Data", "", "",
						el("EASProvisionDoc", "", "",
							el("DevicePasswordEnabled", "", "0"),
							el("RequireStorageCardEncryption", "", "0"),
							el("AllowSimpleDevicePassword", "", "1"),
							el("MaxCalendarAgeFilter", "", "0"),
							el("AllowHTMLEmail", "", "1"),
							el("UnapprovedInROMApplicationList", "", "")))))),
		data: easDoc(0x00, 0x0E, 0x45,
			0x4B, s("1"), 0x01, // Status 0x0B
			0x46, 0x47, 0x48, s("MS-EAS-Provisioning-WBXML"), 0x01,
			0x4B, s("1"), 0x01,
			0x49, s("1307199584"), 0x01, // PolicyKey 0x09
			0x4A, 0x4D, // Data 0x0A EASProvisionDoc 0x0D
			0x4E, s("0"), 0x01, // DevicePasswordEnabled 0x0E
			0x50, s("0"), 0x01, // RequireStorageCardEncryption 0x10
			0x58, s("1"), 0x01, // AllowSimpleDevicePassword 0x18
			0x68, s("0"), 0x01, // MaxCalendarAgeFilter 0x28
			0x69, s("1"), 0x01, // AllowHTMLEmail 0x29
			0x37, // UnapprovedInROMApplicationList 0x37, empty
			0x01, 0x01, 0x01, 0x01, 0x01),
	},
	{
		name: "ping-request",
		tree: el("Ping", "Ping", "",
			el("HeartbeatInterval", "", "480"),
			el("Folders", "", "",
				el("Folder", "", "", el("Id", "", "1"), el("Class", "", "Contacts")),
				el("Folder", "", "", el("Id", "", "2"), el("Class", "", "Calendar")))),
		data: easDoc(0x00, 0x0D, 0x45, // Ping 0x05
			0x48, s("480"), 0x01, // HeartbeatInterval 0x08
			0x49,                                                      // Folders 0x09
			0x4A, 0x4B, s("1"), 0x01, 0x4C, s("Contacts"), 0x01, 0x01, // Folder 0x0A Id 0x0B Class 0x0C
			0x4A, 0x4B, s("2"), 0x01, 0x4C, s("Calendar"), 0x01, 0x01,
			0x01, 0x01),
	},
	{
		name: "ping-response",
		tree: el("Ping", "Ping", "",
			el("Status", "", "2"),
			el("Folders", "", "", el("Folder", "", "1"))),
		data: easDoc(0x00, 0x0D, 0x45, 0x47, s("2"), 0x01, 0x49, 0x4A, s("1"), 0x01, 0x01, 0x01), // Status 0x07
	},
	{
		// MS-ASCMD 2.2.1.9: protocol 14.0 and later put the SyncKey and
		// Options of AirSync in a GetItemEstimate Collection.
		name: "getitemestimate-request",
		tree: el("GetItemEstimate", "GetItemEstimate", "",
			el("Collections", "", "",
				el("Collection", "", "",
					el("SyncKey", "AirSync", "4"),
					el("CollectionId", "", "1"),
					el("Options", "AirSync", "", el("FilterType", "", "0"))))),
		data: easDoc(0x00, 0x06, 0x45, 0x47, 0x48, // GetItemEstimate 0x05 Collections 0x07 Collection 0x08
			0x00, 0x00, 0x4B, s("4"), 0x01, // AirSync SyncKey
			0x00, 0x06, 0x4A, s("1"), 0x01, // CollectionId 0x0A
			0x00, 0x00, 0x57, 0x58, s("0"), 0x01, 0x01, // AirSync Options 0x17 FilterType 0x18
			0x01, 0x01, 0x01),
	},
	{
		name: "getitemestimate-response",
		tree: el("GetItemEstimate", "GetItemEstimate", "",
			el("Response", "", "",
				el("Status", "", "1"),
				el("Collection", "", "",
					el("CollectionId", "", "1"),
					el("Estimate", "", "3")))),
		data: easDoc(0x00, 0x06, 0x45, 0x4D, 0x4E, s("1"), 0x01, // Response 0x0D Status 0x0E
			0x48, 0x4A, s("1"), 0x01, 0x4C, s("3"), 0x01, 0x01, // Estimate 0x0C
			0x01, 0x01),
	},
	{
		name: "settings-request",
		tree: el("Settings", "Settings", "",
			el("DeviceInformation", "", "",
				el("Set", "", "",
					el("Model", "", "Phone 9"),
					el("IMEI", "", "490154203237518"),
					el("OSLanguage", "", "English"),
					el("PhoneNumber", "", "+15550100"),
					el("MobileOperator", "", "Carrier"),
					el("EnableOutboundSMS", "", "0"))),
			el("UserInformation", "", "", el("Get", "", ""))),
		data: easDoc(0x00, 0x12, 0x45, 0x56, 0x48, // Settings 0x05 DeviceInformation 0x16 Set 0x08
			0x57, s("Phone 9"), 0x01,
			0x58, s("490154203237518"), 0x01, // IMEI 0x18
			0x5B, s("English"), 0x01, // OSLanguage 0x1B
			0x5C, s("+15550100"), 0x01, // PhoneNumber 0x1C
			0x62, s("Carrier"), 0x01, // MobileOperator 0x22
			0x61, s("0"), 0x01, // EnableOutboundSMS 0x21
			0x01, 0x01,
			0x5D, 0x07, 0x01, // UserInformation 0x1D Get 0x07
			0x01),
	},
	{
		name: "settings-response",
		tree: el("Settings", "Settings", "",
			el("Status", "", "1"),
			el("DeviceInformation", "", "", el("Status", "", "1")),
			el("UserInformation", "", "",
				el("Status", "", "1"),
				el("Get", "", "",
					el("Accounts", "", "",
						el("Account", "", "",
							el("UserDisplayName", "", "Jane Doe"),
							el("EmailAddresses", "", "",
								el("SMTPAddress", "", "jane@example.org"),
								el("PrimarySmtpAddress", "", "jane@example.org"))))))),
		data: easDoc(0x00, 0x12, 0x45, 0x46, s("1"), 0x01, // Status 0x06
			0x56, 0x46, s("1"), 0x01, 0x01,
			0x5D, 0x46, s("1"), 0x01,
			0x47, 0x64, 0x65, // Get Accounts 0x24 Account 0x25
			0x68, s("Jane Doe"), 0x01, // UserDisplayName 0x28
			0x5E, 0x5F, s("jane@example.org"), 0x01, // EmailAddresses 0x1E SMTPAddress 0x1F
			0x63, s("jane@example.org"), 0x01, 0x01, // PrimarySmtpAddress 0x23
			0x01, 0x01, 0x01, 0x01, 0x01),
	},
	{
		name: "itemoperations-fetch-request",
		tree: el("ItemOperations", "ItemOperations", "",
			el("Fetch", "", "",
				el("Store", "", "Mailbox"),
				el("CollectionId", "AirSync", "1"),
				el("ServerId", "AirSync", "1:5"),
				el("Options", "", "",
					el("BodyPreference", "AirSyncBase", "",
						el("Type", "", "1"),
						el("TruncationSize", "", "5120"))))),
		data: easDoc(0x00, 0x14, 0x45, 0x46, // ItemOperations 0x05 Fetch 0x06
			0x47, s("Mailbox"), 0x01, // Store 0x07
			0x00, 0x00, 0x52, s("1"), 0x01, 0x4D, s("1:5"), 0x01,
			0x00, 0x14, 0x48, // Options 0x08
			0x00, 0x11, 0x45, 0x46, s("1"), 0x01, 0x47, s("5120"), 0x01, 0x01, // BodyPreference 0x05 Type 0x06 TruncationSize 0x07
			0x01, 0x01, 0x01),
	},
	{
		// A fetched email: email2:ConversationId is a byte array, sent
		// as OPAQUE (MS-ASEMAIL 2.2.2.16, MS-ASDTYPE 2.7.1).
		name: "itemoperations-fetch-response",
		tree: el("ItemOperations", "ItemOperations", "",
			el("Status", "", "1"),
			el("Response", "", "",
				el("Fetch", "", "",
					el("Status", "", "1"),
					el("CollectionId", "AirSync", "1"),
					el("ServerId", "AirSync", "1:5"),
					el("Class", "AirSync", "Email"),
					el("Properties", "", "",
						el("Subject", "Email", "Lunch?"),
						el("Read", "Email", "0"),
						el("Body", "AirSyncBase", "",
							el("Type", "", "1"),
							el("EstimatedDataSize", "", "5"),
							el("Data", "", "Noon?")),
						opaque(el("ConversationId", "Email2", "\x8a\x1f\x00\x35\xc2\x77\x10\x4e\x9b\x05\xd0\xe3\x42\x61\x7f\x01")))))),
		data: easDoc(0x00, 0x14, 0x45, 0x4D, s("1"), 0x01, // Status 0x0D
			0x4E, 0x46, 0x4D, s("1"), 0x01, // Response 0x0E Fetch
			0x00, 0x00, 0x52, s("1"), 0x01, 0x4D, s("1:5"), 0x01, 0x50, s("Email"), 0x01, // Class 0x10
			0x00, 0x14, 0x4B, // Properties 0x0B
			0x00, 0x02, 0x54, s("Lunch?"), 0x01, 0x55, s("0"), 0x01, // Email Subject 0x14 Read 0x15
			0x00, 0x11, 0x4A, 0x46, s("1"), 0x01, 0x4C, s("5"), 0x01, 0x4B, s("Noon?"), 0x01, 0x01, // Body 0x0A Data 0x0B
			0x00, 0x16, 0x49, 0xC3, 0x10, "\x8a\x1f\x00\x35\xc2\x77\x10\x4e\x9b\x05\xd0\xe3\x42\x61\x7f\x01", 0x01, // Email2 ConversationId 0x09
			0x01, 0x01, 0x01, 0x01),
	},
}

func hexBytes(h string) []byte {
	var b []byte
	for _, f := range strings.Fields(h) {
		v, err := strconv.ParseUint(f, 16, 8)
		if err != nil {
			panic(err)
		}
		b = append(b, byte(v))
	}
	return b
}

func TestEASVectors(t *testing.T) {
	for _, v := range easVectors {
		got, err := EncodeEAS(v.tree)
		if err != nil {
			t.Errorf("%s: encode: %v", v.name, err)
			continue
		}
		if !bytes.Equal(got, v.data) {
			t.Errorf("%s: encoding differs\n got % X\nwant % X", v.name, got, v.data)
		}
		n, err := DecodeEAS(v.data)
		if err != nil {
			t.Errorf("%s: decode: %v", v.name, err)
			continue
		}
		if g, w := Format(n), Format(v.tree); g != w {
			t.Errorf("%s: decoded tree differs\n--- got\n%s--- want\n%s", v.name, g, w)
		}
		n2, doc, err := Decode(v.data)
		if err != nil || doc != EAS {
			t.Errorf("%s: Decode: doc %v, %v", v.name, doc, err)
			continue
		}
		if g, w := Format(n2), Format(v.tree); g != w {
			t.Errorf("%s: Decode's tree differs\n--- got\n%s--- want\n%s", v.name, g, w)
		}
		if b, err := Encode(n2, EAS); err != nil || !bytes.Equal(b, v.data) {
			t.Errorf("%s: Encode(EAS) of the decoded tree: %v\n got % X", v.name, err, b)
		}
	}
}

// TestEASTokens checks tokens of every code page against the MS-ASWBXML
// 2.1.2.1 tables: the first and last tag of each page and tags around
// its gaps. Each case is a one-element document <page:tag/>.
func TestEASTokens(t *testing.T) {
	cases := []struct {
		page    string
		num     byte
		tag     string
		token   byte
		comment string
	}{
		{"AirSync", 0, "Sync", 0x05, ""},
		{"AirSync", 0, "CollectionId", 0x12, "after the unused 0x11"},
		{"AirSync", 0, "Collections", 0x1C, ""},
		{"AirSync", 0, "HeartbeatInterval", 0x29, ""},
		{"Contacts", 1, "Anniversary", 0x05, ""},
		{"Contacts", 1, "Email1Address", 0x1B, ""},
		{"Contacts", 1, "WeightedRank", 0x3E, ""},
		{"Email", 2, "DateReceived", 0x0F, ""},
		{"Email", 2, "MessageClass", 0x13, ""},
		{"Email", 2, "DisallowNewTimeProposal", 0x3F, ""},
		{"Calendar", 4, "TimeZone", 0x05, ""},
		{"Calendar", 4, "UID", 0x28, ""},
		{"Calendar", 4, "AttendeeType", 0x2A, ""},
		{"Calendar", 4, "DisallowNewTimeProposal", 0x33, "after the unused 0x2B-0x32"},
		{"Calendar", 4, "ClientUid", 0x3C, ""},
		{"Move", 5, "MoveItems", 0x05, ""},
		{"Move", 5, "DstMsgId", 0x0C, ""},
		{"GetItemEstimate", 6, "GetItemEstimate", 0x05, ""},
		{"GetItemEstimate", 6, "Status", 0x0E, ""},
		{"FolderHierarchy", 7, "DisplayName", 0x07, ""},
		{"FolderHierarchy", 7, "FolderSync", 0x16, ""},
		{"FolderHierarchy", 7, "Count", 0x17, ""},
		{"MeetingResponse", 8, "MeetingResponse", 0x07, ""},
		{"MeetingResponse", 8, "InstanceId", 0x0E, ""},
		{"MeetingResponse", 8, "ProposedStartTime", 0x10, "after the unused 0x0F"},
		{"MeetingResponse", 8, "SendResponse", 0x12, ""},
		{"Tasks", 9, "Complete", 0x0A, ""},
		{"Tasks", 9, "FirstDayOfWeek", 0x26, ""},
		{"ResolveRecipients", 10, "ResolveRecipients", 0x05, ""},
		{"ResolveRecipients", 10, "MaxPictures", 0x1D, ""},
		{"ValidateCert", 11, "ValidateCert", 0x05, ""},
		{"ValidateCert", 11, "Status", 0x0A, ""},
		{"Contacts2", 12, "CustomerId", 0x05, ""},
		{"Contacts2", 12, "MMS", 0x0E, ""},
		{"Ping", 13, "Ping", 0x05, ""},
		{"Ping", 13, "MaxFolders", 0x0D, ""},
		{"Provision", 14, "EASProvisionDoc", 0x0D, ""},
		{"Provision", 14, "AttachmentsEnabled", 0x13, "after the unused 0x12"},
		{"Provision", 14, "Hash", 0x3A, ""},
		{"Provision", 14, "AccountOnlyRemoteWipe", 0x3B, ""},
		{"Search", 15, "Search", 0x05, ""},
		{"Search", 15, "DeepTraversal", 0x17, ""},
		{"Search", 15, "MaxPictures", 0x23, ""},
		{"GAL", 16, "DisplayName", 0x05, ""},
		{"GAL", 16, "Data", 0x12, ""},
		{"AirSyncBase", 17, "BodyPreference", 0x05, ""},
		{"AirSyncBase", 17, "Body", 0x0A, "after the unused 0x09"},
		{"AirSyncBase", 17, "NativeBodyType", 0x16, ""},
		{"AirSyncBase", 17, "InstanceId", 0x2D, ""},
		{"Settings", 18, "Oof", 0x09, ""},
		{"Settings", 18, "SendDisabled", 0x29, ""},
		{"Settings", 18, "RightsManagementInformation", 0x2B, "after the unused 0x2A"},
		{"DocumentLibrary", 19, "LinkId", 0x05, ""},
		{"DocumentLibrary", 19, "ContentType", 0x0C, ""},
		{"ItemOperations", 20, "ItemOperations", 0x05, ""},
		{"ItemOperations", 20, "EmptyFolderContents", 0x12, ""},
		{"ItemOperations", 20, "MoveAlways", 0x19, ""},
		{"ComposeMail", 21, "SendMail", 0x05, ""},
		{"ComposeMail", 21, "Source", 0x0B, "after the unused 0x0A"},
		{"ComposeMail", 21, "AccountId", 0x13, ""},
		{"ComposeMail", 21, "Forwardees", 0x15, "after the unused 0x14"},
		{"ComposeMail", 21, "ForwardeeEmail", 0x18, ""},
		{"Email2", 22, "UmCallerID", 0x05, ""},
		{"Email2", 22, "MeetingMessageType", 0x13, ""},
		{"Email2", 22, "IsDraft", 0x15, "after the unused 0x14"},
		{"Email2", 22, "Send", 0x17, ""},
		{"Notes", 23, "Subject", 0x05, ""},
		{"Notes", 23, "Category", 0x09, ""},
		{"RightsManagement", 24, "RightsManagementSupport", 0x05, ""},
		{"RightsManagement", 24, "RemoveRightsManagementDistribution", 0x18, ""},
		{"Find", 25, "Find", 0x05, ""},
		{"Find", 25, "DeepTraversal", 0x0E, ""},
		{"Find", 25, "Response", 0x11, "after the unused 0x0F-0x10"},
		{"Find", 25, "GalSearchCriterion", 0x19, ""},
		{"Find", 25, "MaxPictures", 0x20, "after the unused 0x1A-0x1F"},
		{"Find", 25, "Picture", 0x22, ""},
	}
	for _, c := range cases {
		var want []byte
		if c.num == 0 {
			want = easDoc(int(c.token))
		} else {
			want = easDoc(0x00, int(c.num), int(c.token))
		}
		got, err := EncodeEAS(el(c.tag, c.page, ""))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s:%s: got % X (%v), want % X %s", c.page, c.tag, got, err, want, c.comment)
			continue
		}
		n, err := DecodeEAS(want)
		if err != nil || n.Name != c.tag || n.NS != c.page {
			t.Errorf("%s:%s: decodes to %v (%v)", c.page, c.tag, n, err)
		}
	}
}

// TestEASTables checks the shape of the tables: pages numbered as
// MS-ASWBXML 2.1.2.1 lists them, tokens in 0x05-0x3F, no name twice on a
// page.
func TestEASTables(t *testing.T) {
	want := []string{0: "AirSync", 1: "Contacts", 2: "Email", 4: "Calendar", 5: "Move", 6: "GetItemEstimate",
		7: "FolderHierarchy", 8: "MeetingResponse", 9: "Tasks", 10: "ResolveRecipients", 11: "ValidateCert",
		12: "Contacts2", 13: "Ping", 14: "Provision", 15: "Search", 16: "GAL", 17: "AirSyncBase", 18: "Settings",
		19: "DocumentLibrary", 20: "ItemOperations", 21: "ComposeMail", 22: "Email2", 23: "Notes",
		24: "RightsManagement", 25: "Find"}
	for num, name := range want {
		p := easPageByNum[num]
		if name == "" {
			if p != nil {
				t.Errorf("page %d is %s, want none", num, p.name)
			}
			continue
		}
		if p == nil || p.name != name || easPageByName[name] != p {
			t.Errorf("page %d: got %v, want %s", num, p, name)
			continue
		}
		seen := map[string]bool{}
		for tok, tag := range p.tags {
			if tag == "" {
				continue
			}
			if tok < 0x05 {
				t.Errorf("%s: %s has global token 0x%02X", name, tag, tok)
			}
			if seen[tag] {
				t.Errorf("%s: %s twice", name, tag)
			}
			seen[tag] = true
		}
	}
	if len(easPages) != 25 {
		t.Errorf("%d pages, want 25", len(easPages))
	}
}

func TestEASUnknownToken(t *testing.T) {
	// AirSync 0x11 (Version, long gone) and Calendar 0x2B are not in the
	// 16.1 tables.
	data := easDoc(0x45, 0x51, s("2.5"), 0x01, 0x00, 0x04, 0x2B, 0x01)
	n, err := DecodeEAS(data)
	if err != nil {
		t.Fatal(err)
	}
	want := el("Sync", "AirSync", "", el("unknown-0x11", "", "2.5"), el("unknown-0x2B", "Calendar", ""))
	if g, w := Format(n), Format(want); g != w {
		t.Fatalf("got\n%swant\n%s", g, w)
	}
	b, err := EncodeEAS(n)
	if err != nil || !bytes.Equal(b, data) {
		t.Errorf("re-encoding: % X (%v), want % X", b, err, data)
	}
}

func TestEASDecodeErrors(t *testing.T) {
	cases := []struct {
		name, want string
		data       []byte
	}{
		{"page 3", "code page 3", easDoc(0x00, 0x03, 0x45, 0x01)},
		{"page 26", "code page 26", easDoc(0x45, 0x00, 0x1A, 0x45, 0x01, 0x01)},
		{"literal", "LITERAL", easDoc(0x45, 0x44, 0x00, 0x01, 0x01)},
		{"global token as root", "where a tag belongs", easDoc(0x03, "x", 0x00)},
		{"no root", "no root", easDoc()},
		{"truncated", "truncated", easDoc(0x45, 0x4B, s("1"))},
		{"opaque past end", "truncated", easDoc(0x45, 0xC3, 0x10, "ab", 0x01)},
	}
	for _, c := range cases {
		_, err := DecodeEAS(c.data)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
	deep := easDoc()
	for i := 0; i < maxDepth+1; i++ {
		deep = append(deep, 0x5D) // ApplicationData
	}
	for i := 0; i < maxDepth+1; i++ {
		deep = append(deep, 0x01)
	}
	if _, err := DecodeEAS(deep); !errors.Is(err, ErrTooDeep) {
		t.Errorf("deep: got %v, want ErrTooDeep", err)
	}
}

func TestEASEncodeErrors(t *testing.T) {
	cases := []struct {
		name, want string
		root       *Node
	}{
		{"unknown page", "not an ActiveSync code page", el("Sync", "AirNotify", "")},
		{"SyncML namespace", "not an ActiveSync code page", el("SyncML", "SYNCML:SYNCML1.2", "")},
		{"tag not on page", "not on ActiveSync code page Ping", el("Ping", "Ping", "", el("SyncKey", "", "1"))},
		{"bad unknown name", "not on ActiveSync code page AirSync", el("unknown-0x02", "", "")},
		{"no name", "without a name", el("Sync", "", "", el("", "", ""))},
		{"nil child", "nil node", el("Sync", "", "", nil)},
	}
	for _, c := range cases {
		_, err := EncodeEAS(c.root)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", c.name, err, c.want)
		}
	}
}

// TestEASOpaque: Opaque text is written as OPAQUE even when it is valid
// UTF-8, and text an inline string cannot carry is OPAQUE anyway.
func TestEASOpaque(t *testing.T) {
	for _, c := range []struct {
		n    *Node
		want []byte
	}{
		{opaque(el("Mime", "ComposeMail", "Subject: x\r\n\r\nhi")), easDoc(0x00, 0x15, 0x50, 0xC3, 0x10, "Subject: x\r\n\r\nhi", 0x01)},
		{opaque(el("Mime", "ComposeMail", "")), easDoc(0x00, 0x15, 0x50, 0xC3, 0x00, 0x01)},
		{el("Mime", "ComposeMail", "a\x00b"), easDoc(0x00, 0x15, 0x50, 0xC3, 0x03, "a\x00b", 0x01)},
	} {
		got, err := EncodeEAS(c.n)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%q: got % X (%v), want % X", c.n.Text, got, err, c.want)
			continue
		}
		n, err := DecodeEAS(got)
		if err != nil || !n.Opaque || n.Text != c.n.Text {
			t.Errorf("%q: decodes to %+v (%v)", c.n.Text, n, err)
		}
	}
	// Mixed pieces are not Opaque.
	n, err := DecodeEAS(easDoc(0x00, 0x15, 0x50, s("a"), 0xC3, 0x01, "b", 0x01))
	if err != nil || n.Opaque || n.Text != "ab" {
		t.Errorf("mixed: %+v (%v)", n, err)
	}
}

// TestDecodeTellsEAS: public id 1 is shared by ActiveSync and some SyncML
// phones; the root decides.
func TestDecodeTellsEAS(t *testing.T) {
	syncml := bs(0x03, 0x01, 0x6A, 0x00, headerOnlyBody("1.2"))
	if _, doc, err := Decode(syncml); err != nil || doc != SyncML12 {
		t.Errorf("SyncML with public id 1: %v, %v", doc, err)
	}
	if _, doc, err := Decode(easVectors[1].data); err != nil || doc != EAS {
		t.Errorf("FolderSync: %v, %v", doc, err)
	}
	// An ActiveSync body under a SyncML public id is not ActiveSync.
	if _, _, err := Decode(bs(0x03, 0x9F, 0x53, 0x6A, 0x00, 0x00, 0x07, 0x56, 0x01)); err == nil {
		t.Error("FolderSync under the SyncML 1.1 public id decoded")
	}
}

func TestFormat(t *testing.T) {
	n := el("Sync", "AirSync", "",
		el("SyncKey", "", "1"),
		el("GetChanges", "", ""),
		el("FileAs", "Contacts", "Doe & <Jane>"),
		opaque(el("ConversationId", "Email2", "\x01\xff")),
		opaque(el("Mime", "ComposeMail", "hi")))
	want := `<AirSync:Sync>
  <AirSync:SyncKey>1</AirSync:SyncKey>
  <AirSync:GetChanges/>
  <Contacts:FileAs>Doe &amp; &lt;Jane&gt;</Contacts:FileAs>
  <Email2:ConversationId opaque="hex">01ff</Email2:ConversationId>
  <ComposeMail:Mime opaque="">hi</ComposeMail:Mime>
</AirSync:Sync>
`
	if got := n.String(); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

func TestEASTruncated(t *testing.T) {
	for _, v := range easVectors {
		for i := 0; i < len(v.data); i++ {
			if n, err := DecodeEAS(v.data[:i]); err == nil {
				t.Errorf("%s truncated to %d bytes: no error\n%s", v.name, i, Format(n))
			}
		}
	}
}

func TestEASCorrupted(t *testing.T) {
	for _, v := range easVectors {
		buf := make([]byte, len(v.data))
		for i := range v.data {
			for _, x := range []byte{0x00, 0x01, 0x04, 0x1A, 0xC3, 0xFF, v.data[i] ^ 0x40} {
				copy(buf, v.data)
				buf[i] = x
				checkDecodeEAS(t, buf)
			}
		}
	}
}

// checkDecodeEAS is the fuzz property: decoding never panics, a decoded
// tree encodes to a document that decodes to the same names and text
// (Opaque may become set: text that STR_I cannot carry is written as
// OPAQUE), and that encoding is a fixed point of decode and encode.
// Decode agrees with DecodeEAS on what it takes for ActiveSync.
func checkDecodeEAS(t *testing.T, data []byte) {
	n1, err := DecodeEAS(data)
	if err != nil {
		return
	}
	b1, err := EncodeEAS(n1)
	if err != nil {
		t.Fatalf("encoding a decoded tree: %v\ninput % X\n%s", err, data, Format(n1))
	}
	n2, err := DecodeEAS(b1)
	if err != nil {
		t.Fatalf("re-decoding our own encoding: %v\ninput % X\nencoding % X", err, data, b1)
	}
	if g, w := dump(n2), dump(n1); g != w {
		t.Fatalf("tree changed\ninput % X\n--- first\n%s--- second\n%s", data, w, g)
	}
	b2, err := EncodeEAS(n2)
	if err != nil || !bytes.Equal(b1, b2) {
		t.Fatalf("not a fixed point: % X then % X (%v)", b1, b2, err)
	}
	n3, doc, err := Decode(b1)
	if err == nil && doc == EAS && Format(n3) != Format(n2) {
		t.Fatalf("Decode and DecodeEAS differ\n%s\n%s", Format(n3), Format(n2))
	}
	if root := b1[4:]; !(root[0]&maskTag == 0x0A || root[0]&maskTag == 0x2D) && (err != nil || doc != EAS) {
		t.Fatalf("Decode of an ActiveSync encoding: %v, %v\n% X", doc, err, b1)
	}
}

func FuzzDecodeEAS(f *testing.F) {
	for _, v := range easVectors {
		f.Add(v.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecodeEAS(t, data)
	})
}

// TestWriteFuzzCorpusEAS writes the seed corpus under
// testdata/fuzz/FuzzDecodeEAS (go test -run TestWriteFuzzCorpusEAS
// -update-corpus).
func TestWriteFuzzCorpusEAS(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to rewrite the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeEAS")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range easVectors {
		body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(v.data)) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, v.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEASTokensChecked pins the runs of tokens that were checked one by one
// against MS-ASWBXML 2.1.2.1 and the tables of Microsoft's MS-ASWBXML codec
// (Exchange Interop test suites), libwbxml and EAS-4-TbSync: every token of
// each run encodes and decodes as listed, and a "" is a token the page
// leaves unassigned, which decodes to its unknown-0xNN name and has no tag
// that encodes to it.
func TestEASTokensChecked(t *testing.T) {
	pages := []struct {
		page  string
		num   byte
		first byte
		tags  []string
	}{
		{"AirSyncBase", 17, 0x1C, []string{"Add", "Delete", "ClientId", "Content", "Location",
			"Annotation", "Street", "City", "State", "Country", "PostalCode", "Latitude", "Longitude",
			"Accuracy", "Altitude", "AltitudeAccuracy", "LocationUri", "InstanceId"}},
		{"Email2", 22, 0x14, []string{"", "IsDraft", "Bcc", "Send"}},
		{"ComposeMail", 21, 0x14, []string{"", "Forwardees", "Forwardee", "ForwardeeName", "ForwardeeEmail"}},
		{"MeetingResponse", 8, 0x0E, []string{"InstanceId", "", "ProposedStartTime", "ProposedEndTime", "SendResponse"}},
		{"Calendar", 4, 0x3B, []string{"OnlineMeetingExternalLink", "ClientUid"}},
		{"Provision", 14, 0x3A, []string{"Hash", "AccountOnlyRemoteWipe"}},
		{"Search", 15, 0x05, []string{"Search", "", "Store"}},
		{"Search", 15, 0x15, []string{"FreeText", "", "DeepTraversal"}},
	}
	for _, p := range pages {
		t.Run(fmt.Sprintf("%s-%02X", p.page, p.first), func(t *testing.T) {
			for i, tag := range p.tags {
				token := p.first + byte(i)
				doc := easDoc(0x00, int(p.num), int(token))
				n, err := DecodeEAS(doc)
				if tag == "" {
					want := fmt.Sprintf("unknown-0x%02X", token)
					if err != nil || n.Name != want {
						t.Errorf("0x%02X: decodes to %v (%v), want %s", token, n, err, want)
					}
					continue
				}
				if err != nil || n.Name != tag || n.NS != p.page {
					t.Errorf("0x%02X: decodes to %v (%v), want %s", token, n, err, tag)
				}
				got, err := EncodeEAS(el(tag, p.page, ""))
				if err != nil || !bytes.Equal(got, doc) {
					t.Errorf("%s: encodes to % X (%v), want % X", tag, got, err, doc)
				}
			}
		})
	}
	for _, name := range []string{"Stores", "SubstringOp"} {
		if b, err := EncodeEAS(el(name, "Search", "")); err == nil {
			t.Errorf("Search:%s encodes to % X, want an error: the page has no such tag", name, b)
		}
	}
}
