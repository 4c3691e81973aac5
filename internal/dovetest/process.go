package dovetest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"
)

// process is a running dovecot master.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status, valid once done is closed

	stopOnce sync.Once
	stopErr  error
}

// Grace periods of process.stop.
const (
	termTimeout = 10 * time.Second
	killTimeout = 5 * time.Second
)

// startProcess starts path with args in dir, with the environment env and
// the standard output and error going to the file errPath.
func startProcess(path string, args []string, dir string, env []string, errPath string) (*process, error) {
	out, err := os.OpenFile(errPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", errPath, err)
	}
	defer out.Close() // the child has its own copy

	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", path, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// earlyExitError reports that dovecot had exited before it was stopped.
type earlyExitError struct{ err error }

func (e *earlyExitError) Error() string {
	if e.err == nil {
		return "dovecot had exited (status 0) before it was stopped"
	}
	return fmt.Sprintf("dovecot had exited before it was stopped: %v", e.err)
}

// isEarlyExit reports whether err is an *earlyExitError.
func isEarlyExit(err error) bool {
	_, ok := errors.AsType[*earlyExitError](err)
	return ok
}

// stop terminates the process: SIGTERM, which makes the dovecot master stop
// its children and exit (it waits a second for them), then, if it is still
// running after termTimeout, SIGKILL to its whole process group. It returns
// an *earlyExitError if the process had already exited. It is idempotent.
func (p *process) stop() error {
	p.stopOnce.Do(func() {
		p.stopErr = p.terminate()
	})
	return p.stopErr
}

func (p *process) terminate() error {
	select {
	case <-p.done:
		return &earlyExitError{p.err} // e.g. failed to bind, or crashed
	default:
	}
	if err := signalTerm(p.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("sending SIGTERM: %w", err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(termTimeout):
	}
	if err := killGroup(p.cmd.Process); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("no exit %v after SIGTERM; killing: %w", termTimeout, err)
	}
	select {
	case <-p.done:
		return fmt.Errorf("no exit %v after SIGTERM; killed", termTimeout)
	case <-time.After(killTimeout):
		return fmt.Errorf("pid %d survives SIGKILL", p.cmd.Process.Pid)
	}
}
