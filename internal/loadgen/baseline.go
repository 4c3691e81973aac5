package loadgen

import (
	"context"
	"fmt"
	"os"
	"time"
)

// baselineBatch is how many messages one MULTIAPPEND of the baseline
// carries: the figure the daemon's ingest is measured against. (The
// daemon sends what one SyncML message brings in one MULTIAPPEND, about
// 120 contacts at its MaxMsgSize of 64 KB.)
const baselineBatch = 100

// maxOneByOne caps the messages appended one by one: in Dovecot's
// maildir each APPEND costs more the more the folder holds (one run took
// 13 minutes for the first 41,000 of 100,000), so the first 10,000 stand
// for the rate.
const maxOneByOne = 10000

// baseline is what the IMAP server does with the messages the daemon
// stored, without the daemon.
type baseline struct {
	fetch, one, multi float64 // items/s: FETCH of them all, APPEND one by one, MULTIAPPEND ×100
	oneN              int     // the messages appended one by one
}

// measureBaseline reads the messages of the account's contacts folder
// (as the daemon stored them) and appends them to scratch folders of
// the same account, one APPEND a message and then MULTIAPPEND in batches
// of 100; the scratch folders are deleted afterwards.
func measureBaseline(ctx context.Context, cfg *Config, acct Account, want int) (*baseline, error) {
	msgs, took, err := fetchFolder(cfg.IMAPAddr, acct, cfg.ContactsFolder)
	if err != nil {
		return nil, err
	}
	if len(msgs) != want {
		return nil, fmt.Errorf("loadgen: baseline: %q of %s holds %d messages, the slow sync stored %d", cfg.ContactsFolder, acct.User, len(msgs), want)
	}
	b := &baseline{fetch: rate(len(msgs), took)}
	a, err := dialAppender(ctx, cfg.IMAPAddr, acct)
	if err != nil {
		return nil, err
	}
	defer a.close()
	if !a.multiAppend {
		return nil, fmt.Errorf("loadgen: baseline: the IMAP server at %s has no MULTIAPPEND", cfg.IMAPAddr)
	}
	scratch := fmt.Sprintf("loadgen-scratch-%d-%d", os.Getpid(), time.Now().UnixNano())
	b.oneN = min(len(msgs), maxOneByOne)
	if cfg.IngestOnly {
		b.oneN = 0
	}
	for _, run := range []struct {
		batch int
		msgs  []imapMessage
		rate  *float64
	}{{1, msgs[:b.oneN], &b.one}, {baselineBatch, msgs, &b.multi}} {
		if len(run.msgs) == 0 {
			continue
		}
		folder := fmt.Sprintf("%s-%d", scratch, run.batch)
		if _, err := a.command("CREATE " + quote(folder)); err != nil {
			return nil, err
		}
		start := time.Now()
		for i := 0; i < len(run.msgs) && err == nil; i += run.batch {
			err = a.append(folder, run.msgs[i:min(i+run.batch, len(run.msgs))])
		}
		*run.rate = rate(len(run.msgs), time.Since(start))
		if _, derr := a.command("DELETE " + quote(folder)); derr != nil && err == nil {
			err = derr
		}
		if err != nil {
			return nil, fmt.Errorf("loadgen: baseline into %q: %w", folder, err)
		}
	}
	return b, nil
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
