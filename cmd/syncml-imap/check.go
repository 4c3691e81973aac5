package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"

	"syncml-imap/imapstore"
)

// folderKeys are the [folders] keys of the folders CheckFolders checks.
var folderKeys = map[imapstore.Kind]string{
	imapstore.KindContacts: "contacts",
	imapstore.KindCalendar: "calendar",
	imapstore.KindTasks:    "tasks",
	"":                     "state",
}

// checkFolders runs the folder check of "check -user" and reports each
// folder: ok, or what failed and how to fix it. It reports whether all
// are ok.
func checkFolders(ctx context.Context, acct *imapstore.Account, user string, stdout io.Writer) bool {
	d, err := acct.CheckFolders(ctx)
	if err != nil {
		fmt.Fprintf(stdout, "folders: FAILED: %v\n", err)
		return false
	}
	fmt.Fprintln(stdout, "folders (each takes a test message, removed at once):")
	ok := true
	for _, f := range d.Folders {
		key := folderKeys[f.Kind]
		what := fmt.Sprintf("  %-8s %q:", key, f.Name)
		if f.Err == nil {
			note := ""
			if f.Created {
				note = " (created)"
			}
			fmt.Fprintf(stdout, "%s ok%s\n", what, note)
			continue
		}
		ok = false
		fmt.Fprintf(stdout, "%s FAILED to %s: %s\n", what, f.Op, serverWords(f.Err))
		fmt.Fprintf(stdout, "    fix: %s\n", folderFix(f, key, user, d))
	}
	return ok
}

// dovecotTiming is the "(0.001 + 0.000 secs)." Dovecot appends to its
// answers.
var dovecotTiming = regexp.MustCompile(`\s*\([0-9.]+ \+ [0-9.]+(?: \+ [0-9.]+)? secs\)\.?$`)

func serverWords(err error) string {
	code, text := imapstore.ResponseCode(err), dovecotTiming.ReplaceAllString(imapstore.ResponseText(err), "")
	if code != "" {
		return "[" + code + "] " + text
	}
	return text
}

// folderFix says how to fix the failed check of folder f, from the
// server's answer: quota, rights (ACL), or a name the server's namespace
// does not take.
func folderFix(f imapstore.FolderCheck, key, user string, d *imapstore.FoldersCheckData) string {
	code := imapstore.ResponseCode(f.Err)
	text := strings.ToLower(imapstore.ResponseText(f.Err))
	switch {
	case code == "OVERQUOTA" || strings.Contains(text, "quota"):
		return fmt.Sprintf("the mailbox of %s is over its quota: free space in it or raise the quota (Dovecot: doveadm quota get -u %s)", user, shellQuote(user))
	case code == "NOPERM" || strings.Contains(text, "permission") || strings.Contains(text, "not allowed") || strings.Contains(text, "acl"):
		return fmt.Sprintf("%s may not %s %q (ACL): grant the rights (Dovecot: doveadm acl set -u %s %s user=%s lrwstipekxa), or name a folder it owns: set [folders] %s = \"...\"",
			user, f.Op, f.Name, shellQuote(user), shellQuote(f.Name), shellQuote(user), key)
	case f.Op == "create" || code == "CANNOT" && f.Op == "open":
		if name := namespaced(f.Name, d); name != f.Name {
			return fmt.Sprintf("the server does not take this name (its folders are named with the prefix %q and the separator %q): set [folders] %s = %q",
				d.Prefix, delimText(d.Delim), key, name)
		}
		return fmt.Sprintf("the server does not take this name (its folders are named with the prefix %q and the separator %q): set [folders] %s to another name",
			d.Prefix, delimText(d.Delim), key)
	}
	return fmt.Sprintf("the server refused a message in %q: check the quota and the rights of %s there, and Dovecot's log", f.Name, user)
}

func delimText(d rune) string {
	if d == 0 {
		return "none"
	}
	return string(d)
}

// namespaced is name as the server's personal namespace would have it:
// no leading separator or "~", the levels joined with the server's
// separator, under the namespace's prefix.
func namespaced(name string, d *imapstore.FoldersCheckData) string {
	n := strings.TrimLeft(name, "~/.")
	if d.Delim != 0 {
		n = strings.Map(func(r rune) rune {
			if r == '/' || r == '.' {
				return d.Delim
			}
			return r
		}, n)
		for strings.Contains(n, string(d.Delim)+string(d.Delim)) {
			n = strings.ReplaceAll(n, string(d.Delim)+string(d.Delim), string(d.Delim))
		}
	}
	if d.Prefix != "" && !strings.HasPrefix(n, d.Prefix) {
		n = d.Prefix + n
	}
	if n == "" {
		return name
	}
	return n
}
