package eas

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Request is what the URI and headers of an ActiveSync request say
// (MS-ASHTTP 2.2.1.1): the command, the device, the protocol version and
// the policy key, in either of the URI's two forms.
type Request struct {
	Cmd        string
	User       string
	DeviceID   string
	DeviceType string
	// Version is the protocol version, "14.1" etc.
	Version string
	// PolicyKey is the client's policy key; HasPolicyKey tells a key of 0
	// from none.
	PolicyKey    uint32
	HasPolicyKey bool
	// Locale is the base64 form's locale (0: not given).
	Locale uint16
	// Params are the command's other parameters (CollectionId, ItemId,
	// SaveInSent, AcceptMultiPart...).
	Params map[string]string
}

// commandCodes are the base64 form's command codes (MS-ASHTTP
// 2.2.1.1.1.1.2).
var commandCodes = map[byte]string{
	0: "Sync", 1: "SendMail", 2: "SmartForward", 3: "SmartReply", 4: "GetAttachment",
	9: "FolderSync", 10: "FolderCreate", 11: "FolderDelete", 12: "FolderUpdate", 13: "MoveItems",
	14: "GetItemEstimate", 15: "MeetingResponse", 16: "Search", 17: "Settings", 18: "Ping",
	19: "ItemOperations", 20: "Provision", 21: "ResolveRecipients", 22: "ValidateCert", 23: "Find",
}

// paramTags are the base64 form's parameter tags (MS-ASHTTP
// 2.2.1.1.1.1.3).
var paramTags = map[byte]string{
	0: "AttachmentName", 1: "CollectionId", 3: "ItemId", 4: "LongId", 6: "Occurrence", 7: "Options", 8: "User",
}

// errQuery is a request URI that names no command or device.
var errQuery = errors.New("eas: bad request URI")

// ParseRequest reads the URI's query (plain or base64) and the headers
// MS-ASProtocolVersion and X-MS-PolicyKey, which the plain form uses.
func ParseRequest(rawQuery string, header func(string) string) (*Request, error) {
	// The plain form names its command (Cmd=); base64 has no "&" and
	// at most the padding's "=".
	if !strings.Contains(rawQuery, "Cmd=") && !strings.Contains(rawQuery, "&") {
		return parseBase64(rawQuery)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errQuery, err)
	}
	r := &Request{Cmd: q.Get("Cmd"), User: q.Get("User"), DeviceID: q.Get("DeviceId"), DeviceType: q.Get("DeviceType"),
		Version: strings.TrimSpace(header("MS-ASProtocolVersion")), Params: map[string]string{}}
	for k, v := range q {
		switch k {
		case "Cmd", "User", "DeviceId", "DeviceType":
		default:
			r.Params[k] = v[0]
		}
	}
	if k := strings.TrimSpace(header("X-MS-PolicyKey")); k != "" {
		n, err := strconv.ParseUint(k, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: X-MS-PolicyKey %q is no 32-bit number", errQuery, k)
		}
		r.PolicyKey, r.HasPolicyKey = uint32(n), true
	}
	return r, r.check()
}

// parseBase64 reads the base64 form (MS-ASHTTP 2.2.1.1.1.1).
func parseBase64(s string) (*Request, error) {
	s, err := url.QueryUnescape(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errQuery, err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return nil, fmt.Errorf("%w: not base64", errQuery)
		}
	}
	rd := byteReader{b: b}
	ver, cmd := rd.byte(), rd.byte()
	r := &Request{Params: map[string]string{}}
	r.Version = fmt.Sprintf("%d.%d", ver/10, ver%10)
	name, ok := commandCodes[cmd]
	if !ok && rd.err == nil {
		return nil, fmt.Errorf("%w: unknown command code %d", errQuery, cmd)
	}
	r.Cmd = name
	if lo := rd.take(2); len(lo) == 2 {
		r.Locale = binary.LittleEndian.Uint16(lo)
	}
	r.DeviceID = deviceIDOf(rd.take(int(rd.byte())))
	switch key := rd.take(int(rd.byte())); len(key) {
	case 0:
	case 4:
		r.PolicyKey, r.HasPolicyKey = binary.LittleEndian.Uint32(key), true
	default:
		return nil, fmt.Errorf("%w: a policy key of %d bytes", errQuery, len(key))
	}
	r.DeviceType = string(rd.take(int(rd.byte())))
	for rd.err == nil && rd.more() {
		tag := rd.byte()
		val := rd.take(int(rd.byte()))
		if rd.err != nil {
			break
		}
		switch name := paramTags[tag]; name {
		case "Options":
			if len(val) > 0 && val[0]&0x01 != 0 {
				r.Params["SaveInSent"] = "T"
			}
			if len(val) > 0 && val[0]&0x02 != 0 {
				r.Params["AcceptMultiPart"] = "T"
			}
		case "User":
			r.User = string(val)
		case "":
			r.Params[fmt.Sprintf("tag%d", tag)] = string(val)
		default:
			r.Params[name] = string(val)
		}
	}
	if rd.err != nil {
		return nil, fmt.Errorf("%w: the base64 query ends early", errQuery)
	}
	return r, r.check()
}

// deviceIDOf is a base64 query's device ID as the state's keys name it:
// as sent when it is printable, else in hex (some clients send the raw
// bytes of a GUID).
func deviceIDOf(b []byte) string {
	for _, c := range b {
		if c <= ' ' || c > '~' || c == '/' {
			return hex.EncodeToString(b)
		}
	}
	return string(b)
}

func (r *Request) check() error {
	switch {
	case r.Cmd == "":
		return fmt.Errorf("%w: no command", errQuery)
	case r.DeviceID == "":
		return fmt.Errorf("%w: no DeviceId", errQuery)
	case len(r.DeviceID) > 64 || strings.ContainsAny(r.DeviceID, "/\x00\r\n"):
		return fmt.Errorf("%w: DeviceId %q", errQuery, r.DeviceID)
	}
	return nil
}

// byteReader reads the base64 form's fields; past the end it reads
// nothing and remembers the error.
type byteReader struct {
	b   []byte
	err error
}

func (r *byteReader) more() bool { return len(r.b) > 0 }

func (r *byteReader) byte() byte {
	if len(r.b) == 0 {
		r.err = errQuery
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *byteReader) take(n int) []byte {
	if n > len(r.b) {
		r.err = errQuery
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
