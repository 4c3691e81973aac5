package dovetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Fault injection: a test may stop, kill and restart its server while a
// client is connected. The server keeps its ports, configuration, users
// and mail across a restart, so Addr stays valid.
//
// These methods must not run concurrently with each other; the cleanup
// registered by Start stops whatever process runs at the end.

// Stop shuts the server down as "systemctl stop dovecot" does: SIGTERM
// to the master (which waits a second for its children), then SIGTERM to
// whatever of its process group is left (Dovecot 2.3's master leaves the
// imap processes of connected clients running; systemd signals the whole
// control group), SIGKILL after a second. It returns when all are gone:
// connected clients are disconnected, new connections are refused until
// [Server.Restart].
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	pgid := s.proc.cmd.Process.Pid
	if err := s.proc.stop(); err != nil && !isEarlyExit(err) {
		t.Fatalf("dovetest: stopping dovecot: %v\n%s", err, s.Log())
	}
	procs, err := groupProcesses(pgid)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	for _, p := range procs {
		if proc, err := os.FindProcess(p.pid); err == nil {
			proc.Signal(syscall.SIGTERM)
		}
	}
	if waitGroupGone(pgid, time.Second) != nil {
		if err := killGroup(s.proc.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatalf("dovetest: killing what is left of dovecot: %v", err)
		}
		if err := waitGroupGone(pgid, killTimeout); err != nil {
			t.Fatalf("dovetest: %v", err)
		}
	}
}

// Kill sends SIGKILL to the dovecot master and every process of its
// process group (login, auth, imap, ...), as a crash or an OOM kill of the
// whole server would, and waits until they are gone.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	p := s.proc
	if err := killGroup(p.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("dovetest: killing dovecot: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(killTimeout):
		t.Fatalf("dovetest: dovecot (pid %d) survives SIGKILL", p.cmd.Process.Pid)
	}
	// Killed on purpose: the cleanup must not report an early exit.
	p.stopOnce.Do(func() {})
	if err := waitGroupGone(p.cmd.Process.Pid, killTimeout); err != nil {
		t.Fatalf("dovetest: %v", err)
	}
}

// KillIMAPProcesses sends SIGKILL to the server's imap processes, those
// that serve logged-in clients, and returns how many there were. The
// master and the login processes stay: the server accepts new
// connections at once, and the killed clients' connections break. It
// needs /proc (Linux).
func (s *Server) KillIMAPProcesses(t testing.TB) int {
	t.Helper()
	procs, err := groupProcesses(s.proc.cmd.Process.Pid)
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	n := 0
	for _, p := range procs {
		if p.comm != "imap" {
			continue
		}
		proc, err := os.FindProcess(p.pid)
		if err == nil {
			err = proc.Kill()
		}
		if err != nil && !errors.Is(err, os.ErrProcessDone) {
			t.Fatalf("dovetest: killing imap process %d: %v", p.pid, err)
		}
		n++
	}
	return n
}

// Restart starts a server that was stopped or killed again, with the same
// configuration, ports, users and mail. It fails the test if the server
// is running, or if it does not greet in time (for example because
// another process took its port meanwhile).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	select {
	case <-s.proc.done:
	default:
		t.Fatal("dovetest: Restart of a server that is running")
	}
	token, err := s.greetingToken()
	if err != nil {
		t.Fatalf("dovetest: %v", err)
	}
	begin := time.Now()
	proc, err := startProcess(s.bins.dovecot, []string{"-F", "-c", s.ConfigPath}, s.Dir, s.env, s.errPath)
	if err != nil {
		t.Fatalf("dovetest: restarting dovecot: %v", err)
	}
	s.proc = proc
	if err := waitGreeting(proc, s.Addr, token); err != nil {
		t.Fatalf("dovetest: restarting dovecot on %s: %v\n%s", s.Addr, err, s.Log())
	}
	t.Logf("dovetest: dovecot restarted on %s in %v", s.Addr, time.Since(begin).Round(time.Millisecond))
}

// greetingToken reads the token of the server's greeting from its
// configuration, so that a restart waits for this server's greeting and
// not another's on the same port.
func (s *Server) greetingToken() (string, error) {
	data, err := os.ReadFile(s.ConfigPath)
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "login_greeting = Dovecot ready (dovetest "); ok {
			if tok, ok := strings.CutSuffix(rest, ")."); ok {
				return tok, nil
			}
		}
	}
	return "", fmt.Errorf("no greeting token in %s", s.ConfigPath)
}

// groupProcess is one process of a process group, from /proc.
type groupProcess struct {
	pid  int
	comm string
}

// groupProcesses lists the live processes of process group pgid.
func groupProcesses(pgid int) ([]groupProcess, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing processes (needs /proc): %w", err)
	}
	var out []groupProcess
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid pgrp ...": comm may hold spaces and ")".
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(string(stat[end+1:]))
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err != nil || g != pgid {
			continue
		}
		out = append(out, groupProcess{pid: pid, comm: string(stat[open+1 : end])})
	}
	return out, nil
}

// waitGroupGone waits until no process of group pgid is left, so that a
// restart finds the ports and sockets free.
func waitGroupGone(pgid int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		procs, err := groupProcesses(pgid)
		if err != nil || len(procs) == 0 {
			return nil // without /proc there is nothing to wait for
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes of dovecot's group %d survive SIGKILL: %v", pgid, procs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
