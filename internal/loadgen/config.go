package loadgen

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Config says what a run does and against what. The zero values of the
// numbers take the defaults of Run (see the constants below).
type Config struct {
	// URL is the SyncML endpoint, e.g. "http://127.0.0.1:8080/syncml".
	URL string
	// IMAPAddr is the IMAP server the daemon uses (host:port, plain or
	// STARTTLS-less): for the ingest baseline, for emptying the load
	// accounts' contacts folder before the run and for checking what the
	// daemon stored. Empty: no baseline; the accounts are emptied by a
	// refresh from the client instead.
	IMAPAddr string
	// ContactsFolder is the daemon's contacts folder ([folders]
	// contacts); default "Contacts".
	ContactsFolder string

	// Accounts are the load users (see NeedAccounts for how many). Their
	// contacts are deleted at the start of the run.
	Accounts []Account

	// Sizes are the N of scenarios 1 to 4.
	Sizes []int
	// Repeat is how many times scenarios 2 and 3 run per N (the median
	// is reported).
	Repeat int
	// Changes is k, the Replace commands per sync of scenario 3.
	Changes int
	// Concurrent is C, the sessions of scenario 5 (4 devices a user);
	// negative: no scenario 5.
	Concurrent int
	// ConcurrentItems is what each device of scenario 5 brings to its
	// slow sync.
	ConcurrentItems int

	// IngestOnly runs scenario 1 and the MULTIAPPEND baseline only (no
	// APPEND one by one, no scenarios 2 to 5): the ingest comparison alone.
	IngestOnly bool
	// OnSlowSync, when set, is called as scenario 1 starts at each N; the
	// function it returns is called when it ends (to take a profile of
	// the daemon during the ingest, say).
	OnSlowSync func(n int) func()

	// WBXML sends and expects WBXML instead of XML.
	WBXML bool
	// MaxMsgSize is the client's own MaxMsgSize: announced in every
	// SyncHdr, and a reply larger than it fails the session.
	MaxMsgSize int64
	// Timeout bounds one HTTP request; default 10 minutes (a message of a
	// slow sync of 100k items is answered once it is stored).
	Timeout time.Duration

	// Memory, when set, reads the daemon's heap and RSS before and after
	// the scenarios.
	Memory *MemoryProbe
	// HTTPClient, when set, replaces the default client (one keep-alive
	// connection per device, up to Concurrent).
	HTTPClient *http.Client
	// Logf, when set, receives a line per step.
	Logf func(format string, args ...any)
}

// Account is one load user.
type Account struct {
	User, Password string
}

// Defaults.
const (
	DefaultMaxMsgSize      = 100000
	DefaultRepeat          = 5
	DefaultChanges         = 10
	DefaultConcurrent      = 500
	DefaultConcurrentItems = 5
	// DevicesPerUser is how many devices of scenario 5 share a user: the
	// server's default device slots per account.
	DevicesPerUser = 4
)

// DefaultSizes are the N of a run that does not name them.
var DefaultSizes = []int{1000, 10000}

// NeedAccounts is how many accounts a run of cfg uses: one per size (its
// first device does scenarios 1 to 3, its second scenario 4), then one
// per four devices of scenario 5.
func NeedAccounts(cfg *Config) int {
	c := cfg.withDefaults()
	n := len(c.Sizes)
	if c.Concurrent > 0 && !c.IngestOnly {
		n += (c.Concurrent + DevicesPerUser - 1) / DevicesPerUser
	}
	return n
}

// withDefaults returns a copy with the defaults filled in.
func (cfg *Config) withDefaults() Config {
	c := *cfg
	if c.ContactsFolder == "" {
		c.ContactsFolder = "Contacts"
	}
	if len(c.Sizes) == 0 {
		c.Sizes = DefaultSizes
	}
	c.Sizes = slices.Clone(c.Sizes)
	if c.Repeat <= 0 {
		c.Repeat = DefaultRepeat
	}
	if c.Changes <= 0 {
		c.Changes = DefaultChanges
	}
	if c.Concurrent == 0 {
		c.Concurrent = DefaultConcurrent
	}
	if c.ConcurrentItems <= 0 {
		c.ConcurrentItems = DefaultConcurrentItems
	}
	if c.MaxMsgSize <= 0 {
		c.MaxMsgSize = DefaultMaxMsgSize
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

func (c *Config) validate() error {
	if c.URL == "" {
		return errors.New("loadgen: no SyncML URL")
	}
	for _, n := range c.Sizes {
		if n <= 0 {
			return fmt.Errorf("loadgen: size %d: must be positive", n)
		}
		if n < c.Changes {
			return fmt.Errorf("loadgen: size %d is smaller than k = %d changes", n, c.Changes)
		}
	}
	if need := NeedAccounts(c); len(c.Accounts) < need {
		return fmt.Errorf("loadgen: %d accounts given, the run needs %d (%d sizes, %d concurrent sessions at %d a user)",
			len(c.Accounts), need, len(c.Sizes), max(c.Concurrent, 0), DevicesPerUser)
	}
	// 1 KB is below any real message: even package 1 would not fit.
	if c.MaxMsgSize < 4000 {
		return fmt.Errorf("loadgen: MaxMsgSize %d: below 4000 bytes no package fits", c.MaxMsgSize)
	}
	return nil
}
