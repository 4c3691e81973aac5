package dovetest_test

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"syncml-imap/internal/dovetest"
)

const testMessage = "From: alice@example.org\r\n" +
	"To: bob@example.org\r\n" +
	"Subject: dovetest\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 +0000\r\n" +
	"Message-ID: <dovetest-1@example.org>\r\n" +
	"\r\n" +
	"Hello from dovetest.\r\n"

// dial connects without TLS and closes the client at the end of the test.
func dial(t *testing.T, s *dovetest.Server) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// login logs c in and fails the test, with the Dovecot log, on error.
func login(t *testing.T, s *dovetest.Server, c *imapclient.Client, user, password string) {
	t.Helper()
	if err := c.Login(user, password).Wait(); err != nil {
		t.Fatalf("LOGIN %s: %v\n%s", user, err, s.Log())
	}
}

// checkLog fails the test if the Dovecot log has warnings or errors.
func checkLog(t *testing.T, s *dovetest.Server) {
	t.Helper()
	for line := range strings.Lines(s.Log()) {
		for _, level := range []string{": Warning: ", ": Error: ", ": Fatal: ", ": Panic: "} {
			if strings.Contains(line, level) {
				t.Errorf("dovecot log: %s", strings.TrimSpace(line))
			}
		}
	}
}

// capabilities returns the result of a CAPABILITY command.
func capabilities(t *testing.T, c *imapclient.Client) imap.CapSet {
	t.Helper()
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatalf("CAPABILITY: %v", err)
	}
	return caps
}

// raw returns the capability names of caps, sorted. CapSet.Has would report
// CONDSTORE as present whenever QRESYNC is.
func raw(caps imap.CapSet) []string {
	var l []string
	for c := range caps {
		l = append(l, string(c))
	}
	slices.Sort(l)
	return l
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		profile dovetest.Profile
		present []imap.Cap
		absent  []imap.Cap
	}{{
		profile: dovetest.ProfileFull,
		present: []imap.Cap{imap.CapCondStore, imap.CapQResync, imap.CapESearch, imap.CapMultiAppend,
			imap.CapUIDPlus, imap.CapLiteralPlus, imap.CapMove, imap.CapIdle},
		absent: []imap.Cap{imap.CapMetadata},
	}, {
		profile: dovetest.ProfileNoCondStore,
		present: []imap.Cap{imap.CapESearch, imap.CapMultiAppend, imap.CapUIDPlus, imap.CapLiteralPlus,
			imap.CapMove, imap.CapIdle},
		absent: []imap.Cap{imap.CapCondStore, imap.CapQResync, imap.CapMetadata},
	}, {
		profile: dovetest.ProfileMinimal,
		present: []imap.Cap{imap.CapIMAP4rev1, imap.CapLiteralPlus},
		absent: []imap.Cap{imap.CapCondStore, imap.CapQResync, imap.CapESearch, imap.CapMultiAppend,
			imap.CapUIDPlus, imap.CapMove, imap.CapIdle, imap.CapMetadata},
	}}
	for _, tt := range tests {
		t.Run(tt.profile.String(), func(t *testing.T) {
			t.Parallel()
			s := dovetest.Start(t, &dovetest.Options{Profile: tt.profile})
			if s.Profile != tt.profile {
				t.Errorf("Server.Profile = %v, want %v", s.Profile, tt.profile)
			}
			s.AddUser(t, "alice", "secret")

			c := dial(t, s)
			login(t, s, c, "alice", "secret")
			caps := capabilities(t, c)
			got := raw(caps)
			for _, cp := range tt.present {
				if !slices.Contains(got, string(cp)) {
					t.Errorf("capability %s missing after login: %v", cp, got)
				}
			}
			for _, cp := range tt.absent {
				if slices.Contains(got, string(cp)) {
					t.Errorf("capability %s announced after login: %v", cp, got)
				}
			}

			want := s.Capabilities()
			slices.Sort(want)
			if tt.profile == dovetest.ProfileFull {
				// The explicit profiles are derived from the default list:
				// it must not name anything this Dovecot does not announce.
				for _, cp := range want {
					if !slices.Contains(got, cp) {
						t.Errorf("default capability %s of Dovecot 2.3.19 not announced by this Dovecot: %v", cp, got)
					}
				}
				if extra := slices.DeleteFunc(slices.Clone(got), func(cp string) bool {
					return slices.Contains(want, cp)
				}); len(extra) > 0 {
					t.Logf("this Dovecot also announces %v", extra)
				}
			} else if !slices.Equal(got, want) {
				t.Errorf("capabilities after login:\n got %v\nwant %v", got, want)
			}

			if err := c.Create("Test", nil).Wait(); err != nil {
				t.Fatalf("CREATE: %v", err)
			}
			appendMessage(t, c, "Test")
			data, err := c.Select("Test", nil).Wait()
			if err != nil {
				t.Fatalf("SELECT: %v", err)
			}
			if data.NumMessages != 1 {
				t.Errorf("SELECT Test: %d messages, want 1", data.NumMessages)
			}
			if err := c.Logout().Wait(); err != nil {
				t.Errorf("LOGOUT: %v", err)
			}
			checkLog(t, s)
		})
	}
}

// appendMessage appends testMessage to mailbox.
func appendMessage(t *testing.T, c *imapclient.Client, mailbox string) {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(testMessage)), nil)
	if _, err := cmd.Write([]byte(testMessage)); err != nil {
		t.Fatalf("APPEND write: %v", err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("APPEND close: %v", err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
}

func TestNilOptions(t *testing.T) {
	t.Parallel()
	s := dovetest.Start(t, nil)
	if s.Profile != dovetest.ProfileFull || s.TLSAddr != "" || s.RootCAs != nil || s.TLSConfig() != nil {
		t.Errorf("Start(nil) = profile %v, TLSAddr %q, RootCAs %v; want ProfileFull without TLS",
			s.Profile, s.TLSAddr, s.RootCAs)
	}
	if !strings.HasPrefix(s.Addr, "127.0.0.1:") {
		t.Errorf("Addr = %q, want 127.0.0.1:port", s.Addr)
	}
}

// TestAddUserImmediateLogin adds users while other logins are going on and
// logs each in right away: Dovecot reads a passwd-file at most once a second,
// which AddUser must not be affected by.
func TestAddUserImmediateLogin(t *testing.T) {
	t.Parallel()
	s := dovetest.Start(t, nil)
	s.AddUser(t, "first", "pw0")
	for i := range 5 {
		c := dial(t, s)
		login(t, s, c, "first", "pw0")
		name := fmt.Sprintf("user%d", i)
		s.AddUser(t, name, fmt.Sprintf("pw%d", i))
		c2 := dial(t, s)
		login(t, s, c2, name, fmt.Sprintf("pw%d", i))
	}

	// Wrong password and unknown user fail.
	if err := dial(t, s).Login("user0", "wrong").Wait(); err == nil {
		t.Error("LOGIN with a wrong password succeeded")
	}
	if err := dial(t, s).Login("nobody-here", "pw").Wait(); err == nil {
		t.Error("LOGIN of an unknown user succeeded")
	}
	// Dovecot lowercases login names.
	s.AddUser(t, "MixedCase", "pw")
	login(t, s, dial(t, s), "mixedcase", "pw")
	login(t, s, dial(t, s), "MIXEDCASE", "pw")
}

func TestTLS(t *testing.T) {
	t.Parallel()
	for _, profile := range []dovetest.Profile{dovetest.ProfileFull, dovetest.ProfileMinimal} {
		t.Run(profile.String(), func(t *testing.T) {
			t.Parallel()
			s := dovetest.Start(t, &dovetest.Options{Profile: profile, TLS: true})
			if s.TLSAddr == "" || s.TLSAddr == s.Addr || s.RootCAs == nil {
				t.Fatalf("Addr %q, TLSAddr %q, RootCAs %v", s.Addr, s.TLSAddr, s.RootCAs)
			}
			s.AddUser(t, "alice", "secret")

			// The plain port announces STARTTLS (before login).
			plain := dial(t, s)
			if caps := capabilities(t, plain); !caps.Has(imap.CapStartTLS) {
				t.Errorf("STARTTLS not announced: %v", raw(caps))
			}

			opts := &imapclient.Options{TLSConfig: &tls.Config{RootCAs: s.RootCAs}}
			c, err := imapclient.DialStartTLS(s.Addr, opts)
			if err != nil {
				t.Fatalf("STARTTLS: %v\n%s", err, s.Log())
			}
			t.Cleanup(func() { c.Close() })
			login(t, s, c, "alice", "secret")
			if err := c.Create("ViaStartTLS", nil).Wait(); err != nil {
				t.Errorf("CREATE over STARTTLS: %v", err)
			}

			c2, err := imapclient.DialTLS(s.TLSAddr, opts)
			if err != nil {
				t.Fatalf("implicit TLS: %v\n%s", err, s.Log())
			}
			t.Cleanup(func() { c2.Close() })
			login(t, s, c2, "alice", "secret")
			if _, err := c2.Select("ViaStartTLS", nil).Wait(); err != nil {
				t.Errorf("SELECT over implicit TLS: %v", err)
			}

			// Server.TLSConfig is enough too, and "localhost" is in the
			// certificate as well.
			cfg := s.TLSConfig()
			cfg.ServerName = "localhost"
			c3, err := imapclient.DialTLS(s.TLSAddr, &imapclient.Options{TLSConfig: cfg})
			if err != nil {
				t.Fatalf("implicit TLS with Server.TLSConfig: %v", err)
			}
			t.Cleanup(func() { c3.Close() })
			login(t, s, c3, "alice", "secret")

			// An untrusting client fails the handshake.
			if c4, err := imapclient.DialTLS(s.TLSAddr, nil); err == nil {
				c4.Close()
				t.Error("implicit TLS without RootCAs succeeded")
			}
			checkLog(t, s)
		})
	}
}

func TestMasterUser(t *testing.T) {
	t.Parallel()
	s := dovetest.Start(t, &dovetest.Options{MasterUser: "admin", MasterPassword: "masterpw"})
	s.AddUser(t, "alice", "secret")

	c := dial(t, s)
	login(t, s, c, "alice*admin", "masterpw")
	if err := c.Create("ByMaster", nil).Wait(); err != nil {
		t.Fatalf("CREATE as master: %v", err)
	}

	// The mailbox was created in alice's account.
	c2 := dial(t, s)
	login(t, s, c2, "alice", "secret")
	list, err := c2.List("", "*", nil).Collect()
	if err != nil {
		t.Fatalf("LIST: %v", err)
	}
	var names []string
	for _, mb := range list {
		names = append(names, mb.Mailbox)
	}
	if !slices.Contains(names, "ByMaster") {
		t.Errorf("alice's mailboxes %v lack ByMaster", names)
	}
	if out := s.Doveadm(t, "mailbox", "list", "-u", "alice"); !strings.Contains(out, "ByMaster") {
		t.Errorf("doveadm mailbox list -u alice = %q, lacks ByMaster", out)
	}

	if err := dial(t, s).Login("alice*admin", "secret").Wait(); err == nil {
		t.Error("master login with the user's password succeeded")
	}
	if err := dial(t, s).Login("admin", "masterpw").Wait(); err == nil {
		t.Error("master user logged in as itself")
	}
	if err := dial(t, s).Login("ghost*admin", "masterpw").Wait(); err == nil {
		t.Error("master login as an unknown user succeeded")
	}
	checkLog(t, s)
}

// TestMetadataBumpsModSeq checks the Dovecot behaviour the IMAP store must
// respect: SETMETADATA on a mailbox increases its HIGHESTMODSEQ.
func TestMetadataBumpsModSeq(t *testing.T) {
	t.Parallel()
	s := dovetest.Start(t, &dovetest.Options{MetadataPlugin: true})
	s.AddUser(t, "alice", "secret")
	c := dial(t, s)
	login(t, s, c, "alice", "secret")
	if caps := capabilities(t, c); !caps.Has(imap.CapMetadata) || !caps.Has(imap.CapCondStore) {
		t.Fatalf("METADATA or CONDSTORE missing: %v", raw(caps))
	}
	if err := c.Create("Meta", nil).Wait(); err != nil {
		t.Fatalf("CREATE: %v", err)
	}
	appendMessage(t, c, "Meta")

	modseq := func() uint64 {
		t.Helper()
		st, err := c.Status("Meta", &imap.StatusOptions{HighestModSeq: true}).Wait()
		if err != nil {
			t.Fatalf("STATUS HIGHESTMODSEQ: %v", err)
		}
		return st.HighestModSeq
	}
	before := modseq()
	value := []byte("sync anchor 1")
	if err := c.SetMetadata("Meta", map[string]*[]byte{"/private/comment": &value}).Wait(); err != nil {
		t.Fatalf("SETMETADATA: %v\n%s", err, s.Log())
	}
	after := modseq()
	if after <= before {
		t.Errorf("HIGHESTMODSEQ %d after SETMETADATA, %d before: want an increase", after, before)
	}
	t.Logf("HIGHESTMODSEQ %d -> %d", before, after)

	md, err := c.GetMetadata("Meta", []string{"/private/comment"}, nil).Wait()
	if err != nil {
		t.Fatalf("GETMETADATA: %v", err)
	}
	if v := md.Entries["/private/comment"]; v == nil || string(*v) != string(value) {
		t.Errorf("GETMETADATA /private/comment = %v, want %q", v, value)
	}
	checkLog(t, s)
}

// TestMetadataExplicitProfile checks that METADATA is announced with an
// explicit imap_capability, which otherwise hides it.
func TestMetadataExplicitProfile(t *testing.T) {
	t.Parallel()
	s := dovetest.Start(t, &dovetest.Options{Profile: dovetest.ProfileMinimal, MetadataPlugin: true})
	s.AddUser(t, "alice", "secret")
	c := dial(t, s)
	login(t, s, c, "alice", "secret")
	got := raw(capabilities(t, c))
	if want := []string{"IMAP4rev1", "LITERAL+", "METADATA"}; !slices.Equal(got, want) {
		t.Errorf("capabilities %v, want %v", got, want)
	}
	value := []byte("x")
	if err := c.SetMetadata("INBOX", map[string]*[]byte{"/private/comment": &value}).Wait(); err != nil {
		t.Errorf("SETMETADATA: %v", err)
	}
}

func TestDoveadm(t *testing.T) {
	t.Parallel()
	s := dovetest.Start(t, nil)
	s.AddUser(t, "alice", "secret")
	s.Doveadm(t, "mailbox", "create", "-u", "alice", "Made/By/Doveadm")
	out := s.Doveadm(t, "mailbox", "list", "-u", "alice")
	for _, want := range []string{"INBOX", "Made/By/Doveadm"} {
		if !strings.Contains(out, want) {
			t.Errorf("doveadm mailbox list = %q, lacks %s", out, want)
		}
	}
	if out := s.Doveadm(t, "user", "alice"); !strings.Contains(out, s.Dir) {
		t.Errorf("doveadm user alice = %q, home not in %s", out, s.Dir)
	}

	c := dial(t, s)
	login(t, s, c, "alice", "secret")
	if _, err := c.Select("Made/By/Doveadm", nil).Wait(); err != nil {
		t.Errorf("SELECT mailbox made by doveadm: %v", err)
	}
	// Documented quirk of maildir with the "/" separator.
	if err := c.Create("With.Dot", nil).Wait(); err == nil {
		t.Error(`CREATE "With.Dot" succeeded; the package documentation says Dovecot rejects "."`)
	}
	if !strings.Contains(s.Log(), "Login: user=<alice>") {
		t.Errorf("log lacks the login:\n%s", s.Log())
	}
	checkLog(t, s)
}

// TestManyParallel runs several servers at once: nothing may be shared.
func TestManyParallel(t *testing.T) {
	t.Parallel()
	for i := range 6 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			s := dovetest.Start(t, &dovetest.Options{TLS: i%2 == 0})
			t.Logf("Start took %v", time.Since(begin))
			s.AddUser(t, "alice", "secret")
			c := dial(t, s)
			login(t, s, c, "alice", "secret")
			appendMessage(t, c, "INBOX")
		})
	}
}

// TestMailFormat: each mailbox format stores what APPEND sends, in its
// own directory layout, and "." in folder names works where it is no
// hierarchy separator on disk.
func TestMailFormat(t *testing.T) {
	t.Parallel()
	for _, f := range []struct {
		format dovetest.MailFormat
		dir    string // under the user's home
		dot    bool   // CREATE "With.Dot" succeeds
	}{{"", "Maildir", false}, {dovetest.MailSdbox, "sdbox", true}, {dovetest.MailMdbox, "mdbox", true}} {
		name := string(f.format)
		if name == "" {
			name = "default"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := dovetest.Start(t, &dovetest.Options{MailFormat: f.format})
			s.AddUser(t, "alice", "secret")
			c := dial(t, s)
			login(t, s, c, "alice", "secret")
			if err := c.Create("Box", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			cmd := c.Append("Box", int64(len(testMessage)), nil)
			if _, err := cmd.Write([]byte(testMessage)); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := cmd.Wait(); err != nil {
				t.Fatalf("APPEND: %v", err)
			}
			st, err := c.Status("Box", &imap.StatusOptions{NumMessages: true}).Wait()
			if err != nil || st.NumMessages == nil || *st.NumMessages != 1 {
				t.Fatalf("STATUS Box = %+v, %v; want 1 message", st, err)
			}
			if _, err := os.Stat(filepath.Join(s.Dir, "home", "alice", f.dir)); err != nil {
				t.Errorf("the mail is not in ~/%s: %v", f.dir, err)
			}
			if err := c.Create("With.Dot", nil).Wait(); (err == nil) != f.dot {
				t.Errorf(`CREATE "With.Dot": %v, want success %v`, err, f.dot)
			}
			checkLog(t, s)
		})
	}
}
