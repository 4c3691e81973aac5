// Package backup reads and writes the files people move contacts and
// calendars around in: address book exports (.vcf, vCard 2.1/3.0/4.0),
// calendar exports (.ics, iCalendar 2.0; .vcs, vCalendar 1.0), as Outlook,
// Thunderbird, Google and Apple write them. Split cuts such a file into
// items of the stored form with the line each starts on, Join writes
// items as one file, and Export and Import move a database of a mailbox
// to and from a file through the few Store operations they need.
//
// Import skips what the mailbox already has by the rules of a slow sync
// (pim.IdentityOf: the same UID, or the same name / summary and start /
// summary and due date; each mailbox item stands for one record at most)
// and records that repeat an earlier one of the file. A broken record is
// reported with its line and left out; the rest is imported.
//
// It is not a sync: nothing is deleted or replaced, and no device state
// is read or written. It has no command line of its own (see
// cmd/syncml-imap) and knows nothing of IMAP.
package backup
