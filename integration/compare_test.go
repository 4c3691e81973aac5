package integration

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"syncml-imap/config"
	"syncml-imap/imapstore"
	"syncml-imap/integration/syncevo"
	"syncml-imap/internal/dovetest"
	"syncml-imap/plugin"
)

var compareFlag = flag.Bool("compare", false, "run TestCompareSyncEvoServer, a slow sync of 2,000 contacts against syncml-imap and syncevo-http-server (or SYNCML_IMAP_COMPARE=1)")

const compareN, compareMaxMsg = 2000, 150000

func compareCard(i int) []byte {
	return []byte(fmt.Sprintf("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Comparison Person %04d\r\nN:Person %04d;Comparison;;;\r\n"+
		"TEL;TYPE=CELL:+49 170 %07d\r\nEMAIL;TYPE=INTERNET:person%04d@example.org\r\nADR;TYPE=HOME:;;Street %d;Berlin;;10115;Germany\r\n"+
		"NOTE:contact number %04d of the server comparison\r\nEND:VCARD\r\n", i, i, i, i, i, i))
}

func TestCompareSyncEvoServer(t *testing.T) {
	if !*compareFlag && os.Getenv("SYNCML_IMAP_COMPARE") != "1" {
		t.Skip("opt-in: -compare or SYNCML_IMAP_COMPARE=1")
	}
	var cards [][]byte
	for i := 1; i <= compareN; i++ {
		cards = append(cards, compareCard(i))
	}
	run := func(url, user, pass, dev string) time.Duration {
		c := syncevo.New(t, &syncevo.Options{URL: url, Username: user, Password: pass, DeviceID: dev,
			MaxMsgSize: compareMaxMsg, AllowSlowSync: true, LogLevel: 1, Timeout: 5 * time.Minute})
		writeNumbered(t, c, cards)
		r := c.Sync(t, syncevo.Slow)
		if !r.OK() {
			t.Fatalf("slow sync against %s failed: %s\n%s", url, r, r.Output)
		}
		return r.Duration
	}

	// (a) syncml-imap in front of Dovecot.
	dove := dovetest.Start(t, &dovetest.Options{})
	dove.AddUser(t, "carol@example.org", "carol-pw")
	cfg := config.Default()
	cfg.IMAP.Address = dove.Addr
	h, err := plugin.NewHandler(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/syncml", h)
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close(); h.Server.Close() })
	ours := run("http://"+ln.Addr().String()+"/syncml", "carol@example.org", "carol-pw", "cmp-device-a")
	a, err := imapstore.Dial(context.Background(), &imapstore.Options{Address: dove.Addr}, "carol@example.org", "carol-pw")
	if err != nil {
		t.Fatal(err)
	}
	d, err := a.Changes(context.Background(), imapstore.KindContacts, nil)
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Added) != compareN {
		t.Fatalf("syncml-imap: the mailbox holds %d contacts, want %d", len(d.Added), compareN)
	}

	// (b) syncevo-http-server with a file backend.
	url, dir := startSyncEvoServer(t, "dave", "dave-pw", "cmp-device-b")
	theirs := run(url, "dave", "dave-pw", "cmp-device-b")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != compareN {
		t.Fatalf("syncevo-http-server: the file backend holds %d contacts, want %d", len(entries), compareN)
	}
	t.Logf("slow sync of %d contacts: syncml-imap %.2f s, syncevo-http-server %.2f s, ratio X/Y = %.2f",
		compareN, ours.Seconds(), theirs.Seconds(), ours.Seconds()/theirs.Seconds())
}

// startSyncEvoServer starts a D-Bus session bus, syncevo-dbus-server and
// syncevo-http-server (bound to 127.0.0.1) with one client configuration
// for dev whose addressbook is a file backend; it returns the URL and the
// backend's directory.
func startSyncEvoServer(t *testing.T, user, pass, dev string) (string, string) {
	for _, f := range []string{"/usr/bin/syncevo-http-server", "/usr/libexec/syncevo-dbus-server", "/usr/bin/dbus-daemon"} {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("%s missing (apt-get install syncevolution-http python3-twisted)", f)
		}
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import twisted, dbus, gi, OpenSSL").Run(); err != nil {
		t.Skip("python3-twisted, python3-dbus, python3-gi or python3-openssl missing")
	}
	root := t.TempDir()
	home, data := filepath.Join(root, "home"), filepath.Join(root, "data", "addressbook")
	env := []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC"}
	for k, v := range map[string]string{"XDG_CONFIG_HOME": ".config", "XDG_DATA_HOME": ".local/share", "XDG_CACHE_HOME": ".cache", "XDG_RUNTIME_DIR": ".run"} {
		os.MkdirAll(filepath.Join(home, v), 0o700)
		env = append(env, k+"="+filepath.Join(home, v))
	}
	os.MkdirAll(data, 0o700)
	cmd := exec.Command("syncevolution", "--daemon=no", "--configure", "--keyring=no", "--template", "none",
		"syncURL=none", "username="+user, "password="+pass, "peerIsClient=1", "remoteDeviceId="+dev,
		"loglevel=1", "printChanges=0", "dumpData=0", "maxMsgSize="+fmt.Sprint(compareMaxMsg),
		"addressbook/backend=file", "addressbook/database=file://"+data, "addressbook/databaseFormat=text/vcard",
		"addressbook/uri=contacts", "addressbook/sync=two-way", "--", dev, "addressbook")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("configuring the server side: %v\n%s", err, out)
	}
	src, err := os.ReadFile("/usr/bin/syncevo-http-server")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(src), "#!@PYTHON@", "#!/usr/bin/python3", 1)
	s = strings.Replace(s, "reactor.listenTCP(url.port, site)", `reactor.listenTCP(url.port, site, interface="127.0.0.1")`, 1)
	script := filepath.Join(root, "syncevo-http-server.py")
	os.WriteFile(script, []byte(s), 0o700)

	start := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(name, args...)
		c.Env = env
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		logf, _ := os.Create(filepath.Join(root, filepath.Base(name)+".log"))
		c.Stdout, c.Stderr = logf, logf
		if err := c.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { syscall.Kill(-c.Process.Pid, syscall.SIGKILL); c.Wait() })
		return c
	}
	// The session bus, in the foreground of its own process group.
	sock := filepath.Join(root, "bus")
	bus := "unix:path=" + sock
	start("dbus-daemon", "--session", "--nofork", "--address="+bus)
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+bus)
	start("/usr/libexec/syncevo-dbus-server", "--duration=unlimited", "--verbosity=1")
	time.Sleep(time.Second)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("http://127.0.0.1:%d/syncevolution", port)
	start("/usr/bin/python3", script, url)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			t.Fatalf("syncevo-http-server does not listen on %d", port)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return url, data
}
