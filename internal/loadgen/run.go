package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"syncml-imap/syncml"
)

// Run runs the scenarios of cfg against the daemon and returns the
// report. The error says which checks failed (the report holds what was
// measured up to them, and the same list); a check that fails is never
// a figure.
func Run(ctx context.Context, cfg *Config) (*Report, error) {
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	hc := c.HTTPClient
	if hc == nil {
		// One keep-alive connection per device at most.
		hc = &http.Client{Transport: &http.Transport{MaxIdleConns: max(c.Concurrent, 16), MaxIdleConnsPerHost: max(c.Concurrent, 16),
			IdleConnTimeout: 90 * time.Second}}
		defer hc.CloseIdleConnections()
	}
	enc, encName := syncml.EncodingXML, "XML"
	if c.WBXML {
		enc, encName = syncml.EncodingWBXML, "WBXML"
	}
	r := &runner{cfg: &c, tr: &transport{http: hc, enc: enc, maxMsgSize: c.MaxMsgSize, timeout: c.Timeout},
		rep: &Report{URL: c.URL, Encoding: encName, MaxMsgSize: c.MaxMsgSize}}

	accts := c.Accounts[:NeedAccounts(&c)]
	if err := r.empty(ctx, accts); err != nil {
		return r.rep, err
	}
	for i, n := range c.Sizes {
		if ctx.Err() != nil {
			break
		}
		r.sizes(ctx, n, accts[i])
	}
	if c.Concurrent > 0 && !c.IngestOnly && ctx.Err() == nil {
		r.concurrent(ctx, accts[len(c.Sizes):])
	}
	if err := ctx.Err(); err != nil {
		r.rep.errorf("run cut short: %v", err)
	}
	if len(r.rep.Errors) > 0 {
		return r.rep, fmt.Errorf("loadgen: %d checks failed:\n%s", len(r.rep.Errors), strings.Join(r.rep.Errors, "\n"))
	}
	return r.rep, nil
}

// empty deletes the contacts of the load accounts, so that every slow
// sync brings new contacts only: over IMAP when the run has it, else by
// a refresh from the client of an empty device (OMA-TS-DS_Protocol 1.2,
// 5.6: the server keeps only what the client sends).
func (r *runner) empty(ctx context.Context, accts []Account) error {
	var errs []error
	removed := 0
	for _, a := range accts {
		if r.cfg.IMAPAddr != "" {
			n, err := emptyFolder(r.cfg.IMAPAddr, a, r.cfg.ContactsFolder)
			removed += n
			errs = append(errs, err)
			continue
		}
		_, err := NewDevice(a, 1).sync(ctx, r.tr, r.cfg.URL, syncml.AlertRefreshFromClient)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("loadgen: emptying the load accounts: %w", err)
	}
	r.logf("emptied %d load accounts (%d messages deleted)", len(accts), removed)
	return nil
}
