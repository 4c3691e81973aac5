package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/BurntSushi/toml"

	"syncml-imap/internal/folderpath"
)

// Parse decodes data, the TOML text of a configuration file, over Default
// and validates the result. name is used in error messages only, as the
// file name. Keys absent from data keep their defaults; keys Config does
// not have are errors.
//
// On failure Parse returns a nil *Config and an *Error, or errors.Join of
// several *Error (unknown keys and validation problems are all reported,
// in line order).
func Parse(data []byte, name string) (*Config, error) {
	src := string(data)

	// Syntax first, so that these errors are told apart from errors about
	// values: decoding into an empty struct decodes nothing.
	if _, err := toml.Decode(src, &struct{}{}); err != nil {
		return nil, syntaxError(name, src, err)
	}

	cfg := Default()
	md, err := toml.Decode(src, cfg)
	lines := keyLines(src)
	if err != nil {
		return nil, decodeError(name, err, lines, md)
	}
	if len(cfg.Sync.Aliases) == 0 {
		cfg.Sync.Aliases = nil // one spelling of "empty"
	}
	if len(cfg.Sync.Defaults.ContactCategories) == 0 {
		cfg.Sync.Defaults.ContactCategories = nil // one spelling of "empty"
	}
	if len(cfg.HTTP.TrustedProxies) == 0 {
		cfg.HTTP.TrustedProxies = nil
	}
	if len(cfg.Sync.Defaults.ContactFolders) == 0 {
		cfg.Sync.Defaults.ContactFolders = nil
	}
	for i, f := range cfg.Sync.Defaults.ContactFolders {
		// The store takes the path validate checks, not " /Family/ ".
		cfg.Sync.Defaults.ContactFolders[i] = folderpath.Trim(f)
	}

	var errs []*Error
	for _, k := range unknownKeys(md) {
		msg := fmt.Sprintf("unknown key %q", k.String())
		if s := suggest(k); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		errs = append(errs, &Error{File: name, Line: lines[k.String()], Key: k.String(), Msg: msg})
	}
	for _, e := range cfg.validate() {
		e.File, e.Line = name, lines[e.Key]
		errs = append(errs, e)
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		switch {
		case a.Line == b.Line:
			return 0
		case a.Line == 0: // not in the file: last
			return 1
		case b.Line == 0:
			return -1
		}
		return a.Line - b.Line
	})
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return cfg, nil
}

func syntaxError(name, src string, err error) *Error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{File: name, Msg: oneLine(err.Error()), Err: err}
	}
	msg := "invalid TOML: " + oneLine(pe.Message)
	if pe.LastKey != "" {
		msg += fmt.Sprintf(" (last key %q)", pe.LastKey)
	}
	line := pe.Position.Line
	// An unexpected newline ("got '\n' instead") is reported on the line
	// after it, which may be past the end of the file; the newline belongs
	// to the line it ends.
	src = stripBOM(src) // Start is an offset into the text after the BOM
	if start := pe.Position.Start; start >= 0 && start < len(src) && src[start] == '\n' &&
		line == strings.Count(src[:start], "\n")+2 && strings.Contains(pe.Message, `'\n'`) {
		line--
	}
	return &Error{File: name, Line: line, Msg: msg, Err: err}
}

func decodeError(name string, err error, lines map[string]int, md toml.MetaData) *Error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		// Returned by UnmarshalText, e.g. an invalid Duration.
		line := pe.Position.Line
		if line == 0 {
			line = lines[pe.LastKey]
		}
		msg := oneLine(pe.Message)
		if pe.LastKey != "" {
			msg = oneLine(pe.LastKey) + ": " + msg
		}
		return &Error{File: name, Line: line, Key: pe.LastKey, Msg: msg, Err: err}
	}
	// Type mismatches are not toml.ParseError but plain errors such as
	// `toml: line 5 (last key "imap.address"): incompatible types: ...`.
	// Should toml change that format, the message is passed on unchanged.
	re := regexp.MustCompile(`(?s)^toml: (?:line ([0-9]+) )?\(last key ("(?:[^"\\]|\\.)*")\): (.*)$`)
	if m := re.FindStringSubmatch(err.Error()); m != nil {
		if key, uerr := strconv.Unquote(m[2]); uerr == nil {
			line, _ := strconv.Atoi(m[1])
			if line == 0 {
				line = lines[key]
			}
			msg := oneLine(m[3])
			if path, ok := knownKeys()[key]; ok {
				want, got := wantType(path), gotType(md.Type(path...))
				if want != "" && got != "" && want != got {
					msg = fmt.Sprintf("must be %s, not %s", want, got)
				}
			}
			return &Error{File: name, Line: line, Key: key, Msg: oneLine(key) + ": " + msg, Err: err}
		}
	}
	return &Error{File: name, Msg: oneLine(err.Error()), Err: err}
}

// oneLine escapes control characters, such as newlines toml quotes from
// the input, so that every error is one line.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteByte('\t')
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// wantType describes the TOML type the field at path needs, or returns ""
// if there is no such field.
func wantType(path []string) string {
	t := reflect.TypeFor[Config]()
	for _, name := range path {
		found := false
		for i := range t.NumField() {
			if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); tag == name {
				t, found = t.Field(i).Type, true
				break
			}
		}
		if !found {
			return ""
		}
	}
	switch {
	case t == reflect.TypeFor[Duration]():
		return `a duration string such as "30s"`
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return "an integer"
	case t.Kind() == reflect.Bool:
		return "a boolean"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "an array of strings"
	case t.Kind() == reflect.Struct:
		return "a table"
	}
	return ""
}

// gotType describes a type as returned by toml.MetaData.Type, or returns ""
// for an array, whose elements may be what is wrong.
func gotType(typ string) string {
	switch typ {
	case "String":
		return "a string"
	case "Integer":
		return "an integer"
	case "Float":
		return "a float"
	case "Bool":
		return "a boolean"
	case "Datetime", "DatetimeLocal", "DateLocal", "TimeLocal":
		return "a date/time"
	case "Hash":
		return "a table"
	case "ArrayHash":
		return "an array of tables"
	}
	return ""
}
