package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// IMAP, for what the run does beside SyncML: emptying the load accounts'
// contacts, checking what the daemon stored, reading its messages for
// the baseline (go-imap/v2), and the baseline's APPEND and MULTIAPPEND
// (a writer of our own below: go-imap/v2 beta.8 cannot send MULTIAPPEND).

// imapLogin opens a go-imap/v2 session of the account.
func imapLogin(addr string, acct Account) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, fmt.Errorf("loadgen: IMAP %s: %w", addr, err)
	}
	if err := c.Login(acct.User, acct.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("loadgen: IMAP login of %s: %w", acct.User, err)
	}
	return c, nil
}

// emptyFolder deletes every message of the account's folder (a folder
// that does not exist yet is empty).
func emptyFolder(addr string, acct Account, folder string) (int, error) {
	c, err := imapLogin(addr, acct)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	data, err := c.Select(folder, nil).Wait()
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
			return 0, nil // no such folder
		}
		return 0, fmt.Errorf("loadgen: SELECT %q of %s: %w", folder, acct.User, err)
	}
	if data.NumMessages == 0 {
		return 0, nil
	}
	all := imap.SeqSet{}
	all.AddRange(1, 0)
	if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		return 0, fmt.Errorf("loadgen: emptying %q of %s: %w", folder, acct.User, err)
	}
	if err := c.Expunge().Close(); err != nil {
		return 0, fmt.Errorf("loadgen: emptying %q of %s: %w", folder, acct.User, err)
	}
	return int(data.NumMessages), nil
}

// countFolder is how many messages the folder holds, those flagged
// \Deleted (an edit's old version not expunged yet) left out.
func countFolder(addr string, acct Account, folder string) (int, error) {
	c, err := imapLogin(addr, acct)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return 0, fmt.Errorf("loadgen: EXAMINE %q of %s: %w", folder, acct.User, err)
	}
	data, err := c.Search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
	if err != nil {
		return 0, fmt.Errorf("loadgen: SEARCH %q of %s: %w", folder, acct.User, err)
	}
	return len(data.AllSeqNums()), nil
}

// fetchFolder reads every message of the folder (RFC 5322 text and
// flags), and how long the FETCH took.
func fetchFolder(addr string, acct Account, folder string) ([]imapMessage, time.Duration, error) {
	c, err := imapLogin(addr, acct)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return nil, 0, fmt.Errorf("loadgen: EXAMINE %q of %s: %w", folder, acct.User, err)
	}
	all := imap.SeqSet{}
	all.AddRange(1, 0)
	body := &imap.FetchItemBodySection{Peek: true}
	start := time.Now()
	msgs, err := c.Fetch(all, &imap.FetchOptions{Flags: true, BodySection: []*imap.FetchItemBodySection{body}}).Collect()
	took := time.Since(start)
	if err != nil {
		return nil, 0, fmt.Errorf("loadgen: FETCH %q of %s: %w", folder, acct.User, err)
	}
	out := make([]imapMessage, 0, len(msgs))
	for _, m := range msgs {
		var flags []string
		for _, f := range m.Flags {
			if f != `\Recent` && f != imap.FlagDeleted {
				flags = append(flags, string(f))
			}
		}
		out = append(out, imapMessage{flags: flags, literal: m.FindBodySection(body)})
	}
	return out, took, nil
}

// imapMessage is one message to append.
type imapMessage struct {
	flags   []string
	literal []byte
}

// appender is a plain IMAP connection that speaks just LOGIN, CREATE,
// DELETE, APPEND (RFC 3501), MULTIAPPEND (RFC 3502) and LOGOUT, with
// non-synchronising literals (LITERAL+, RFC 7888) when the server has
// them: a batch then goes in one write and one round trip.
type appender struct {
	conn        net.Conn
	r           *bufio.Reader
	w           *bufio.Writer
	tag         int
	literalPlus bool
	multiAppend bool
}

func dialAppender(ctx context.Context, addr string, acct Account) (*appender, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("loadgen: IMAP %s: %w", addr, err)
	}
	a := &appender{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriterSize(conn, 256<<10)}
	if line, err := a.r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "* OK") {
		conn.Close()
		return nil, fmt.Errorf("loadgen: IMAP %s greeting %q: %v", addr, strings.TrimSpace(line), err)
	}
	if _, err := a.command("LOGIN " + quote(acct.User) + " " + quote(acct.Password)); err != nil {
		conn.Close()
		return nil, fmt.Errorf("loadgen: IMAP login of %s: %w", acct.User, err)
	}
	untagged, err := a.command("CAPABILITY")
	if err != nil {
		conn.Close()
		return nil, err
	}
	for _, line := range untagged {
		if caps, ok := strings.CutPrefix(line, "* CAPABILITY "); ok {
			for _, c := range strings.Fields(strings.ToUpper(caps)) {
				a.literalPlus = a.literalPlus || c == "LITERAL+"
				a.multiAppend = a.multiAppend || c == "MULTIAPPEND"
			}
		}
	}
	return a, nil
}

func (a *appender) close() {
	a.command("LOGOUT")
	a.conn.Close()
}

// command sends one line and returns the untagged lines of its answer;
// a NO or BAD is an error.
func (a *appender) command(line string) ([]string, error) {
	tag := a.nextTag()
	a.w.WriteString(tag + " " + line + "\r\n")
	if err := a.w.Flush(); err != nil {
		return nil, err
	}
	return a.response(tag, strings.Fields(line)[0])
}

func (a *appender) nextTag() string {
	a.tag++
	return "L" + strconv.Itoa(a.tag)
}

// response reads up to the tagged line; literals in untagged lines are
// skipped.
func (a *appender) response(tag, cmd string) ([]string, error) {
	var untagged []string
	for {
		line, err := a.r.ReadString('\n')
		if err != nil {
			return untagged, fmt.Errorf("loadgen: IMAP %s: %w", cmd, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if n, ok := literalLength(line); ok {
			if _, err := io.CopyN(io.Discard, a.r, n); err != nil {
				return untagged, fmt.Errorf("loadgen: IMAP %s: %w", cmd, err)
			}
		}
		rest, ok := strings.CutPrefix(line, tag+" ")
		if !ok {
			untagged = append(untagged, line)
			continue
		}
		if !strings.HasPrefix(rest, "OK") {
			return untagged, fmt.Errorf("loadgen: IMAP %s: %s", cmd, rest)
		}
		return untagged, nil
	}
}

// literalLength reads a line ending in {n} (a literal follows).
func literalLength(line string) (int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:len(line)-1], "+"), 10, 64)
	return n, err == nil
}

// append stores msgs in mailbox with one command: APPEND of one message,
// or MULTIAPPEND of several (RFC 3502: the messages follow one another
// in the same command, each with its flags and literal).
func (a *appender) append(mailbox string, msgs []imapMessage) error {
	if len(msgs) > 1 && !a.multiAppend {
		return errors.New("loadgen: the IMAP server has no MULTIAPPEND")
	}
	tag := a.nextTag()
	a.w.WriteString(tag + " APPEND " + quote(mailbox))
	for _, m := range msgs {
		a.w.WriteString(" (" + strings.Join(m.flags, " ") + ") ")
		if err := a.literal(m.literal); err != nil {
			return err
		}
	}
	a.w.WriteString("\r\n")
	if err := a.w.Flush(); err != nil {
		return err
	}
	_, err := a.response(tag, "APPEND")
	return err
}

// literal writes {n+} and the bytes, or, without LITERAL+, {n} and the
// bytes once the server asked for them.
func (a *appender) literal(b []byte) error {
	if a.literalPlus {
		a.w.WriteString("{" + strconv.Itoa(len(b)) + "+}\r\n")
		_, err := a.w.Write(b)
		return err
	}
	a.w.WriteString("{" + strconv.Itoa(len(b)) + "}\r\n")
	if err := a.w.Flush(); err != nil {
		return err
	}
	line, err := a.r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+") {
		return fmt.Errorf("loadgen: IMAP APPEND: %s", strings.TrimSpace(line))
	}
	_, err = a.w.Write(b)
	return err
}

// quote is an IMAP quoted string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
