// Package eas is the Exchange ActiveSync front (MS-ASHTTP, MS-ASCMD,
// MS-ASPROV, MS-ASCNTC, MS-ASCAL, MS-ASTASK) over the same mailbox,
// device slots and policies as the SyncML and DAV fronts: a phone's
// built-in Exchange account or Thunderbird with TbSync syncs the
// Contacts, Calendar and Tasks folders through it.
//
// This first part reads the request URI in both of its forms (plain and
// base64, MS-ASHTTP 2.2.1.1.1) and maps contacts between MS-ASCNTC and the
// mailbox's vCard 3.0.
package eas
