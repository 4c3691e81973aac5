// Package eas is the Exchange ActiveSync front (MS-ASHTTP, MS-ASCMD,
// MS-ASPROV, MS-ASCNTC, MS-ASCAL, MS-ASTASK) over the same mailbox,
// device slots and policies as the SyncML and DAV fronts: a phone's
// built-in Exchange account or Thunderbird with TbSync syncs the
// Contacts, Calendar and Tasks folders through it.
//
// Served (mounted by the daemon under [activesync]): the request URI in
// both of its forms (MS-ASHTTP 2.2.1.1.1); OPTIONS; Basic login through
// the daemon's Authenticator (401 only for a wrong password, 503 when IMAP
// cannot answer); the device's slot (first free, protocol "ActiveSync");
// Provision's two phases with a policy that demands nothing of the
// device, status 142 for commands before it; FolderSync of the folders
// the device's policy gives it; Sync and GetItemEstimate of Contacts,
// Calendar and Tasks; Settings (device information, the user's address);
// MeetingResponse for the Calendar folder's events (meeting.go);
// Autodiscover in its XML and JSON forms; contacts (MS-ASCNTC), tasks
// (MS-ASTASK) and events (MS-ASCAL: TIME_ZONE_INFORMATION matched to IANA
// zones, recurrence, deleted occurrences, attendees, reminders) mapped to
// and from the mailbox's items, keeping what ActiveSync cannot carry. Not
// yet: Ping, ItemOperations, the calendar window (FilterType), contact
// sub-folders.
package eas
