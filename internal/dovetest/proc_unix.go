//go:build unix

package dovetest

import (
	"os"
	"syscall"
)

// signalTerm asks the dovecot master to shut down.
func signalTerm(p *os.Process) error {
	return p.Signal(syscall.SIGTERM)
}

// killGroup kills the process group that sysProcAttr made p the leader of:
// the dovecot master and the children it has not stopped.
func killGroup(p *os.Process) error {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil {
		if err == syscall.ESRCH {
			return os.ErrProcessDone
		}
		return err
	}
	return nil
}
