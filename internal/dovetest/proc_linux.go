//go:build linux

package dovetest

import "syscall"

// sysProcAttr puts dovecot in a process group of its own, so that killGroup
// reaches its children too, and has the kernel send it SIGTERM if the test
// binary dies without running its cleanups (a test timeout, a crash).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
