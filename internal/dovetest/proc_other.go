//go:build !unix

package dovetest

import (
	"os"
	"syscall"
)

// Dovecot runs on unix systems only; these let the package compile elsewhere,
// where Start skips the test because no dovecot binary is found.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func signalTerm(p *os.Process) error { return p.Kill() }

func killGroup(p *os.Process) error { return p.Kill() }
