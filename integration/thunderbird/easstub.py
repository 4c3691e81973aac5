#!/usr/bin/env python3
"""A recording Exchange ActiveSync stub, for capturing what a real client sends.

Listens on 127.0.0.1 only. Every request is written to --record DIR as
NNN-<METHOD>-<Cmd>.headers.txt (request line, then the headers as received)
and, when there is a body, NNN-<METHOD>-<Cmd>.wbxml (the body bytes), plus
NNN-<METHOD>-<Cmd>.xml, the body decoded for reading; a WBXML answer the
stub gave is kept as NNN-<METHOD>-<Cmd>.response.wbxml (and .response.xml).

OPTIONS is answered with the versions and commands of issue 18. A POST is
answered, with --answer=500, by HTTP 500; with --answer=minimal (default), by
a small hand-written WBXML answer for FolderSync (one Contacts, Calendar and
Tasks folder), Sync (SyncKey n -> n+1, client Adds answered with a ServerId;
with --seed, one contact, event and task sent once), GetItemEstimate (0), Settings and Provision (status 1); others 500.
This is a recorder, not a server: it keeps no items.

Python 3 standard library only. Token values from MS-ASWBXML 2.1.2.1.
"""

import argparse
import base64
import http.server
import os
import sys
import threading

PAGES = {
    0: ("AirSync", {0x05: "Sync", 0x06: "Responses", 0x07: "Add", 0x08: "Change", 0x09: "Delete", 0x0A: "Fetch",
                    0x0B: "SyncKey", 0x0C: "ClientId", 0x0D: "ServerId", 0x0E: "Status", 0x0F: "Collection",
                    0x10: "Class", 0x12: "CollectionId", 0x13: "GetChanges", 0x14: "MoreAvailable",
                    0x15: "WindowSize", 0x16: "Commands", 0x17: "Options", 0x18: "FilterType", 0x1B: "Conflict",
                    0x1C: "Collections", 0x1D: "ApplicationData", 0x1E: "DeletesAsMoves", 0x20: "Supported",
                    0x21: "SoftDelete", 0x22: "MIMESupport", 0x23: "MIMETruncation", 0x24: "Wait", 0x25: "Limit",
                    0x26: "Partial", 0x27: "ConversationMode", 0x28: "MaxItems", 0x29: "HeartbeatInterval"}),
    1: ("Contacts", {0x05: 'Anniversary', 0x06: 'AssistantName', 0x07: 'AssistantPhoneNumber', 0x08: 'Birthday', 0x09: 'Body', 0x0A: 'BodySize', 0x0B: 'BodyTruncated', 0x0C: 'Business2PhoneNumber', 0x0D: 'BusinessAddressCity', 0x0E: 'BusinessAddressCountry', 0x0F: 'BusinessAddressPostalCode', 0x10: 'BusinessAddressState', 0x11: 'BusinessAddressStreet', 0x12: 'BusinessFaxNumber', 0x13: 'BusinessPhoneNumber', 0x14: 'CarPhoneNumber', 0x15: 'Categories', 0x16: 'Category', 0x17: 'Children', 0x18: 'Child', 0x19: 'CompanyName', 0x1A: 'Department', 0x1B: 'Email1Address', 0x1C: 'Email2Address', 0x1D: 'Email3Address', 0x1E: 'FileAs', 0x1F: 'FirstName', 0x20: 'Home2PhoneNumber', 0x21: 'HomeAddressCity', 0x22: 'HomeAddressCountry', 0x23: 'HomeAddressPostalCode', 0x24: 'HomeAddressState', 0x25: 'HomeAddressStreet', 0x26: 'HomeFaxNumber', 0x27: 'HomePhoneNumber', 0x28: 'JobTitle', 0x29: 'LastName', 0x2A: 'MiddleName', 0x2B: 'MobilePhoneNumber', 0x2C: 'OfficeLocation', 0x2D: 'OtherAddressCity', 0x2E: 'OtherAddressCountry', 0x2F: 'OtherAddressPostalCode', 0x30: 'OtherAddressState', 0x31: 'OtherAddressStreet', 0x32: 'PagerNumber', 0x33: 'RadioPhoneNumber', 0x34: 'Spouse', 0x35: 'Suffix', 0x36: 'Title', 0x37: 'WebPage', 0x38: 'YomiCompanyName', 0x39: 'YomiFirstName', 0x3A: 'YomiLastName', 0x3B: 'CompressedRTF', 0x3C: 'Picture', 0x3D: 'Alias', 0x3E: 'WeightedRank'}),
    4: ("Calendar", {0x05: 'TimeZone', 0x06: 'AllDayEvent', 0x07: 'Attendees', 0x08: 'Attendee', 0x09: 'Email', 0x0A: 'Name', 0x0B: 'Body', 0x0C: 'BodyTruncated', 0x0D: 'BusyStatus', 0x0E: 'Categories', 0x0F: 'Category', 0x10: 'CompressedRTF', 0x11: 'DtStamp', 0x12: 'EndTime', 0x13: 'Exception', 0x14: 'Exceptions', 0x15: 'Deleted', 0x16: 'ExceptionStartTime', 0x17: 'Location', 0x18: 'MeetingStatus', 0x19: 'OrganizerEmail', 0x1A: 'OrganizerName', 0x1B: 'Recurrence', 0x1C: 'Type', 0x1D: 'Until', 0x1E: 'Occurrences', 0x1F: 'Interval', 0x20: 'DayOfWeek', 0x21: 'DayOfMonth', 0x22: 'WeekOfMonth', 0x23: 'MonthOfYear', 0x24: 'Reminder', 0x25: 'Sensitivity', 0x26: 'Subject', 0x27: 'StartTime', 0x28: 'UID', 0x29: 'AttendeeStatus', 0x2A: 'AttendeeType', 0x33: 'DisallowNewTimeProposal', 0x34: 'ResponseRequested', 0x35: 'AppointmentReplyTime', 0x36: 'ResponseType', 0x37: 'CalendarType', 0x38: 'IsLeapMonth', 0x39: 'FirstDayOfWeek', 0x3A: 'OnlineMeetingConfLink', 0x3B: 'OnlineMeetingExternalLink', 0x3C: 'ClientUid'}),
    9: ("Tasks", {0x05: 'Body', 0x06: 'BodySize', 0x07: 'BodyTruncated', 0x08: 'Categories', 0x09: 'Category', 0x0A: 'Complete', 0x0B: 'DateCompleted', 0x0C: 'DueDate', 0x0D: 'UtcDueDate', 0x0E: 'Importance', 0x0F: 'Recurrence', 0x10: 'Type', 0x11: 'Start', 0x12: 'Until', 0x13: 'Occurrences', 0x14: 'Interval', 0x15: 'DayOfMonth', 0x16: 'DayOfWeek', 0x17: 'WeekOfMonth', 0x18: 'MonthOfYear', 0x19: 'Regenerate', 0x1A: 'DeadOccur', 0x1B: 'ReminderSet', 0x1C: 'ReminderTime', 0x1D: 'Sensitivity', 0x1E: 'StartDate', 0x1F: 'UtcStartDate', 0x20: 'Subject', 0x22: 'OrdinalDate', 0x23: 'SubOrdinalDate', 0x24: 'CalendarType', 0x25: 'IsLeapMonth', 0x26: 'FirstDayOfWeek'}),
    12: ("Contacts2", {0x05: 'CustomerId', 0x06: 'GovernmentId', 0x07: 'IMAddress', 0x08: 'IMAddress2', 0x09: 'IMAddress3', 0x0A: 'ManagerName', 0x0B: 'CompanyMainPhone', 0x0C: 'AccountName', 0x0D: 'NickName', 0x0E: 'MMS'}),
    6: ("GetItemEstimate", {0x05: "GetItemEstimate", 0x06: "Version", 0x07: "Collections", 0x08: "Collection",
                            0x09: "Class", 0x0A: "CollectionId", 0x0B: "DateTime", 0x0C: "Estimate",
                            0x0D: "Response", 0x0E: "Status"}),
    7: ("FolderHierarchy", {0x07: "DisplayName", 0x08: "ServerId", 0x09: "ParentId", 0x0A: "Type", 0x0C: "Status",
                            0x0E: "Changes", 0x0F: "Add", 0x10: "Delete", 0x11: "Update", 0x12: "SyncKey",
                            0x13: "FolderCreate", 0x14: "FolderDelete", 0x15: "FolderUpdate", 0x16: "FolderSync",
                            0x17: "Count"}),
    13: ("Ping", {0x05: "Ping", 0x07: "Status", 0x08: "HeartbeatInterval", 0x09: "Folders", 0x0A: "Folder",
                  0x0B: "Id", 0x0C: "Class", 0x0D: "MaxFolders"}),
    14: ("Provision", {0x05: "Provision", 0x06: "Policies", 0x07: "Policy", 0x08: "PolicyType", 0x09: "PolicyKey",
                       0x0A: "Data", 0x0B: "Status", 0x0C: "RemoteWipe", 0x0D: "EASProvisionDoc",
                       0x0E: "DevicePasswordEnabled"}),
    17: ("AirSyncBase", {0x05: "BodyPreference", 0x06: "Type", 0x07: "TruncationSize", 0x08: "AllOrNone",
                         0x0A: "Body", 0x0B: "Data", 0x0C: "EstimatedDataSize", 0x0D: "Truncated",
                         0x16: "NativeBodyType"}),
    18: ("Settings", {0x05: "Settings", 0x06: "Status", 0x07: "Get", 0x08: "Set", 0x16: "DeviceInformation",
                      0x17: "Model", 0x18: "IMEI", 0x19: "FriendlyName", 0x1A: "OS", 0x1B: "OSLanguage",
                      0x1C: "PhoneNumber", 0x1D: "UserInformation", 0x20: "UserAgent",
                      0x21: "EnableOutboundSMS", 0x22: "MobileOperator"}),
    20: ("ItemOperations", {0x05: 'ItemOperations', 0x06: 'Fetch', 0x07: 'Store', 0x08: 'Options', 0x09: 'Range', 0x0A: 'Total', 0x0B: 'Properties', 0x0C: 'Data', 0x0D: 'Status', 0x0E: 'Response', 0x0F: 'Version', 0x10: 'Schema', 0x11: 'Part', 0x12: 'EmptyFolderContents', 0x13: 'DeleteSubFolders', 0x14: 'UserName', 0x15: 'Password', 0x16: 'Move', 0x17: 'DstFldId', 0x18: 'ConversationId', 0x19: 'MoveAlways'}),
}
TOKENS = {name: {t: n for n, t in toks.items()} for _, (name, toks) in PAGES.items()}
PAGE_OF = {name: cp for cp, (name, _) in PAGES.items()}


class Node:
    def __init__(self, page, tag):
        self.page, self.tag, self.children, self.text = page, tag, [], None

    def find(self, *path):
        """First descendant along path of tag names (page ignored)."""
        n = self
        for p in path:
            n = next((c for c in n.children if c.tag == p), None)
            if n is None:
                return None
        return n

    def findall(self, tag):
        return [c for c in self.children if c.tag == tag]

    def value(self, *path):
        n = self.find(*path)
        return n.text if n is not None else None


def decode(b):
    """WBXML 1.3 as EAS uses it: no attributes, inline strings and opaque data."""
    if len(b) < 4:
        raise ValueError("short WBXML")
    i, page = 4, 0
    root = Node(None, "#doc")
    stack = [root]
    while i < len(b):
        t = b[i]
        i += 1
        if t == 0x00:
            page = b[i]
            i += 1
        elif t == 0x01:
            stack.pop()
        elif t == 0x03:
            j = b.index(0, i)
            stack[-1].text = (stack[-1].text or "") + b[i:j].decode("utf-8", "replace")
            i = j + 1
        elif t == 0xC3:
            n = 0
            while True:
                c = b[i]
                i += 1
                n = (n << 7) | (c & 0x7F)
                if not c & 0x80:
                    break
            stack[-1].text = "[opaque %d bytes]" % n
            i += n
        else:
            name = PAGES.get(page, ("Page%d" % page, {}))
            tag = name[1].get(t & 0x3F, "0x%02X" % (t & 0x3F))
            n = Node(name[0], tag)
            stack[-1].children.append(n)
            if t & 0x40:
                stack.append(n)
    return root


def to_xml(n, depth=0, page=None):
    out = []
    for c in n.children:
        ns = ' xmlns="%s:"' % c.page if c.page != page else ""
        pad = "  " * depth
        if c.children:
            out.append("%s<%s%s>" % (pad, c.tag, ns))
            out.append(to_xml(c, depth + 1, c.page))
            out.append("%s</%s>" % (pad, c.tag))
        elif c.text is not None:
            out.append("%s<%s%s>%s</%s>" % (pad, c.tag, ns, c.text.replace("&", "&amp;").replace("<", "&lt;"), c.tag))
        else:
            out.append("%s<%s%s/>" % (pad, c.tag, ns))
    return "\n".join(x for x in out if x)


class W:
    """Writes WBXML: W().open("FolderSync", "FolderHierarchy").text("Status", "1")..."""

    def __init__(self):
        self.b = bytearray(b"\x03\x01\x6a\x00")
        self.page = 0
        self.stack = []

    def _tok(self, tag, page, content):
        page = self.page if page is None else PAGE_OF[page]
        if page != self.page:
            self.b += bytes([0x00, page])
            self.page = page
        self.b.append(TOKENS[PAGES[page][0]][tag] | (0x40 if content else 0))

    def open(self, tag, page=None):
        self._tok(tag, page, True)
        self.stack.append(tag)
        return self

    def close(self):
        self.stack.pop()
        self.b.append(0x01)
        return self

    def text(self, tag, s, page=None):
        self._tok(tag, page, True)
        self.b += b"\x03" + str(s).encode("utf-8") + b"\x00\x01"
        return self

    def page_reset(self, page):
        """Switch back to page for the tags that follow."""
        p = PAGE_OF[page]
        if p != self.page:
            self.b += bytes([0x00, p])
            self.page = p

    def bytes(self):
        while self.stack:
            self.close()
        return bytes(self.b)


FOLDERS = [("contacts", "Contacts", 9), ("calendar", "Calendar", 8), ("tasks", "Tasks", 7)]

# MS-ASDTYPE TimeZone: Bias, StandardName, StandardDate, StandardBias,
# DaylightName, DaylightDate, DaylightBias (172 bytes); all zero is UTC.
UTC_TZ = base64.b64encode(bytes(172)).decode()

# With --seed, the first GetChanges of each folder brings one item the
# "mailbox" holds, as an Exchange server would send it.
SEED = {
    "contacts": [("FileAs", "Contacts", "Server, Max"), ("FirstName", "Contacts", "Max"),
                 ("LastName", "Contacts", "Server"), ("Email1Address", "Contacts", "max@example.org")],
    "calendar": [("TimeZone", "Calendar", UTC_TZ), ("AllDayEvent", "Calendar", "0"),
                 ("BusyStatus", "Calendar", "2"), ("DtStamp", "Calendar", "20260101T000000Z"),
                 ("EndTime", "Calendar", "20270201T100000Z"), ("Sensitivity", "Calendar", "0"),
                 ("Subject", "Calendar", "Server event"), ("StartTime", "Calendar", "20270201T090000Z"),
                 ("UID", "Calendar", "server-event-1@example.org"), ("MeetingStatus", "Calendar", "0")],
    "tasks": [("Subject", "Tasks", "Server task"), ("Importance", "Tasks", "1"),
              ("UtcDueDate", "Tasks", "2027-02-02T12:00:00.000Z"), ("DueDate", "Tasks", "2027-02-02T12:00:00.000Z"),
              ("Complete", "Tasks", "0"), ("Sensitivity", "Tasks", "0"), ("ReminderSet", "Tasks", "0")],
}


def answer(cmd, req, seeded=None):
    """A minimal valid answer, or None for HTTP 500. seeded: set of folders
    whose seed item was sent (None: send none)."""
    if cmd == "FolderSync":
        key = req.value("FolderSync", "SyncKey") or "0"
        w = W().open("FolderSync", "FolderHierarchy").text("Status", "1")
        if key == "0":
            w.text("SyncKey", "1").open("Changes").text("Count", str(len(FOLDERS)))
            for sid, name, typ in FOLDERS:
                w.open("Add").text("ServerId", sid).text("ParentId", "0").text("DisplayName", name).text("Type", typ).close()
            w.close()
        else:
            w.text("SyncKey", key).open("Changes").text("Count", "0").close()
        return w.bytes()
    if cmd == "Sync":
        w = W().open("Sync", "AirSync").open("Collections")
        for col in (req.find("Sync", "Collections") or Node(None, "")).findall("Collection"):
            key = col.value("SyncKey") or "0"
            nxt = "1" if key == "0" else str(int(key) + 1 if key.isdigit() else 1)
            cid_ = col.value("CollectionId") or ""
            w.open("Collection").text("SyncKey", nxt).text("CollectionId", cid_).text("Status", "1")
            if seeded is not None and key != "0" and col.find("GetChanges") is not None \
                    and cid_ in SEED and cid_ not in seeded:
                seeded.add(cid_)
                w.open("Commands").open("Add", "AirSync").text("ServerId", "seed-" + cid_).open("ApplicationData")
                for tag, page, val in SEED[cid_]:
                    w.text(tag, val, page)
                w.close().close().close()
                w.page_reset("AirSync")
            adds = (col.find("Commands") or Node(None, "")).findall("Add")
            if adds:
                w.open("Responses")
                for a in adds:
                    cid = a.value("ClientId") or ""
                    w.open("Add").text("ClientId", cid).text("ServerId", "s-" + cid).text("Status", "1").close()
                # MS-ASCMD 2.2.3.24: a successful Change needs no response.
                w.close()
            w.close()
        return w.bytes()
    if cmd == "GetItemEstimate":
        w = W().open("GetItemEstimate", "GetItemEstimate")
        for col in (req.find("GetItemEstimate", "Collections") or Node(None, "")).findall("Collection"):
            w.open("Response").text("Status", "1").open("Collection")
            w.text("CollectionId", col.value("CollectionId") or "").text("Estimate", "0").close().close()
        return w.bytes()
    if cmd == "Settings":
        w = W().open("Settings", "Settings").text("Status", "1")
        if req.find("Settings", "DeviceInformation") is not None:
            w.open("DeviceInformation").text("Status", "1").close()
        if req.find("Settings", "UserInformation") is not None:
            w.open("UserInformation").text("Status", "1").close()
        return w.bytes()
    if cmd == "Provision":
        ack = req.value("Provision", "Policies", "Policy", "PolicyKey")
        w = W().open("Provision", "Provision").text("Status", "1").open("Policies").open("Policy")
        w.text("PolicyType", "MS-EAS-Provisioning-WBXML").text("Status", "1").text("PolicyKey", "2" if ack else "1")
        if not ack:
            w.open("Data").open("EASProvisionDoc").text("DevicePasswordEnabled", "0")
        return w.bytes()
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def record(self, body):
        srv = self.server
        with srv.lock:
            srv.seq += 1
            n = srv.seq
        q = self.path.split("?", 1)[1] if "?" in self.path else ""
        cmd = next((p[4:] for p in q.split("&") if p.startswith("Cmd=")), "") or "-"
        base = os.path.join(srv.record_dir, "%03d-%s-%s" % (n, self.command, cmd))
        with open(base + ".headers.txt", "w") as f:
            f.write("%s %s %s\n" % (self.command, self.path, self.request_version))
            for k, v in self.headers.items():
                f.write("%s: %s\n" % (k, v))
        parsed = None
        if body:
            with open(base + ".wbxml", "wb") as f:
                f.write(body)
            try:
                parsed = decode(body)
                with open(base + ".xml", "w") as f:
                    f.write(to_xml(parsed) + "\n")
            except (ValueError, IndexError) as e:
                print("easstub: decode %s: %s" % (base, e), file=sys.stderr)
        print("easstub: %03d %s %s (%d bytes)" % (n, self.command, self.path, len(body)), file=sys.stderr, flush=True)
        return cmd, parsed, base

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, code, ctype=None, data=b"", extra=()):
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_OPTIONS(self):
        self.record(self.body())
        self.send(200, extra=[
            ("MS-Server-ActiveSync", "14.1"),
            ("MS-ASProtocolVersions", "14.0,14.1,16.0,16.1"),
            ("MS-ASProtocolCommands", "Sync,FolderSync,GetItemEstimate,Ping,Provision,Settings,ItemOperations"),
            ("Allow", "OPTIONS,POST"),
        ])

    def do_POST(self):
        cmd, req, base = self.record(self.body())
        data = None
        if self.server.mode == "minimal" and req is not None:
            with self.server.lock:
                data = answer(cmd, req, self.server.seeded)
        if data is None:
            self.send(500, "text/plain", b"recording stub\n")
            return
        # What the client saw decides its next request (SyncKeys, ServerIds),
        # so the answer is kept beside the request.
        with open(base + ".response.wbxml", "wb") as f:
            f.write(data)
        with open(base + ".response.xml", "w") as f:
            f.write(to_xml(decode(data)) + "\n")
        self.send(200, "application/vnd.ms-sync.wbxml", data)

    def do_GET(self):
        self.record(b"")
        self.send(404, "text/plain", b"not here\n")

    def log_message(self, fmt, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--record", required=True, help="directory for the recorded requests")
    ap.add_argument("--answer", choices=["minimal", "500"], default="minimal")
    ap.add_argument("--seed", action="store_true", help="send one contact, event and task to the client")
    a = ap.parse_args()
    os.makedirs(a.record, exist_ok=True)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.record_dir, srv.mode, srv.seq, srv.lock = a.record, a.answer, 0, threading.Lock()
    srv.seeded = set() if a.seed else None
    print("easstub: listening on http://127.0.0.1:%d, recording to %s" % (a.port, a.record), file=sys.stderr, flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
