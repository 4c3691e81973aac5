package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// day is the length of the "d" unit accepted by Duration: always 24 hours,
// calendar days and daylight saving time are not considered.
const day = 24 * time.Hour

// Duration is a time.Duration that reads and writes as text: Go duration
// syntax ("30s", "15m", "1h30m", "720h"), whole days ("30d", optionally
// followed by Go syntax: "1d12h"), or "0".
type Duration struct {
	time.Duration
}

// UnmarshalText parses text as described on Duration.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := parseDuration(string(text))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText formats d as String does; the result parses back to d.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String formats d as "0", as whole days ("30d") when d is a multiple of 24
// hours, and otherwise as time.Duration.String does ("1h30m0s").
func (d Duration) String() string {
	switch {
	case d.Duration == 0:
		return "0"
	case d.Duration%day == 0:
		return strconv.FormatInt(int64(d.Duration/day), 10) + "d"
	default:
		return d.Duration.String()
	}
}

func parseDuration(s string) (time.Duration, error) {
	i := strings.IndexByte(s, 'd')
	if i < 0 {
		v, err := time.ParseDuration(s)
		if err != nil {
			return 0, durationError(s)
		}
		return v, nil
	}
	// Days, then optionally a Go duration for the rest ("1d12h").
	// No Go duration unit contains a "d", so the first "d" ends the days.
	num, rest := s[:i], s[i+1:]
	neg := false
	if num != "" && (num[0] == '-' || num[0] == '+') {
		neg = num[0] == '-'
		num = num[1:]
	}
	if num == "" || strings.TrimLeft(num, "0123456789") != "" {
		return 0, durationError(s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/int64(day) {
		return 0, fmt.Errorf("duration %q is too long", s)
	}
	v := time.Duration(n) * day
	if rest != "" {
		if rest[0] == '-' || rest[0] == '+' {
			return 0, durationError(s)
		}
		r, err := time.ParseDuration(rest)
		if err != nil {
			return 0, durationError(s)
		}
		if v > math.MaxInt64-r {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		v += r
	}
	if neg {
		v = -v
	}
	return v, nil
}

func durationError(s string) error {
	return fmt.Errorf(`invalid duration %q: want e.g. "90s", "15m", "12h", "30d" or "0"`, s)
}
