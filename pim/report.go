package pim

import "time"

// Result is how a sync session ended, whatever its front.
type Result string

const (
	ResultOK          Result = "ok"
	ResultPartial     Result = "partial"     // a database failed
	ResultFailed      Result = "failed"      // every database failed
	ResultUnavailable Result = "unavailable" // the mail server could not answer
	ResultRefused     Result = "refused"     // no free slot, too many sessions
	ResultSuspended   Result = "suspended"   // by the device
	ResultReplaced    Result = "replaced"    // the device started a newer session
	ResultExpired     Result = "expired"     // the device stopped answering
	ResultShutdown    Result = "shutdown"    // the server stopped
)

// SessionReport sums up one finished session of a device: what the
// admin's log line, the metrics and the device's last sync are made of.
// It never holds item content.
type SessionReport struct {
	User, Device string
	Started      time.Time
	Duration     time.Duration
	Result       Result
	// Error is the first failure of the session in plain words ("" when
	// none).
	Error     string
	Databases []DatabaseReport
}

// DatabaseReport is one database of a session.
type DatabaseReport struct {
	Name       Kind
	Mode       string // as the front names it: "two-way", "slow", ...
	FromDevice ChangeCounts
	ToDevice   ChangeCounts
	// Refused: server changes the device refused (device full...),
	// offered again at its next sync.
	Refused int
}

// ChangeCounts counts item changes one way.
type ChangeCounts struct{ Added, Replaced, Deleted int }

// Total is the number of changes.
func (c ChangeCounts) Total() int { return c.Added + c.Replaced + c.Deleted }
