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
// Provision's two phases with the admin's security policy (nothing
// demanded by default; 142 before it, 143 when it changed); FolderSync of
// the folders the device's policy gives it; Sync, GetItemEstimate and
// ItemOperations Fetch of Contacts, Calendar and Tasks, each folder a
// pim.Replica as a SyncML device's database (conflicts by the device's
// policy, the calendar window from FilterType and the policy, moving with
// time); Ping, woken by the store's Watch; MeetingResponse for events of
// the calendar; Settings (device information, the user's address);
// Autodiscover in its XML and JSON forms. Contacts (MS-ASCNTC), tasks
// (MS-ASTASK) and events (MS-ASCAL: TIME_ZONE_INFORMATION matched to IANA
// zones, recurrence and its exceptions, attendees, reminders) are mapped
// to and from the mailbox's items, keeping what ActiveSync cannot carry.
// Mail is not offered.
package eas
