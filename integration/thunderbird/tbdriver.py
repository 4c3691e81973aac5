#!/usr/bin/env python3
"""Drives Thunderbird + TbSync + EAS-4-TbSync over Marionette.

Subcommands:
  profile  make a fresh profile with the two add-ons and a pre-seeded EAS account
  sync     store the password, run TbSync.core.syncAccount, print status and folders
  list     print the contacts, events and tasks of the account's synced folders (JSON)
  add-contact / add-event / add-task   add an item to the synced address book / calendar / tasks
  move-occurrence / delete-occurrence  change one occurrence of a series
  change-contact / delete-item         change a contact / delete an event or task
  quit     ask Thunderbird to quit

Python 3 standard library only; Marionette client in marionette.py.
"""

import argparse
import json
import os
import shutil
import sys
import time
import uuid

sys.dont_write_bytecode = True  # keep the repository clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from marionette import Marionette  # noqa: E402

TBSYNC_ID = "tbsync@jobisoft.de"
EAS_ID = "eas4tbsync@jobisoft.de"

# Prefs for a quiet, offline, unsigned-add-on profile. The proxy points at a
# closed port so that anything but 127.0.0.1 fails fast instead of reaching out.
PREFS = {
    "xpinstall.signatures.required": False,
    "extensions.autoDisableScopes": 0,
    "extensions.enabledScopes": 15,
    "extensions.startupScanScopes": 15,
    "extensions.update.enabled": False,
    "extensions.update.autoUpdateDefault": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.blocklist.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "app.update.enabled": False,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "mail.shell.checkDefaultClient": False,
    "mail.provider.enabled": False,
    "mail.provider.suppress_dialog_on_startup": True,
    "mail.startup.enabledMailCheckOnce": True,
    "mail.rights.version": 1,
    "mail.spotlight.firstRunDone": True,
    "mail.winsearch.firstRunDone": True,
    "mailnews.start_page.enabled": False,
    "mailnews.auto_config_url": "",
    "mail.accounthub.enabled": False,
    "mail.inappnotifications.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "",
    "network.connectivity-service.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "services.settings.server": "http://127.0.0.1:9/",
    "network.proxy.type": 1,
    "network.proxy.http": "127.0.0.1",
    "network.proxy.http_port": 9,
    "network.proxy.ssl": "127.0.0.1",
    "network.proxy.ssl_port": 9,
    "network.proxy.no_proxies_on": "localhost, 127.0.0.1",
    "network.proxy.allow_hijacking_localhost": False,
    "calendar.timezone.useSystemTimezone": True,
    "browser.shell.checkDefaultBrowser": False,
    "toolkit.startup.max_resumed_crashes": -1,
    "browser.dom.window.dump.enabled": True,
    "devtools.console.stdout.chrome": True,
    "extensions.tbsync.log.toconsole": True,
    "extensions.tbsync.log.userdatalevel": 3,
}

# How chrome code reaches TbSync: its API implementation imports this module
# with the add-on's version as query, so must we, or we get a second instance.
JS_TBSYNC = r"""
const { ExtensionParent } = ChromeUtils.importESModule("resource://gre/modules/ExtensionParent.sys.mjs");
async function tbsync(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ext = ExtensionParent.GlobalManager.getExtension("tbsync@jobisoft.de");
    if (ext) {
      const { TbSync } = ChromeUtils.importESModule(`chrome://tbsync/content/tbsync.sys.mjs?${ext.manifest.version}`);
      if (TbSync.enabled && TbSync.providers.loadedProviders && TbSync.providers.loadedProviders.eas) return TbSync;
    }
    if (Date.now() > deadline) throw new Error("TbSync or its EAS provider did not load");
    await new Promise(r => setTimeout(r, 250));
  }
}
const { setTimeout } = ChromeUtils.importESModule("resource://gre/modules/Timer.sys.mjs");
function folders(TbSync, accountID) {
  return TbSync.db.findFolders({}, { accountID }).map(f => ({
    folderID: f.folderID,
    name: f.data.foldername, type: f.data.type, targetType: f.data.targetType,
    serverID: f.data.serverID, parentID: f.data.parentID, synckey: f.data.synckey,
    selected: f.data.selected, status: f.data.status, target: f.data.target,
    cached: f.data.cached,
  }));
}
"""


def write_prefs(profile, marionette_port):
    prefs = dict(PREFS)
    prefs["marionette.port"] = marionette_port
    with open(os.path.join(profile, "user.js"), "w") as f:
        for k, v in prefs.items():
            f.write(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n")


def cmd_profile(a):
    p = a.profile
    if os.path.exists(p):
        shutil.rmtree(p)
    os.makedirs(os.path.join(p, "extensions"))
    os.makedirs(os.path.join(p, "TbSync"))
    shutil.copy(a.tbsync_xpi, os.path.join(p, "extensions", TBSYNC_ID + ".xpi"))
    shutil.copy(a.eas_xpi, os.path.join(p, "extensions", EAS_ID + ".xpi"))
    write_prefs(p, a.marionette_port)
    url = a.url.rstrip("/")
    https = url.startswith("https://")
    host = url.split("://", 1)[1] if "://" in url else url
    if host.endswith("/Microsoft-Server-ActiveSync"):
        host = host[: -len("/Microsoft-Server-ActiveSync")]
    acc = {
        "provider": "eas",
        "accountID": a.account,
        "accountname": a.name,
        "status": "notsyncronized",
        "lastsynctime": 0,
        "autosync": 0,
        "noAutosyncUntil": 0,
        "policykey": "0",
        "foldersynckey": "0",
        "deviceId": a.device_id or ("MZTB" + uuid.uuid4().hex[:28]),
        "asversionselected": a.asversion,
        "asversion": "",
        "host": host,
        "user": a.user,
        "servertype": "custom",
        "seperator": "10",
        "https": https,
        "provision": a.provision,
        "displayoverride": False,
        "lastEasOptionsUpdate": "0",
        "allowedEasVersions": "",
        "allowedEasCommands": "",
        "useragent": "Thunderbird ActiveSync",
        "devicetype": "TbSync",
        "synclimit": "7",
    }
    with open(os.path.join(p, "TbSync", "accounts68.json"), "w") as f:
        json.dump({"sequence": int(a.account), "data": {a.account: acc}}, f, indent=1)
    folders = {}
    if a.folders:
        with open(a.folders) as f:
            folders = json.load(f)
    with open(os.path.join(p, "TbSync", "folders68.json"), "w") as f:
        json.dump(folders, f, indent=1)
    print(json.dumps({"profile": p, "account": acc["accountID"], "deviceId": acc["deviceId"]}))


def connect(a):
    m = Marionette(port=a.marionette_port, connect_timeout=a.timeout)
    m.new_session()
    m.set_chrome()
    m.set_script_timeout(int(a.timeout * 1000))
    return m


def run(m, body, args=None):
    return m.execute(JS_TBSYNC + "\nreturn (async () => {" + body + "})();", args or [])


def cmd_sync(a):
    m = connect(a)
    t0 = time.monotonic()
    if a.password is not None:
        run(m, """
          const [accountID, user, password] = arguments;
          const TbSync = await tbsync(60000);
          await TbSync.passwordManager.updateLoginInfo("TbSync#" + accountID, "TbSync/EAS", user, user, password);
        """, [a.account, a.user, a.password])
    res = None
    for round_ in range(2 if a.select_all else 1):
        res = run(m, """
          const [accountID, selectAll] = arguments;
          const TbSync = await tbsync(60000);
          if (selectAll) {
            for (const f of TbSync.db.findFolders({}, { accountID })) {
              if (["8", "9", "13", "7", "15", "14"].includes(String(f.data.type)))
                TbSync.db.setFolderProperty(accountID, f.folderID, "selected", true);
            }
          }
          const t0 = Date.now();
          await TbSync.core.syncAccount(accountID);
          const acc = TbSync.db.getAccount(accountID);
          const log = TbSync.eventlog.get ? TbSync.eventlog.get(accountID) : [];
          return { ms: Date.now() - t0, status: acc.status, asversion: acc.asversion,
                   allowedEasVersions: acc.allowedEasVersions, allowedEasCommands: acc.allowedEasCommands,
                   foldersynckey: acc.foldersynckey, policykey: acc.policykey,
                   folders: folders(TbSync, accountID),
                   eventlog: (log || []).slice(-10).map(e => ({ type: e.type, message: e.message, details: e.details })) };
        """, [a.account, round_ > 0])
        print(json.dumps(res, indent=1))
    print(f"# sync took {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0 if res and res.get("status") == "success" else 1


JS_TARGETS = r"""
const { cal } = ChromeUtils.importESModule("resource:///modules/calendar/calUtils.sys.mjs");
const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
function targets(TbSync, accountID) {
  const out = { books: [], calendars: [] };
  for (const f of TbSync.db.findFolders({ selected: true }, { accountID })) {
    if (!f.data.target) continue;
    if (f.data.targetType == "addressbook") {
      const d = MailServices.ab.getDirectoryFromUID(f.data.target);
      if (d) out.books.push({ folder: f.data.foldername, dir: d });
    } else if (f.data.targetType == "calendar") {
      const c = cal.manager.getCalendarById(f.data.target);
      if (c) out.calendars.push({ folder: f.data.foldername, type: f.data.type, cal: c });
    }
  }
  return out;
}
// recurrence is what a series holds beside its rule: its exceptions
// (by recurrence ID: start and title) and its deleted occurrences.
function recurrence(it) {
  const ri = it.recurrenceInfo;
  if (!ri) return {};
  const exceptions = ri.getExceptionIds().map(id => {
    const e = ri.getExceptionFor(id);
    return { id: id.getInTimezone(cal.dtz.UTC).icalString, start: e.startDate.getInTimezone(cal.dtz.UTC).icalString, title: e.title };
  });
  const exdates = ri.getRecurrenceItems().filter(r => r.isNegative).map(r => r.icalString);
  return { exceptions, exdates };
}
// seriesOf is the series titled title in c, with its calendar.
async function seriesOf(t, title) {
  for (const c of t.calendars)
    for (const it of await calItems(c.cal))
      if (it.title == title && it.recurrenceInfo) return [c, it];
  throw new Error("no series " + title);
}
async function calItems(c) {
  const filter = Ci.calICalendar.ITEM_FILTER_ALL_ITEMS;
  if (c.getItemsAsArray) return await c.getItemsAsArray(filter, 0, null, null);
  const items = [];
  for await (const chunk of cal.iterate.streamValues(c.getItems(filter, 0, null, null))) items.push(...chunk);
  return items;
}
"""


def cmd_list(a):
    m = connect(a)
    res = run(m, JS_TARGETS + """
      const [accountID] = arguments;
      const TbSync = await tbsync(60000);
      const t = targets(TbSync, accountID);
      const out = { contacts: [], events: [] };
      for (const b of t.books)
        for (const c of b.dir.childCards)
          out.contacts.push({ book: b.folder, uid: c.UID, displayName: c.displayName,
                              firstName: c.firstName, lastName: c.lastName, email: c.primaryEmail,
                              vcard: c.getProperty("_vCard", "") });
      for (const c of t.calendars)
        for (const it of await calItems(c.cal))
          out.events.push({ calendar: c.folder, type: c.type, kind: (it instanceof Ci.calITodo) ? "task" : "event", id: it.id, title: it.title,
                            start: it.startDate ? it.startDate.icalString : (it.dueDate ? it.dueDate.icalString : null),
                            ics: it.icalString, ...recurrence(it) });
      return out;
    """, [a.account])
    print(json.dumps(res, indent=1))


def cmd_add_contact(a):
    m = connect(a)
    vcard = ("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:%s\r\nFN:%s %s\r\nN:%s;%s;;;\r\nEMAIL;PREF=1:%s\r\nEND:VCARD\r\n"
             % (uuid.uuid4(), a.first, a.last, a.last, a.first, a.email))
    res = run(m, JS_TARGETS + """
      const [accountID, vcard] = arguments;
      const TbSync = await tbsync(60000);
      const { VCardUtils } = ChromeUtils.importESModule("resource:///modules/VCardUtils.sys.mjs");
      const t = targets(TbSync, accountID);
      if (!t.books.length) throw new Error("no synced address book");
      const card = t.books[0].dir.addCard(VCardUtils.vCardToAbCard(vcard));
      return { book: t.books[0].folder, uid: card.UID };
    """, [a.account, vcard])
    print(json.dumps(res))


def cmd_add_event(a):
    m = connect(a)
    uid = str(uuid.uuid4())
    rrule = "RRULE:%s\r\n" % a.rrule if a.rrule else ""
    ics = ("BEGIN:VEVENT\r\nUID:%s\r\nSUMMARY:%s\r\nDTSTART:%s\r\nDTEND:%s\r\n%sDTSTAMP:20260101T000000Z\r\nEND:VEVENT\r\n"
           % (uid, a.title, a.start, a.end, rrule))
    res = run(m, JS_TARGETS + """
      const [accountID, ics] = arguments;
      const TbSync = await tbsync(60000);
      const t = targets(TbSync, accountID);
      const c = t.calendars.find(c => String(c.type) == "8" || String(c.type) == "13") || t.calendars[0];
      if (!c) throw new Error("no synced calendar");
      const ev = Cc["@mozilla.org/calendar/event;1"].createInstance(Ci.calIEvent);
      ev.icalString = ics;
      const added = await c.cal.addItem(ev);
      return { calendar: c.folder, id: added.id };
    """, [a.account, ics])
    print(json.dumps(res))


def cmd_add_task(a):
    m = connect(a)
    ics = ("BEGIN:VTODO\r\nUID:%s\r\nSUMMARY:%s\r\nDUE:%s\r\nDTSTAMP:20260101T000000Z\r\nEND:VTODO\r\n"
           % (uuid.uuid4(), a.title, a.due))
    res = run(m, JS_TARGETS + """
      const [accountID, ics] = arguments;
      const TbSync = await tbsync(60000);
      const t = targets(TbSync, accountID);
      const c = t.calendars.find(c => String(c.type) == "7" || String(c.type) == "15");
      if (!c) throw new Error("no synced task list");
      const todo = Cc["@mozilla.org/calendar/todo;1"].createInstance(Ci.calITodo);
      todo.icalString = ics;
      const added = await c.cal.addItem(todo);
      return { calendar: c.folder, id: added.id };
    """, [a.account, ics])
    print(json.dumps(res))


def cmd_change_contact(a):
    m = connect(a)
    res = run(m, JS_TARGETS + """
      const [accountID, name, title] = arguments;
      const TbSync = await tbsync(60000);
      const t = targets(TbSync, accountID);
      for (const b of t.books)
        for (const c of b.dir.childCards)
          if (c.displayName == name) {
            c.vCardProperties.clearValues("title");
            c.vCardProperties.addValue("title", title);
            b.dir.modifyCard(c);
            return { book: b.folder, uid: c.UID };
          }
      throw new Error("no contact " + name);
    """, [a.account, a.name, a.title])
    print(json.dumps(res))


def edit_series(a, edit, args):
    """Runs edit (JS, on `series`, a clone of the series titled a.title,
    with `args` the extra arguments) and saves the series."""
    m = connect(a)
    res = run(m, JS_TARGETS + """
      const [accountID, title, ...args] = arguments;
      const TbSync = await tbsync(60000);
      const t = targets(TbSync, accountID);
      const [c, parent] = await seriesOf(t, title);
      const series = parent.clone();
    """ + edit + """
      await c.cal.modifyItem(series, parent);
      return { calendar: c.folder, id: parent.id };
    """, [a.account, a.title] + args)
    print(json.dumps(res))


def cmd_move_occurrence(a):
    edit_series(a, """
      const [at, start, end] = args;
      const occ = series.recurrenceInfo.getOccurrenceFor(cal.createDateTime(at)).clone();
      occ.startDate = cal.createDateTime(start);
      occ.endDate = cal.createDateTime(end);
      series.recurrenceInfo.modifyException(occ, true);
    """, [a.occurrence, a.start, a.end])


def cmd_delete_occurrence(a):
    edit_series(a, """
      series.recurrenceInfo.removeOccurrenceAt(cal.createDateTime(args[0]));
    """, [a.occurrence])


def cmd_delete_item(a):
    m = connect(a)
    res = run(m, JS_TARGETS + """
      const [accountID, title] = arguments;
      const TbSync = await tbsync(60000);
      const t = targets(TbSync, accountID);
      for (const c of t.calendars)
        for (const it of await calItems(c.cal))
          if (it.title == title) {
            await c.cal.deleteItem(it);
            return { calendar: c.folder, id: it.id };
          }
      throw new Error("no event or task " + title);
    """, [a.account, a.title])
    print(json.dumps(res))


def cmd_quit(a):
    m = Marionette(port=a.marionette_port, connect_timeout=10)
    m.new_session()
    m.quit()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--marionette-port", type=int, default=int(os.environ.get("MARIONETTE_PORT", "2828")))
    ap.add_argument("--account", default="1", help="TbSync accountID")
    ap.add_argument("--timeout", type=float, default=180.0, help="seconds for connect and for each script")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("profile")
    p.add_argument("--profile", required=True)
    p.add_argument("--tbsync-xpi", required=True)
    p.add_argument("--eas-xpi", required=True)
    p.add_argument("--url", required=True, help="server, e.g. http://127.0.0.1:8443")
    p.add_argument("--user", required=True)
    p.add_argument("--name", default="syncml-imap")
    p.add_argument("--asversion", default="auto", help="auto, 2.5, 14.0, 16.1")
    p.add_argument("--device-id", default="")
    p.add_argument("--folders", help="folders68.json to pre-seed")
    p.add_argument("--provision", action="store_true", help="ask for a policy (Provision) before syncing")
    p.set_defaults(fn=cmd_profile)

    p = sub.add_parser("sync")
    p.add_argument("--user", required=True)
    p.add_argument("--password")
    p.add_argument("--select-all", action="store_true",
                   help="after the folder list, select contacts/calendar/tasks folders and sync again")
    p.set_defaults(fn=cmd_sync)

    p = sub.add_parser("list")
    p.set_defaults(fn=cmd_list)

    p = sub.add_parser("add-contact")
    p.add_argument("--first", default="Erika")
    p.add_argument("--last", default="Mustermann")
    p.add_argument("--email", default="erika@example.org")
    p.set_defaults(fn=cmd_add_contact)

    p = sub.add_parser("add-event")
    p.add_argument("--title", default="Test event")
    p.add_argument("--start", default="20270115T100000Z")
    p.add_argument("--end", default="20270115T110000Z")
    p.add_argument("--rrule", default="", help="a recurrence rule, e.g. FREQ=WEEKLY;COUNT=4")
    p.set_defaults(fn=cmd_add_event)

    p = sub.add_parser("move-occurrence", help="move one occurrence of a series, by title and original start")
    p.add_argument("--title", required=True)
    p.add_argument("--occurrence", required=True)
    p.add_argument("--start", required=True)
    p.add_argument("--end", required=True)
    p.set_defaults(fn=cmd_move_occurrence)

    p = sub.add_parser("delete-occurrence", help="delete one occurrence of a series, by title and original start")
    p.add_argument("--title", required=True)
    p.add_argument("--occurrence", required=True)
    p.set_defaults(fn=cmd_delete_occurrence)

    p = sub.add_parser("add-task")
    p.add_argument("--title", default="Test task")
    p.add_argument("--due", default="20270120T120000Z")
    p.set_defaults(fn=cmd_add_task)

    p = sub.add_parser("change-contact", help="set the job title of a contact, by display name")
    p.add_argument("--name", default="Erika Mustermann")
    p.add_argument("--title", default="Engineer")
    p.set_defaults(fn=cmd_change_contact)

    p = sub.add_parser("delete-item", help="delete an event or task, by title")
    p.add_argument("--title", default="Test event")
    p.set_defaults(fn=cmd_delete_item)

    p = sub.add_parser("quit")
    p.set_defaults(fn=cmd_quit)

    a = ap.parse_args()
    sys.exit(a.fn(a) or 0)


if __name__ == "__main__":
    main()
