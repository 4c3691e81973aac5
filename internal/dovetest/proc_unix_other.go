//go:build unix && !linux

package dovetest

import "syscall"

// sysProcAttr puts dovecot in a process group of its own, so that killGroup
// reaches its children too.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
