#!/usr/bin/env python3
"""Drives python3-caldav (Debian's, 0.11) against the DAV front for
TestDAVCaldavQueries in dav_test.go, which seeds the mailbox and checks
what this prints: one JSON object of observations on stdout. Failures of
the library calls are collected in "errors" rather than raised, so that
one misbehaving request does not hide the others.

Environment: DAV_URL (the /dav/ URL), DAV_USER, DAV_PASS, RANGE_START and
RANGE_END (UTC, 20270308T000000Z form). Talks to that URL only.
"""
import datetime
import json
import os
import sys
import traceback

import caldav

out = {"errors": []}


def err(what):
    out["errors"].append(what + ": " + traceback.format_exc().strip().splitlines()[-1])


def utc(s):
    return datetime.datetime.strptime(s, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def summaries(objs):
    """One entry per object: its SUMMARY (objects holding several
    instances of one recurring event count once)."""
    res = []
    for o in objs:
        try:
            if not o.data:
                o.load()
            seen = []
            for comp in o.icalendar_instance.walk():
                if comp.name in ("VEVENT", "VTODO") and "SUMMARY" in comp:
                    s = str(comp["SUMMARY"])
                    if s not in seen:
                        seen.append(s)
            res.extend(seen)
        except Exception:
            err("reading " + str(o.url))
    return res


def etag_of(client, url):
    r = client.request(str(url), "GET")
    return r.headers.get("ETag", ""), r.raw if isinstance(r.raw, str) else r.raw.decode("utf-8", "replace")


def main():
    start, end = utc(os.environ["RANGE_START"]), utc(os.environ["RANGE_END"])
    client = caldav.DAVClient(url=os.environ["DAV_URL"], username=os.environ["DAV_USER"], password=os.environ["DAV_PASS"])
    principal = client.principal()
    out["principal"] = str(principal.url)
    cals = principal.calendars()
    out["calendars"] = []
    events_cal = tasks_cal = None
    for c in cals:
        entry = {"url": str(c.url), "name": "", "components": []}
        try:
            entry["name"] = c.get_display_name() or ""
        except Exception:
            err("displayname of " + str(c.url))
        try:
            entry["components"] = sorted(c.get_supported_components())
        except Exception:
            err("supported components of " + str(c.url))
        out["calendars"].append(entry)
        path = str(c.url).rstrip("/")
        if path.endswith("/events"):
            events_cal = c
        elif path.endswith("/tasks"):
            tasks_cal = c
    if events_cal is None or tasks_cal is None:
        out["errors"].append("no events or no tasks calendar among %s" % [str(c.url) for c in cals])
        return

    try:
        out["events"] = summaries(events_cal.events())
    except Exception:
        err("events()")
    try:
        out["todos"] = summaries(tasks_cal.todos(include_completed=True))
    except Exception:
        err("todos()")
    try:
        out["date_search"] = summaries(events_cal.date_search(start, end, expand=False))
    except Exception:
        err("date_search")
    try:
        out["search"] = summaries(events_cal.search(start=start, end=end, event=True, expand=False))
    except Exception:
        err("search(event, start, end)")
    try:
        out["search_expand"] = summaries(events_cal.search(start=start, end=end, event=True, expand=True))
    except Exception:
        err("search(expand=True)")
    try:
        out["todo_search"] = summaries(tasks_cal.search(todo=True, include_completed=True))
    except Exception:
        err("search(todo=True)")

    # Save, fetch by URL, edit: the ETag changes.
    ical = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//python3-caldav test//EN\r\n"
        "BEGIN:VEVENT\r\nUID:q-saved\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20270311T080000Z\r\nDTEND:20270311T090000Z\r\nSUMMARY:Saved by caldav\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    try:
        saved = events_cal.save_event(ical)
        out["saved_url"] = str(saved.url)
        fetched = events_cal.event_by_url(saved.url)
        fetched.load()
        out["fetched_data"] = fetched.data
        out["etag1"], _ = etag_of(client, saved.url)
        fetched.vobject_instance.vevent.summary.value = "Edited by caldav"
        fetched.save()
        out["etag2"], out["edited_data"] = etag_of(client, saved.url)
    except Exception:
        err("save/fetch/edit")

    try:
        objs = events_cal.objects_by_sync_token()
        out["sync_token_seen"] = bool(objs.sync_token)
    except Exception:
        err("objects_by_sync_token")


try:
    main()
except Exception:
    err("main")
json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
