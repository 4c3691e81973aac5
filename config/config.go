// Package config loads, checks and documents the syncml-imap configuration
// file.
//
// The file is TOML. Load and Parse start from Default, overlay what the file
// sets, reject keys they do not know (naming the full dotted key and its
// line) and then run Validate, so a *Config they return is complete and
// consistent. example.toml in this directory lists every key with its default.
//
// Package config is not a flag or environment-variable layer, does not watch
// the file for changes, and never touches the network or any file other than
// the one passed to Load: paths such as imap.ca_file or http.tls_cert are
// checked for shape only and are opened by the code that uses them.
// Per-device policy overrides are not read here; Sync.Defaults is the policy
// they start from.
package config

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Config is the whole configuration file. The zero value is not useful; start
// from Default.
type Config struct {
	IMAP    IMAP    `toml:"imap"`
	HTTP    HTTP    `toml:"http"`
	Folders Folders `toml:"folders"`
	Sync    Sync    `toml:"sync"`
	Auth    Auth    `toml:"auth"`
	Log     Log     `toml:"log"`
	DAV     DAV     `toml:"dav"`
	Web     Web     `toml:"web"`
	Admin   Admin   `toml:"admin"`
	EAS     EAS     `toml:"activesync"`
}

// EAS is the [activesync] table: Exchange ActiveSync for contacts,
// calendar and tasks at /Microsoft-Server-ActiveSync, with Autodiscover,
// on the same listener.
type EAS struct {
	// Enabled serves ActiveSync and Autodiscover. Default: true.
	Enabled bool `toml:"enabled"`
	// The security policy devices are given at provisioning (MS-ASPROV):
	// by default nothing is demanded, since contacts and calendars are
	// no reason to lock a person's phone. When it changes, every device
	// is asked to provision again on its next request. Remote wipe is
	// never sent.
	//
	// RequirePassword makes a device set a screen lock. Default: false.
	RequirePassword bool `toml:"require_password"`
	// MinPasswordLength is the lock's least length (0 to 16; 0: any).
	// Default: 0.
	MinPasswordLength int `toml:"min_password_length"`
	// AlphanumericPassword demands letters and digits. Default: false.
	AlphanumericPassword bool `toml:"alphanumeric_password"`
	// MaxInactivity locks the device after that idle time (0: not
	// demanded; at most 9999s). Default: "0s".
	MaxInactivity Duration `toml:"max_inactivity"`
	// RequireEncryption demands the device's storage encrypted.
	// Default: false.
	RequireEncryption bool `toml:"require_encryption"`
	// PingPoll is how often a device's Ping asks the mailbox about a
	// folder nothing wakes it for: a server without IDLE, or a user at
	// max_user_connections (an IDLE connection is one). Writes of the
	// daemon itself and, with IDLE, of mail clients wake it at once.
	// Default: 15s.
	PingPoll Duration `toml:"ping_poll"`
}

// Web is the [web] table: the pages where people sign in with their mail
// login to see and set up their devices and back up, and admins see every
// account, on the same listener.
type Web struct {
	// Enabled serves the pages under Path. Default: true.
	Enabled bool `toml:"enabled"`
	// Path is the URL path of the pages; it must start and end with "/".
	// The endpoint, DAV, metrics and health paths keep their own paths
	// when it is "/". Default: "/".
	Path string `toml:"path"`
	// SessionIdle signs a person out after this long without a request.
	// Default: 30m.
	SessionIdle Duration `toml:"session_idle"`
	// SessionMax signs a person out after this long in any case. Default:
	// 12h.
	SessionMax Duration `toml:"session_max"`
	// Admins may open the admin page with their own mail login (besides
	// [imap] master_user, whose login always may). The admin page opens
	// other accounts with the master user, so it needs one. Default: none.
	Admins []string `toml:"admins"`
}

// Admin is the [admin] table: what the admin commands need beyond the
// daemon's keys.
type Admin struct {
	// UsersFile names the accounts "devices list -all" goes over, besides
	// those given with -user and those the running daemon saw log in
	// (IMAP cannot list a server's accounts): one user per line, "#"
	// starts a comment. A Dovecot admin fills it with
	// "doveadm user '*' > FILE". Default: "" (none).
	UsersFile string `toml:"users_file"`
}

// DAV is the [dav] table: CardDAV and CalDAV on the same listener as the
// SyncML endpoint, over the same folders.
type DAV struct {
	// Enabled serves CardDAV and CalDAV under Path, and the
	// /.well-known/carddav and /.well-known/caldav redirects to it.
	// Default: true.
	Enabled bool `toml:"enabled"`

	// Path is the URL path the DAV tree is served under; it must start
	// with "/" and differ from the other paths of [http]. Default:
	// "/dav/".
	Path string `toml:"path"`
}

// Auth is the [auth] table: how devices authenticate beyond basic, and
// how failed logins are throttled.
type Auth struct {
	// SecretsFile enables syncml:auth-md5 for the users it lists. IMAP never
	// reveals a password, so MD5 needs one the server knows: each line is
	// "user:{PLAIN}password" (the IMAP login then uses it) or
	// "user:{MD5}B64(MD5(user:password))" (then imap.master_user opens the
	// mailbox); "#" starts a comment. Users not listed use basic
	// authentication. Default: "" (basic only).
	SecretsFile string `toml:"secrets_file"`

	// MaxFailures is how many failed logins one device of a user, or one
	// client address, may have within Lockout; further logins of that
	// device or from that address are then refused, without asking the
	// IMAP server, until Lockout has passed (or `devices unlock`). A user
	// over all devices may have 4 × MaxFailures. Only wrong passwords
	// count, not an IMAP server that cannot answer. A successful login
	// clears the device's count. Loopback addresses (a reverse proxy on
	// the same host) are not counted, only users and devices. 0 disables
	// the throttle. Default: 5.
	MaxFailures int `toml:"max_failures"`

	// Lockout is the window failures are counted in and how long a user or
	// address stays locked out; it must be more than 0 when MaxFailures
	// is. Default: 5m.
	Lockout Duration `toml:"lockout"`
}

// IMAP is the [imap] table: how the daemon reaches the IMAP server.
type IMAP struct {
	// Address is the host:port of the IMAP server.
	// Default: "127.0.0.1:143".
	Address string `toml:"address"`

	// TLS selects transport security towards the IMAP server.
	// Default: TLSNone ("none").
	TLS TLSMode `toml:"tls"`

	// InsecureSkipVerify disables verification of the server certificate
	// when TLS is "starttls" or "tls". Default: false.
	InsecureSkipVerify bool `toml:"insecure_skip_verify"`

	// CAFile is an optional PEM bundle of CA certificates used to verify the
	// server instead of the system roots; it must be empty when TLS is
	// TLSNone. Default: "" (system roots).
	CAFile string `toml:"ca_file"`

	// MasterUser is an optional Dovecot-style master user. When set,
	// administrative commands log in as "<user><MasterSeparator><MasterUser>"
	// with MasterPassword. Default: "" (no master user).
	MasterUser string `toml:"master_user"`

	// MasterPassword is the password of MasterUser; required when MasterUser
	// is set. Default: "".
	MasterPassword string `toml:"master_password"`

	// MasterSeparator joins the user name and MasterUser in the login name,
	// as Dovecot's auth_master_user_separator. Default: "*".
	MasterSeparator string `toml:"master_separator"`

	// DialTimeout bounds connecting to the server, including the TLS
	// handshake; 0 means no limit. Default: 10s.
	DialTimeout Duration `toml:"dial_timeout"`

	// CommandTimeout bounds a single IMAP command; 0 means no limit.
	// Default: 60s.
	CommandTimeout Duration `toml:"command_timeout"`

	// KeepIdle is how long the connection of a session that ended is kept
	// for the user's next session with the same password (no new login);
	// 0 turns keeping off. A password changed on the IMAP server keeps
	// working that long, as with Dovecot's auth cache. Default: 30s.
	KeepIdle Duration `toml:"keep_idle"`

	// KeepPerUser bounds the connections kept per user. Default: 2.
	KeepPerUser int `toml:"keep_per_user"`

	// MaxUserConnections bounds one user's IMAP connections from this
	// daemon: those of the user's sessions (a login each, and one more
	// while a session stores many items with MULTIAPPEND) and those kept
	// (KeepIdle). At the bound a kept connection is closed to make room,
	// a MULTIAPPEND connection is done without, and a login waits up to
	// ConnectionWait for one to close; then the device is told 503 (try
	// later). 0 means no limit. Default: 8, under Dovecot's
	// mail_max_userip_connections (10 per user and IP): four devices
	// syncing at once with two connections each, and two left for the
	// user's other clients from this host (webmail, admin commands).
	MaxUserConnections int `toml:"max_user_connections"`

	// ConnectionWait bounds how long a login waits for room under
	// MaxUserConnections; 0 answers 503 at once. Default: 15s.
	ConnectionWait Duration `toml:"connection_wait"`
}

// HTTP is the [http] table: the SyncML endpoint phones talk to.
type HTTP struct {
	// Listen is the host:port the HTTP server listens on.
	// Default: "127.0.0.1:8080".
	Listen string `toml:"listen"`

	// Path is the URL path of the SyncML endpoint; it must start with "/".
	// Default: "/syncml".
	Path string `toml:"path"`

	// TLSCert is a PEM certificate (chain) file; when set together with
	// TLSKey the server speaks HTTPS itself. Default: "" (plain HTTP).
	TLSCert string `toml:"tls_cert"`

	// TLSKey is the PEM private key file for TLSCert. Default: "".
	TLSKey string `toml:"tls_key"`

	// PublicURL is the absolute http or https URL of the endpoint as phones
	// see it, used in RespURI when running behind a reverse proxy, e.g.
	// "https://sync.example.org/syncml". Default: "" (derived from each
	// request).
	PublicURL string `toml:"public_url"`

	// MaxBodyBytes is the largest request body accepted, in bytes; 0 means
	// no limit. Default: 1048576 (1 MiB).
	MaxBodyBytes int64 `toml:"max_body_bytes"`

	// SessionTimeout is how long an idle SyncML session is kept; 0 means
	// sessions never expire. Default: 15m.
	SessionTimeout Duration `toml:"session_timeout"`

	// IdleRelease is how long a session may wait for the device's next
	// message while holding its IMAP connection; after it the connection
	// is closed, and the next message opens a new one. 0 keeps it for the
	// whole session. Default: 30s.
	IdleRelease Duration `toml:"idle_release"`

	// MaxSessions caps the sessions open at once, all users; beyond it a
	// new session is told 503 (try later). Default: 1000.
	MaxSessions int `toml:"max_sessions"`

	// MaxUserSessions caps one user's open sessions (each device has at
	// most one); at the cap the user's least recently used idle session
	// ends for the new one. 0: twice sync.max_devices. Default: 0.
	MaxUserSessions int `toml:"max_user_sessions"`

	// MetricsPath is the URL path where Prometheus metrics are served, on
	// the same listener as the endpoint; empty disables it. It must start
	// with "/" and differ from Path and HealthPath. Default: "/metrics".
	MetricsPath string `toml:"metrics_path"`

	// HealthPath is the URL path of the health check: 200 while the IMAP
	// server answers, 503 with the reason when it does not; empty disables
	// it. It must start with "/" and differ from Path and MetricsPath.
	// Default: "/healthz".
	HealthPath string `toml:"health_path"`

	// TrustedProxies lists the reverse proxies (addresses or CIDR
	// ranges) whose X-Forwarded-For names the client: a request from one
	// of them is counted, for the login throttle and the logs, under the
	// address the proxies report. Default: empty (nil): the connection's
	// address counts.
	TrustedProxies []string `toml:"trusted_proxies"`

	// PprofListen, when set, is a loopback host:port where Go's profiler
	// (net/http/pprof, under /debug/pprof/) is served for the admin, e.g.
	// "127.0.0.1:6060". Default: "" (off).
	PprofListen string `toml:"pprof_listen"`
}

// Folders is the [folders] table: IMAP mailbox names used per data type.
type Folders struct {
	// Contacts is the mailbox holding contacts. Default: "Contacts".
	Contacts string `toml:"contacts"`

	// Calendar is the mailbox holding calendar events. Default: "Calendar".
	Calendar string `toml:"calendar"`

	// Tasks is the mailbox holding tasks. Default: "Tasks".
	Tasks string `toml:"tasks"`

	// State is the hidden mailbox holding per-device sync state.
	// Default: "SyncML State".
	State string `toml:"state"`

	// Backup holds the snapshots taken before a device's first sync
	// (policy backup_before_first_sync), one sub-folder per snapshot.
	// Default: "SyncML Backup".
	Backup string `toml:"backup"`
}

// Sync is the [sync] table.
type Sync struct {
	// MaxDevices is how many devices one user may sync; at least 1.
	// Default: 4.
	MaxDevices int `toml:"max_devices"`

	// StateCacheItems bounds the devices' sync states (item maps) the
	// daemon keeps in memory between sessions, counted in items over all
	// devices (about 100 bytes each): a device's next sync then reads
	// only a small record of its state from the mailbox. 0: none kept.
	// Default: 500000.
	StateCacheItems int `toml:"state_cache_items"`

	// Aliases adds database names devices use, each mapped to "contacts",
	// "calendar" or "tasks", to the built-in ones (contacts, card,
	// addressbook, cal, event, task, todo and more; a leading "./" and
	// case are ignored). Default: empty (nil), the built-in names only.
	Aliases map[string]string `toml:"aliases"`

	// Defaults is the [sync.defaults] table: the policy every device starts
	// with. Default: see Policy.
	Defaults Policy `toml:"defaults"`
}

// Policy is a per-device sync policy; Sync.Defaults holds the defaults.
type Policy struct {
	// Direction is which way changes flow. Default: DirectionTwoWay
	// ("two-way").
	Direction Direction `toml:"direction"`

	// ContactsDirection overrides Direction for contacts; empty:
	// Direction. Default: "".
	ContactsDirection Direction `toml:"contacts_direction"`
	// CalendarDirection overrides Direction for the calendar. Default: "".
	CalendarDirection Direction `toml:"calendar_direction"`
	// TasksDirection overrides Direction for tasks. Default: "".
	TasksDirection Direction `toml:"tasks_direction"`

	// Conflict is how an item changed on both sides is resolved.
	// Default: ConflictMerge ("merge").
	Conflict Conflict `toml:"conflict"`

	// ConflictTieBreak decides what Conflict cannot, e.g. a field changed on
	// both sides during a merge. Only ConflictServerWins, ConflictDeviceWins
	// and ConflictNewestWins are allowed. Default: ConflictServerWins
	// ("server-wins").
	ConflictTieBreak Conflict `toml:"conflict_tie_break"`

	// ContactCategories limits the contacts sent to devices to those in at
	// least one of these categories; empty means all contacts.
	// Default: empty (nil).
	ContactCategories []string `toml:"contact_categories"`

	// ContactFolders makes a device's contacts those of these sub-folders
	// of the contacts folder (e.g. ["Family", "Friends/School"], "/"
	// between levels whatever the IMAP server's separator); its new
	// contacts go to the first. Empty: the contacts folder itself.
	// Default: empty (nil).
	ContactFolders []string `toml:"contact_folders"`

	// CalendarPast is how far back events are sent: events that ended longer
	// ago are not sent; 0 means no limit. Default: 0 (every event is sent).
	CalendarPast Duration `toml:"calendar_past"`

	// CalendarFuture is how far ahead events are sent: events starting later
	// are not sent; 0 means no limit. Default: 0 (every event is sent).
	CalendarFuture Duration `toml:"calendar_future"`

	// TasksOpenOnly sends only tasks that are not completed or cancelled.
	// Default: false.
	TasksOpenOnly bool `toml:"tasks_open_only"`

	// BackupBeforeFirstSync copies a database's folder into [folders]
	// backup (server side) before a device's first sync of it, so a
	// device that brings unexpected data cannot spoil the only copy.
	// Default: false.
	BackupBeforeFirstSync bool `toml:"backup_before_first_sync"`

	// TimeZone is the IANA zone (e.g. "Europe/Berlin") of devices that send
	// local times without saying their zone (many vCalendar 1.0 phones send
	// no TZ, or only an offset). Empty: the zone a device's items gave
	// before, else UTC. Default: "".
	TimeZone string `toml:"time_zone"`
}

// Log is the [log] table.
type Log struct {
	// Level is the least severe level logged. Default: LogLevelInfo
	// ("info").
	Level LogLevel `toml:"level"`

	// Format is the log line format. Default: LogFormatText ("text").
	Format LogFormat `toml:"format"`
}

// Default returns a new Config holding every default. It passes Validate.
func Default() *Config {
	return &Config{
		IMAP: IMAP{
			Address:            "127.0.0.1:143",
			TLS:                TLSNone,
			InsecureSkipVerify: false,
			CAFile:             "",
			MasterUser:         "",
			MasterPassword:     "",
			MasterSeparator:    "*",
			DialTimeout:        Duration{10 * time.Second},
			CommandTimeout:     Duration{60 * time.Second},
			KeepIdle:           Duration{30 * time.Second},
			KeepPerUser:        2,
			MaxUserConnections: 8,
			ConnectionWait:     Duration{15 * time.Second},
		},
		HTTP: HTTP{
			Listen:         "127.0.0.1:8080",
			Path:           "/syncml",
			TLSCert:        "",
			TLSKey:         "",
			PublicURL:      "",
			MaxBodyBytes:   1 << 20,
			SessionTimeout: Duration{15 * time.Minute},
			IdleRelease:    Duration{30 * time.Second},
			MaxSessions:    1000,
			MetricsPath:    "/metrics",
			HealthPath:     "/healthz",
			TrustedProxies: nil,
		},
		Folders: Folders{
			Contacts: "Contacts",
			Calendar: "Calendar",
			Tasks:    "Tasks",
			State:    "SyncML State",
			Backup:   "SyncML Backup",
		},
		Sync: Sync{
			MaxDevices:      4,
			StateCacheItems: 500000,
			Defaults: Policy{
				Direction:             DirectionTwoWay,
				ContactsDirection:     "",
				CalendarDirection:     "",
				TasksDirection:        "",
				Conflict:              ConflictMerge,
				ConflictTieBreak:      ConflictServerWins,
				ContactCategories:     nil,
				ContactFolders:        nil,
				CalendarPast:          Duration{},
				CalendarFuture:        Duration{},
				TasksOpenOnly:         false,
				TimeZone:              "",
				BackupBeforeFirstSync: false,
			},
		},
		Auth: Auth{
			SecretsFile: "",
			MaxFailures: 5,
			Lockout:     Duration{5 * time.Minute},
		},
		DAV:   DAV{Enabled: true, Path: "/dav/"},
		EAS:   EAS{Enabled: true, PingPoll: Duration{15 * time.Second}},
		Web:   Web{Enabled: true, Path: "/", SessionIdle: Duration{30 * time.Minute}, SessionMax: Duration{12 * time.Hour}, Admins: []string{}},
		Admin: Admin{UsersFile: ""},
		Log: Log{
			Level:  LogLevelInfo,
			Format: LogFormatText,
		},
	}
}

// Load reads the TOML file at path and returns the resulting Config, as
// Parse does. Error messages name path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Error is one problem found in a configuration. Load, Parse and Validate
// return an *Error, or errors.Join of several when there is more than one
// problem (use errors.As to get the first).
type Error struct {
	// File is the name given to Load or Parse; empty from Validate.
	File string
	// Line is the 1-based line in File; 0 when not known or not applicable,
	// e.g. a default value that fails validation in combination with
	// another key.
	Line int
	// Key is the full dotted key concerned, such as "imap.tls"; empty when
	// no single key applies (e.g. most syntax errors).
	Key string
	// Msg is the complete description, including the key where there is
	// one, but without the "config:" prefix and location.
	Msg string
	// Err is the underlying error, if any.
	Err error
}

// Error formats e as "config: FILE:LINE: MSG", leaving out the parts that
// are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }
