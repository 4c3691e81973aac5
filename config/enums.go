package config

import (
	"slices"
	"strings"
)

// The enumerated settings below are typed strings. Their UnmarshalText
// accepts any letter case and stores the value in lower case; whether the
// value is one of the constants is checked by Validate, so that the error
// can name the key.

// TLSMode is the value of imap.tls.
type TLSMode string

// TLSMode values.
const (
	TLSNone     TLSMode = "none"     // plain text, no TLS (usually port 143 on localhost)
	TLSStartTLS TLSMode = "starttls" // plain connect, then STARTTLS (port 143)
	TLSImplicit TLSMode = "tls"      // TLS from the first byte, "IMAPS" (port 993)
)

func tlsModes() []TLSMode { return []TLSMode{TLSNone, TLSStartTLS, TLSImplicit} }

// Valid reports whether m is one of the TLSMode constants.
func (m TLSMode) Valid() bool { return slices.Contains(tlsModes(), m) }

// UnmarshalText stores text in lower case.
func (m *TLSMode) UnmarshalText(text []byte) error {
	*m = TLSMode(strings.ToLower(string(text)))
	return nil
}

// Direction is the value of sync.defaults.direction: which way changes flow.
type Direction string

// Direction values.
const (
	DirectionTwoWay         Direction = "two-way"          // changes flow both ways
	DirectionServerToDevice Direction = "server-to-device" // device changes are ignored
	DirectionDeviceToServer Direction = "device-to-server" // server changes are not sent
	DirectionOff            Direction = "off"              // nothing is synced
)

func directions() []Direction {
	return []Direction{DirectionTwoWay, DirectionServerToDevice, DirectionDeviceToServer, DirectionOff}
}

// Valid reports whether d is one of the Direction constants.
func (d Direction) Valid() bool { return slices.Contains(directions(), d) }

// UnmarshalText stores text in lower case.
func (d *Direction) UnmarshalText(text []byte) error {
	*d = Direction(strings.ToLower(string(text)))
	return nil
}

// Conflict is the value of sync.defaults.conflict and
// sync.defaults.conflict_tie_break: how an item changed on both the server
// and the device since the last sync is resolved.
type Conflict string

// Conflict values.
const (
	ConflictServerWins Conflict = "server-wins" // the server's version is kept
	ConflictDeviceWins Conflict = "device-wins" // the device's version is kept
	ConflictNewestWins Conflict = "newest-wins" // the most recently modified version is kept
	ConflictDuplicate  Conflict = "duplicate"   // both versions are kept as separate items
	ConflictMerge      Conflict = "merge"       // fields changed on one side only are merged
)

func conflicts() []Conflict {
	return []Conflict{ConflictServerWins, ConflictDeviceWins, ConflictNewestWins, ConflictDuplicate, ConflictMerge}
}

// tieBreaks are the Conflict values allowed for conflict_tie_break: those
// that always pick one side.
func tieBreaks() []Conflict {
	return []Conflict{ConflictServerWins, ConflictDeviceWins, ConflictNewestWins}
}

// Valid reports whether c is one of the Conflict constants.
func (c Conflict) Valid() bool { return slices.Contains(conflicts(), c) }

// ValidTieBreak reports whether c may be used as a tie break, i.e. is
// ConflictServerWins, ConflictDeviceWins or ConflictNewestWins.
func (c Conflict) ValidTieBreak() bool { return slices.Contains(tieBreaks(), c) }

// UnmarshalText stores text in lower case.
func (c *Conflict) UnmarshalText(text []byte) error {
	*c = Conflict(strings.ToLower(string(text)))
	return nil
}

// LogLevel is the value of log.level.
type LogLevel string

// LogLevel values.
const (
	LogLevelDebug LogLevel = "debug"
	LogLevelInfo  LogLevel = "info"
	LogLevelWarn  LogLevel = "warn"
	LogLevelError LogLevel = "error"
)

func logLevels() []LogLevel {
	return []LogLevel{LogLevelDebug, LogLevelInfo, LogLevelWarn, LogLevelError}
}

// Valid reports whether l is one of the LogLevel constants.
func (l LogLevel) Valid() bool { return slices.Contains(logLevels(), l) }

// UnmarshalText stores text in lower case.
func (l *LogLevel) UnmarshalText(text []byte) error {
	*l = LogLevel(strings.ToLower(string(text)))
	return nil
}

// LogFormat is the value of log.format.
type LogFormat string

// LogFormat values.
const (
	LogFormatText LogFormat = "text" // key=value lines
	LogFormatJSON LogFormat = "json" // one JSON object per line
)

func logFormats() []LogFormat { return []LogFormat{LogFormatText, LogFormatJSON} }

// Valid reports whether f is one of the LogFormat constants.
func (f LogFormat) Valid() bool { return slices.Contains(logFormats(), f) }

// UnmarshalText stores text in lower case.
func (f *LogFormat) UnmarshalText(text []byte) error {
	*f = LogFormat(strings.ToLower(string(text)))
	return nil
}

// choices formats allowed values for an error message:
// `"a", "b" or "c"`.
func choices[T ~string](allowed []T) string {
	var b strings.Builder
	for i, v := range allowed {
		switch {
		case i == 0:
		case i == len(allowed)-1:
			b.WriteString(" or ")
		default:
			b.WriteString(", ")
		}
		b.WriteString(`"` + string(v) + `"`)
	}
	return b.String()
}
