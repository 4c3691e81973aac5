package config

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// firstError returns the first *Error in err, failing the test if there is
// none.
func firstError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	return e
}

// only checks that err holds exactly one *Error and returns it.
func only(t *testing.T, err error) *Error {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		t.Fatalf("want one error, got %d:\n%v", len(j.Unwrap()), err)
	}
	return firstError(t, err)
}

func TestExampleIsDefault(t *testing.T) {
	got, err := Load("example.toml")
	if err != nil {
		t.Fatal(err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("example.toml differs from Default():\n got %+v\nwant %+v", got, want)
	}
}

func TestExampleHasEveryKey(t *testing.T) {
	data, err := os.ReadFile("example.toml")
	if err != nil {
		t.Fatal(err)
	}
	lines := keyLines(string(data))
	for k := range knownKeys() {
		if lines[k] == 0 {
			t.Errorf("example.toml does not set %q", k)
		}
	}
}

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestFieldDocsNameDefault checks that every setting's doc comment states
// its default.
func TestFieldDocsNameDefault(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		ts, ok := node.(*ast.TypeSpec)
		if !ok || ts.Name.Name == "Config" {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, fld := range st.Fields.List {
			if fld.Tag == nil || !strings.Contains(fld.Tag.Value, `toml:"`) {
				continue
			}
			n++
			if !strings.Contains(fld.Doc.Text(), "Default:") {
				t.Errorf("%s.%s: doc comment does not say \"Default: ...\"", ts.Name.Name, fld.Names[0].Name)
			}
		}
		return true
	})
	// All known keys but the tables that are fields of Config.
	if want := len(knownKeys()) - reflect.TypeFor[Config]().NumField(); n != want {
		t.Errorf("checked %d fields, want %d", n, want)
	}
}

func TestPartialFileKeepsDefaults(t *testing.T) {
	tests := []struct {
		name string
		src  string
		edit func(*Config)
	}{
		{"empty", "", func(*Config) {}},
		{"comments only", "# nothing\n\n", func(*Config) {}},
		{"empty tables", "[imap]\n[http]\n[folders]\n[sync]\n[sync.defaults]\n[log]\n", func(*Config) {}},
		{"two imap keys", "[imap]\ntls = \"tls\"\naddress = \"imap.example.org:993\"\n", func(c *Config) {
			c.IMAP.TLS = TLSImplicit
			c.IMAP.Address = "imap.example.org:993"
		}},
		{"nested only", "[sync.defaults]\ncalendar_past = \"7d\"\ncontact_categories = [\"Work\"]\ntime_zone = \"Europe/Berlin\"\n", func(c *Config) {
			c.Sync.Defaults.TimeZone = "Europe/Berlin"
			c.Sync.Defaults.CalendarPast = Duration{7 * 24 * time.Hour}
			c.Sync.Defaults.ContactCategories = []string{"Work"}
		}},
		{"dotted and inline", "log.level = \"debug\"\nsync = { max_devices = 2, defaults.tasks_open_only = true }\n", func(c *Config) {
			c.Log.Level = LogLevelDebug
			c.Sync.MaxDevices = 2
			c.Sync.Defaults.TasksOpenOnly = true
		}},
		{"enums any case", "[imap]\ntls = \"StartTLS\"\nca_file = \"/etc/ssl/ca.pem\"\n[sync.defaults]\ndirection = \"Server-To-Device\"\nconflict = \"NEWEST-WINS\"\nconflict_tie_break = \"Device-Wins\"\n[log]\nlevel = \"WARN\"\nformat = \"Json\"\n", func(c *Config) {
			c.IMAP.TLS = TLSStartTLS
			c.IMAP.CAFile = "/etc/ssl/ca.pem"
			c.Sync.Defaults.Direction = DirectionServerToDevice
			c.Sync.Defaults.Conflict = ConflictNewestWins
			c.Sync.Defaults.ConflictTieBreak = ConflictDeviceWins
			c.Log.Level = LogLevelWarn
			c.Log.Format = LogFormatJSON
		}},
		{"zero durations", "[imap]\ndial_timeout = \"0\"\n[sync.defaults]\ncalendar_past = \"0\"\ncalendar_future = \"0s\"\n", func(c *Config) {
			c.IMAP.DialTimeout = Duration{}
			c.Sync.Defaults.CalendarPast = Duration{}
			c.Sync.Defaults.CalendarFuture = Duration{}
		}},
		{"master user", "[imap]\nmaster_user = \"admin\"\nmaster_password = \"secret\"\n", func(c *Config) {
			c.IMAP.MasterUser = "admin"
			c.IMAP.MasterPassword = "secret"
		}},
		{"https", "[http]\ntls_cert = \"/etc/c.pem\"\ntls_key = \"/etc/k.pem\"\npublic_url = \"https://sync.example.org/syncml\"\nmax_body_bytes = 0\n", func(c *Config) {
			c.HTTP.TLSCert = "/etc/c.pem"
			c.HTTP.TLSKey = "/etc/k.pem"
			c.HTTP.PublicURL = "https://sync.example.org/syncml"
			c.HTTP.MaxBodyBytes = 0
		}},
		{"metrics, health and throttle off", "[http]\nmetrics_path = \"\"\nhealth_path = \"\"\n[auth]\nmax_failures = 0\nlockout = \"0\"\n", func(c *Config) {
			c.HTTP.MetricsPath = ""
			c.HTTP.HealthPath = ""
			c.Auth.MaxFailures = 0
			c.Auth.Lockout = Duration{}
		}},
		{"BOM and CRLF", "\ufeff[folders]\r\ncontacts = \"Adressbuch\"\r\n", func(c *Config) {
			c.Folders.Contacts = "Adressbuch"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.src), "t.toml")
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			tt.edit(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestUnknownKey(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		key     string
		line    int
		suggest string // "" for no suggestion
	}{
		{"top level", "# comment\n\nadress = \"x\"\n", "adress", 3, ""},
		{"top level after tables", "[log]\nlevel = \"info\"\n", "", 0, ""}, // control: no error
		{"in table", "[imap]\naddress = \"a:1\"\nadress = \"b:2\"\n", "imap.adress", 3, "imap.address"},
		{"in sync.defaults", "[sync]\nmax_devices = 2\n\n[sync.defaults]\ndirection = \"off\"\nconfict = \"merge\"\n", "sync.defaults.confict", 6, "sync.defaults.conflict"},
		{"sync.defaults via dotted key", "[sync]\ndefaults.confict = \"merge\"\n", "sync.defaults.confict", 2, "sync.defaults.conflict"},
		{"dotted at top", "\n\nimap.adress = \"x\"\n", "imap.adress", 3, "imap.address"},
		{"spaced dotted", "imap . adress = \"x\"\n", "imap.adress", 1, "imap.address"},
		{"quoted", "[imap]\n\"adress\" = \"x\"\n", "imap.adress", 2, "imap.address"},
		{"literal quoted table", "['imap']\n'adress' = \"x\"\n", "imap.adress", 2, "imap.address"},
		{"inline table", "[sync]\ndefaults = { direction = \"off\", confict = \"merge\" }\n", "sync.defaults.confict", 2, "sync.defaults.conflict"},
		{"multi-line inline table", "imap = {\n  address = \"a:1\",\n  bogus = 1,\n}\n", "imap.bogus", 3, ""},
		{"unknown table reported once", "[log]\n[imapx]\nfoo = 1\nbar = 2\n", "imapx", 2, "imap"},
		{"unknown subtable", "[imap]\n[imap.tls_options]\nmin = \"1.2\"\n", "imap.tls_options", 2, ""},
		{"array of tables", "[log]\n\n[[devices]]\nname = \"a\"\n[[devices]]\nname = \"b\"\n", "devices", 3, ""},
		{"key after multi-line string", "[folders]\ncontacts = \"\"\"Con\n\ntacts\"\"\"\nstat = \"x\"\n", "folders.stat", 5, "folders.state"},
		{"key after multi-line array", "[sync.defaults]\ncontact_categories = [\n  \"a\", # x = 1\n  \"b\",\n]\nfoo = 1\n", "sync.defaults.foo", 6, ""},
		{"key after literal multi-line", "[folders]\ncontacts = '''\n[imap]\nx = 1'''\nstat = \"x\"\n", "folders.stat", 5, "folders.state"},
		{"case differs", "[imap]\nAddress = \"a:1\"\n", "imap.Address", 2, "imap.address"},
		{"table case differs", "[IMAP]\naddress = \"a:1\"\n", "IMAP", 1, "imap"},
		{"right key wrong table", "[imap]\nmax_devices = 3\n", "imap.max_devices", 2, "sync.max_devices"},
		{"header with spaces", "[ sync . defaults ]\nfoo = true\n", "sync.defaults.foo", 2, ""},
		{"after datetime", "[log]\nwhen = 1979-05-27 07:32:00Z\nlevel = \"info\"\n", "log.when", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "/etc/x.toml")
			if tt.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			e := only(t, err)
			if e.Key != tt.key || e.Line != tt.line || e.File != "/etc/x.toml" {
				t.Errorf("got key %q line %d file %q, want key %q line %d", e.Key, e.Line, e.File, tt.key, tt.line)
			}
			want := fmt.Sprintf("config: /etc/x.toml:%d: unknown key %q", tt.line, tt.key)
			if tt.suggest != "" {
				want += fmt.Sprintf(" (did you mean %q?)", tt.suggest)
			}
			if err.Error() != want {
				t.Errorf("got  %s\nwant %s", err, want)
			}
		})
	}
}

func TestAllProblemsReportedInLineOrder(t *testing.T) {
	src := "[sync]\nmax_devices = 0\n[imap]\nadress = \"x\"\ntls = \"ssl\"\n"
	_, err := Parse([]byte(src), "t.toml")
	want := "config: t.toml:2: sync.max_devices: must be at least 1, got 0\n" +
		"config: t.toml:4: unknown key \"imap.adress\" (did you mean \"imap.address\"?)\n" +
		"config: t.toml:5: imap.tls: invalid value \"ssl\"; want \"none\", \"starttls\" or \"tls\""
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
	if e := firstError(t, err); e.Key != "sync.max_devices" {
		t.Errorf("first error is for %q", e.Key)
	}
}

func TestSyntaxError(t *testing.T) {
	tests := []struct {
		name string
		src  string
		line int
	}{
		{"missing value", "[imap]\naddress =\n", 2},
		{"unterminated string", "[imap]\n\naddress = \"127.0.0.1:143\n", 3},
		{"unterminated header", "[log]\nlevel = \"info\"\n[imap\n", 3},
		{"unterminated header, more lines", "[imap\naddress = \"x:1\"\n", 1},
		{"control character", "[log]\n\x00\n", 2},
		{"unclosed array", "[sync.defaults]\ncontact_categories = [\"a\",\n\"b\",\n", 3}, // EOF: the last line
		{"after BOM", "\ufeff[log]\nlevel = \"info\" x\n", 2},
		{"duplicate key", "[log]\nlevel = \"info\"\nlevel = \"debug\"\n", 3},
		{"bare word value", "[log]\n\n\n\nlevel = info\n", 5},
		{"duplicate table", "[log]\n[imap]\n[log]\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.src), "t.toml")
			e := only(t, err)
			if e.Line != tt.line {
				t.Errorf("line %d, want %d: %v", e.Line, tt.line, err)
			}
			prefix := fmt.Sprintf("config: t.toml:%d: invalid TOML: ", tt.line)
			if !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("%q does not start with %q", err, prefix)
			}
			var pe toml.ParseError
			if !errors.As(err, &pe) {
				t.Errorf("toml.ParseError not wrapped")
			}
		})
	}
}

// TestValueError covers values toml cannot store in the field's type.
func TestValueError(t *testing.T) {
	tests := []struct {
		name string
		src  string
		key  string
		line int
		msg  string
	}{
		{"string for int", "[sync]\n\nmax_devices = \"four\"\n", "sync.max_devices", 3, "must be an integer, not a string"},
		{"float for int", "[sync]\nmax_devices = 1.5\n", "sync.max_devices", 2, "must be an integer, not a float"},
		{"int for string", "[imap]\naddress = 143\n", "imap.address", 2, "must be a string, not an integer"},
		{"string for bool", "[imap]\ninsecure_skip_verify = \"yes\"\n", "imap.insecure_skip_verify", 2, "must be a boolean, not a string"},
		{"bad duration", "[imap]\ndial_timeout = \"ten seconds\"\n", "imap.dial_timeout", 2, `invalid duration "ten seconds"`},
		{"duration without unit", "[http]\nsession_timeout = 900\n", "http.session_timeout", 2, `invalid duration "900"`},
		{"fractional days", "[sync.defaults]\ncalendar_past = \"1.5d\"\n", "sync.defaults.calendar_past", 2, `invalid duration "1.5d"`},
		{"string for array", "[sync.defaults]\ncontact_categories = \"Work\"\n", "sync.defaults.contact_categories", 2, "must be an array of strings, not a string"},
		{"ints in array", "[sync.defaults]\ncontact_categories = [1]\n", "sync.defaults.contact_categories", 2, "incompatible types"},
		{"table for value", "[log.level]\nx = 1\n", "log.level", 1, "must be a string, not a table"},
		{"array of tables for table", "[log]\n[[imap]]\naddress = \"x:1\"\n", "imap", 2, "must be a table, not an array of tables"},
		{"value for table", "imap = \"x:1\"\n", "imap", 1, "must be a table, not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { parseFails(t, tt.src, tt.key, tt.line, tt.msg) })
	}
}

func TestValidation(t *testing.T) {
	tests := []struct {
		src  string
		key  string
		line int // 0: the key is not in src
		msg  string
	}{
		// [activesync]
		{"[activesync]\nmin_password_length = 20\nrequire_password = true\n", "activesync.min_password_length", 2, "must be 0 to 16"},
		{"[activesync]\nmin_password_length = 6\n", "activesync.min_password_length", 2, "require_password is false"},
		{"[activesync]\nmax_inactivity = \"5m\"\n", "activesync.max_inactivity", 2, "needs require_password = true"},
		{"[activesync]\nmax_inactivity = \"3h\"\nrequire_password = true\n", "activesync.max_inactivity", 2, "must be 0s to 9999s"},
		// [imap]
		{"[imap]\naddress = \"\"\n", "imap.address", 2, "must not be empty"},
		{"[imap]\naddress = \"imap.example.org\"\n", "imap.address", 2, "not host:port"},
		{"[imap]\naddress = \"imap.example.org:\"\n", "imap.address", 2, "not host:port"},
		{"[imap]\ntls = \"ssl\"\n", "imap.tls", 2, `invalid value "ssl"; want "none", "starttls" or "tls"`},
		{"[imap]\ntls = \"\"\n", "imap.tls", 2, `invalid value ""`},
		{"[imap]\nca_file = \"/etc/ca.pem\"\n", "imap.ca_file", 2, `imap.tls is "none"`},
		{"[imap]\nmaster_user = \"admin\"\n", "imap.master_user", 2, "imap.master_password is empty"},
		{"[imap]\nmaster_password = \"pw\"\n", "imap.master_password", 2, "imap.master_user is empty"},
		{"[imap]\nmaster_separator = \"\"\n", "imap.master_separator", 2, "must not be empty"},
		{"[imap]\nmaster_user = \"ad*min\"\nmaster_password = \"pw\"\n", "imap.master_user", 2, `must not contain imap.master_separator "*"`},
		{"[imap]\ndial_timeout = \"-1s\"\n", "imap.dial_timeout", 2, "must not be negative"},
		{"[imap]\ncommand_timeout = \"-1d\"\n", "imap.command_timeout", 2, `must not be negative, got "-1d"`},
		{"[imap]\nmax_user_connections = -1\n", "imap.max_user_connections", 2, "must not be negative, got -1"},
		{"[imap]\nconnection_wait = \"-1s\"\n", "imap.connection_wait", 2, "must not be negative"},
		// [http]
		{"[http]\nlisten = \"\"\n", "http.listen", 2, "must not be empty"},
		{"[http]\nlisten = \"8080\"\n", "http.listen", 2, `"8080" is not host:port, e.g. "127.0.0.1:8080"`},
		{"[http]\npath = \"syncml\"\n", "http.path", 2, `"syncml" must start with "/"`},
		{"[http]\npath = \"\"\n", "http.path", 2, "must not be empty"},
		{"[http]\ntls_cert = \"/c.pem\"\n", "http.tls_cert", 2, "http.tls_key is empty"},
		{"[http]\ntls_key = \"/k.pem\"\n", "http.tls_key", 2, "http.tls_cert is empty"},
		{"[http]\npublic_url = \"sync.example.org/syncml\"\n", "http.public_url", 2, "not an absolute http:// or https:// URL"},
		{"[http]\npublic_url = \"ftp://sync.example.org/syncml\"\n", "http.public_url", 2, "not an absolute"},
		{"[http]\npublic_url = \"https://sync.example.org/syncml?x=1\"\n", "http.public_url", 2, "query or fragment"},
		{"[http]\npublic_url = \"https://[::1/\"\n", "http.public_url", 2, "not a URL"},
		{"[http]\nmax_body_bytes = -1\n", "http.max_body_bytes", 2, "must not be negative, got -1"},
		{"[http]\nsession_timeout = \"-15m\"\n", "http.session_timeout", 2, "must not be negative"},
		{"[http]\nidle_release = \"-1s\"\n", "http.idle_release", 2, "must not be negative"},
		{"[http]\nmax_sessions = -1\n", "http.max_sessions", 2, "must not be negative"},
		{"[http]\nmax_user_sessions = -2\n", "http.max_user_sessions", 2, "must not be negative"},
		{"[sync]\nstate_cache_items = -1\n", "sync.state_cache_items", 2, "must not be negative"},
		{"[http]\npprof_listen = \"0.0.0.0:6060\"\n", "http.pprof_listen", 2, "must be a loopback address"},
		{"[http]\npprof_listen = \":6060\"\n", "http.pprof_listen", 2, "must be a loopback address"},
		{"[http]\npprof_listen = \"6060\"\n", "http.pprof_listen", 2, "is not host:port"},
		{"[http]\nmetrics_path = \"metrics\"\n", "http.metrics_path", 2, `"metrics" must start with "/"`},
		{"[http]\nhealth_path = \"/syncml\"\n", "http.health_path", 2, `"/syncml" is also http.path`},
		{"[http]\nmetrics_path = \"/m\"\nhealth_path = \"/m\"\n", "http.health_path", 3, `"/m" is also http.metrics_path`},
		// [folders]
		{"[folders]\ncontacts = \"\"\n", "folders.contacts", 2, "must not be empty"},
		{"[folders]\nstate = \" \"\n", "folders.state", 2, "must not be empty"},
		{"[folders]\ntasks = \"inbox\"\n", "folders.tasks", 2, "must not be INBOX"},
		{"[folders]\ncalendar = \"contacts\"\n", "folders.calendar", 2, `"contacts" is also used for folders.contacts`},
		{"[folders]\ncalendar = \"X\"\n\nstate = \"X\"\n", "folders.state", 4, `"X" is also used for folders.calendar`},
		// [sync]
		{"[sync]\nmax_devices = 0\n", "sync.max_devices", 2, "must be at least 1, got 0"},
		{"[sync]\nmax_devices = -3\n", "sync.max_devices", 2, "must be at least 1, got -3"},
		{"[sync.defaults]\ndirection = \"sideways\"\n", "sync.defaults.direction", 2, `want "two-way", "server-to-device", "device-to-server" or "off"`},
		{"[sync.defaults]\nconflict = \"ask\"\n", "sync.defaults.conflict", 2, `want "server-wins", "device-wins", "newest-wins", "duplicate" or "merge"`},
		{"[sync.defaults]\nconflict_tie_break = \"merge\"\n", "sync.defaults.conflict_tie_break", 2, `invalid value "merge"; want "server-wins", "device-wins" or "newest-wins"`},
		{"[sync.defaults]\ncontact_categories = [\"Work\", \" \"]\n", "sync.defaults.contact_categories", 2, "entry 2 is empty"},
		{"[sync.defaults]\ncalendar_past = \"-1d\"\n", "sync.defaults.calendar_past", 2, "must not be negative"},
		{"[sync.defaults]\ncalendar_future = \"-1h\"\n", "sync.defaults.calendar_future", 2, "must not be negative"},
		{"[sync.defaults]\ncontact_folders = [\"Family\", \"a/../b\"]\n", "sync.defaults.contact_folders", 2, `entry 2 ("a/../b") is not a sub-folder path`},
		// Control characters besides NUL, CR, LF and tab were let through
		// (TestContactFolders).
		{"[sync.defaults]\ncontact_folders = [\"ctl\\u0001\"]\n", "sync.defaults.contact_folders", 2, `entry 1 ("ctl\x01") is not a sub-folder path`},
		{"[sync.defaults]\ncontact_folders = [\"del\\u007f\"]\n", "sync.defaults.contact_folders", 2, `entry 1 ("del\x7f") is not a sub-folder path`},
		{"[sync.defaults]\ncontact_folders = [\"c1\\u0085c1\"]\n", "sync.defaults.contact_folders", 2, `entry 1 ("c1\u0085c1") is not a sub-folder path`},
		{"[sync.defaults]\ncontact_folders = [\" / \"]\n", "sync.defaults.contact_folders", 2, `entry 1 ("") is not a sub-folder path`},
		{"[http]\ntrusted_proxies = [\"127.0.0.1\", \"proxy.example\"]\n", "http.trusted_proxies", 2, `entry 2 ("proxy.example") is neither an IP address nor a CIDR range`},
		{"[sync.defaults]\ntime_zone = \"Europe/Atlantis\"\n", "sync.defaults.time_zone", 2, `unknown time zone "Europe/Atlantis"`},
		// [auth]
		{"[auth]\nmax_failures = -1\n", "auth.max_failures", 2, "must not be negative, got -1"},
		{"[auth]\nlockout = \"-5m\"\n", "auth.lockout", 2, "must not be negative"},
		{"[auth]\nlockout = \"0\"\n", "auth.lockout", 2, "must be more than 0 while auth.max_failures is 5"},
		{"[admin]\nusers_file = \" /etc/users\"\n", "admin.users_file", 2, "has spaces at its start or end"},
		// [log]
		{"[log]\nlevel = \"verbose\"\n", "log.level", 2, `want "debug", "info", "warn" or "error"`},
		{"[log]\nformat = \"xml\"\n", "log.format", 2, `invalid value "xml"; want "text" or "json"`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) { parseFails(t, tt.src, tt.key, tt.line, tt.msg) })
	}
}

// parseFails parses src, which must fail with one error, about key at
// line, that says msg.
func parseFails(t *testing.T, src, key string, line int, msg string) {
	t.Helper()
	cfg, err := Parse([]byte(src), "t.toml")
	if cfg != nil {
		t.Error("Config returned with error")
	}
	e := only(t, err)
	if e.Key != key || e.Line != line {
		t.Errorf("got key %q line %d, want %q line %d: %v", e.Key, e.Line, key, line, err)
	}
	prefix := fmt.Sprintf("config: t.toml:%d: %s: ", line, key)
	if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), msg) {
		t.Errorf("got  %s\nwant %s...%s", err, prefix, msg)
	}
}

// TestContactFolders: contact_folders follows folderpath's rule, the
// store's. Config used to check a trimmed copy of each entry but hand on
// the entry as written, so " /Family/" passed here and failed at the first
// sync; it refused a quote, which an IMAP folder name may hold, and let
// control characters through that Dovecot refuses (TestValidation).
func TestContactFolders(t *testing.T) {
	cfg, err := Parse([]byte("[sync.defaults]\ncontact_folders = [\" /Family/ \", 'Say \"hi\"/back\\slash', \"Friends/School/\"]\n"), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Family", `Say "hi"/back\slash`, "Friends/School"}
	if got := cfg.Sync.Defaults.ContactFolders; !reflect.DeepEqual(got, want) {
		t.Errorf("contact_folders = %q, want %q", got, want)
	}
	// A Config changed in code is checked as it is: the store would refuse
	// the empty level.
	c := Default()
	c.Sync.Defaults.ContactFolders = []string{"/Family"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "not a sub-folder path") {
		t.Errorf("Validate of \"/Family\": %v", err)
	}
}

func TestValidateWithoutFile(t *testing.T) {
	c := Default()
	c.Sync.MaxDevices = 0
	c.HTTP.Path = "x"
	err := c.Validate()
	want := "config: http.path: \"x\" must start with \"/\"\nconfig: sync.max_devices: must be at least 1, got 0"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("got %v", err)
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.toml")
	if err := os.WriteFile(path, []byte("[imap]\nadress = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := "config: " + path + ":2: unknown key \"imap.adress\""; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s...", err, want)
	}
}

func TestDuration(t *testing.T) {
	const d = 24 * time.Hour
	tests := []struct {
		in   string
		want time.Duration
		str  string // String(); "" for in
	}{
		{"0", 0, ""},
		{"0s", 0, "0"},
		{"30s", 30 * time.Second, ""},
		{"15m", 15 * time.Minute, "15m0s"},
		{"1h30m", 90 * time.Minute, "1h30m0s"},
		{"720h", 30 * d, "30d"},
		{"30d", 30 * d, ""},
		{"365d", 365 * d, ""},
		{"0d", 0, "0"},
		{"1d12h", 36 * time.Hour, "36h0m0s"},
		{"2d30m", 2*d + 30*time.Minute, "48h30m0s"},
		{"-2d", -2 * d, ""},
		{"+1d", d, "1d"},
		{"-1d12h", -36 * time.Hour, "-36h0m0s"},
		{"500ms", 500 * time.Millisecond, ""},
		{"106751d", 106751 * d, ""},
	}
	for _, tt := range tests {
		var got Duration
		if err := got.UnmarshalText([]byte(tt.in)); err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got.Duration != tt.want {
			t.Errorf("%q: got %v, want %v", tt.in, got.Duration, tt.want)
		}
		str := tt.str
		if str == "" {
			str = tt.in
		}
		if got.String() != str {
			t.Errorf("%q: String() = %q, want %q", tt.in, got.String(), str)
		}
		text, _ := got.MarshalText()
		var back Duration
		if err := back.UnmarshalText(text); err != nil || back != got {
			t.Errorf("%q: MarshalText %q does not parse back: %v %v", tt.in, text, back, err)
		}
	}
	for _, in := range []string{"", "d", "30", "1.5d", "30x", "1d-2h", "1d+2h", "d5h", "--1d", "1dd", "106752d", "99999999999999999999d", "106751d24h", " 30d", "30 d"} {
		var got Duration
		if err := got.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("%q: parsed as %v, want error", in, got.Duration)
		}
	}
}

// TestEncodeRoundTrip checks that a Config written by toml reads back the
// same, so tools may generate configuration files.
func TestEncodeRoundTrip(t *testing.T) {
	c := Default()
	c.Sync.Defaults.ContactCategories = []string{"Family", "Work \"x\""}
	c.IMAP.CommandTimeout = Duration{90 * time.Second}
	c.Sync.Defaults.CalendarFuture = Duration{}
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(buf.Bytes(), "encoded")
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.Bytes())
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("\n got %+v\nwant %+v", got, c)
	}
}

func TestKeyLines(t *testing.T) {
	src := `# top
a = 1
b.c = "x" # c = 2
"q.d" = 'lit'
ml = """
fake = 1
\"""
"""
after_ml = 2
arr = [
  1, [2, 3],
  { in_arr = 1 },
  "]", # ] fake2 = 1
]
after_arr = 3
dt = 1979-05-27 07:32:00Z
[t]
x = { y = 1, z.w = { v = 2 } }
"esc\u0041" = 1
[[aot]]
k = 1
[[aot]]
k = 2
m = 3
[ sp . "a b" ]
n = 4
`
	want := map[string]int{
		"a": 2, "b.c": 3, `"q.d"`: 4, "ml": 5, "after_ml": 9, "arr": 10, "arr.in_arr": 12,
		"after_arr": 15, "dt": 16, "t": 17, "t.x": 18, "t.x.y": 18, "t.x.z.w": 18, "t.x.z.w.v": 18,
		"t.escA": 19, "aot": 20, "aot.k": 21, "aot.m": 24, `sp."a b"`: 25, `sp."a b".n`: 26,
	}
	got := keyLines(src)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %v\nwant %v", got, want)
	}
	// Every key toml sees must be found.
	var m map[string]any
	md, err := toml.Decode(src, &m)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range md.Keys() {
		if got[k.String()] == 0 {
			t.Errorf("key %q not found", k)
		}
	}
}

func FuzzParse(f *testing.F) {
	if data, err := os.ReadFile("example.toml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte("[imap]\nadress = \"x\"\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data, "f.toml")
		if err != nil {
			if cfg != nil {
				t.Fatal("Config returned with error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config: f.toml") {
					t.Fatalf("error line %q lacks prefix", line)
				}
			}
		} else {
			if err := cfg.Validate(); err != nil {
				t.Fatalf("Parse returned invalid Config: %v", err)
			}
			var buf bytes.Buffer
			if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
				t.Fatal(err)
			}
			back, err := Parse(buf.Bytes(), "encoded")
			if err != nil || !reflect.DeepEqual(back, cfg) {
				t.Fatalf("round trip: %v\n%s", err, buf.Bytes())
			}
		}

		// keyLines must find every key of any valid document, on a line
		// that shows the key's last part unless it is quoted with escapes.
		var m map[string]any
		md, err := toml.Decode(string(data), &m)
		if err != nil {
			return
		}
		src := stripBOM(string(data))
		lines := strings.Split(src, "\n")
		got := keyLines(string(data))
		for _, k := range md.Keys() {
			n := got[k.String()]
			if n < 1 || n > len(lines) {
				t.Fatalf("key %q: line %d of %d", k, n, len(lines))
			}
			last := k[len(k)-1]
			if !strings.Contains(lines[n-1], last) && !strings.Contains(lines[n-1], `\`) {
				t.Fatalf("key %q: line %d is %q", k, n, lines[n-1])
			}
		}
	})
}

func TestAliases(t *testing.T) {
	cfg, err := Parse([]byte("[sync]\naliases = { phonebook = \"contacts\", \"./Agenda\" = \"calendar\" }\n"), "a.toml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sync.Aliases["phonebook"] != "contacts" || cfg.Sync.Aliases["./Agenda"] != "calendar" {
		t.Errorf("aliases %v", cfg.Sync.Aliases)
	}
	_, err = Parse([]byte("[sync]\naliases = { memo = \"notes\" }\n"), "b.toml")
	if err == nil || !strings.Contains(err.Error(), "sync.aliases") || !strings.Contains(err.Error(), `"notes"`) {
		t.Errorf("bad alias target: %v", err)
	}
	// A typo next to the map is still an unknown key.
	_, err = Parse([]byte("[sync]\naliases = {}\naliasses = 1\n"), "c.toml")
	if err == nil || !strings.Contains(err.Error(), `"sync.aliasses"`) {
		t.Errorf("typo: %v", err)
	}
}

// TestDefaultSendsAllEvents: by default no calendar window keeps events
// off a device; a window is what a user or admin sets.
func TestDefaultSendsAllEvents(t *testing.T) {
	p := Default().Sync.Defaults
	if p.CalendarPast.Duration != 0 || p.CalendarFuture.Duration != 0 {
		t.Errorf("default calendar window %v back, %v ahead; want none", p.CalendarPast, p.CalendarFuture)
	}
}
