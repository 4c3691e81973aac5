// Package vformat converts items between the forms devices use (vCard 2.1,
// vCalendar 1.0, SIF) and the canonical stored forms (vCard 3.0, iCalendar
// 2.0). It knows nothing of IMAP or SyncML sessions.
package vformat
