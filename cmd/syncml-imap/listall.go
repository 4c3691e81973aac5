package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"syncml-imap/config"
	"syncml-imap/plugin"
)

// accountJSON is one account as "devices list -all -json" prints it.
type accountJSON struct {
	User    string     `json:"user"`
	Devices []slotJSON `json:"devices"`
	// Error says why the account's devices could not be listed.
	Error string `json:"error,omitempty"`
}

// listAll runs "devices list -all": the devices of every account it
// knows of (allUsers), each opened through the master user.
func (c *devicesCmd) listAll(ctx context.Context, f *commonFlags) int {
	cfg, err := f.load()
	if err != nil {
		fmt.Fprintln(c.stderr, err)
		return 1
	}
	if cfg.IMAP.MasterUser == "" {
		c.fail(errors.New("-all opens every account through the master user: configure [imap] master_user (and master_password)"))
		return 2
	}
	dc := newDaemonClient(cfg, c.servers, cfg.IMAP.MasterUser, cfg.IMAP.MasterPassword)
	users, daemonUp, err := c.allUsers(ctx, cfg, dc)
	if err != nil {
		c.fail(err)
		return 1
	}
	if len(users) == 0 {
		fmt.Fprintln(c.stderr, "devices list: no accounts to list: give -user, set [admin] users_file, or let the daemon run while users sync")
	}
	code := 0
	out := []accountJSON{}
	for i, user := range users {
		c.user = user
		a := accountJSON{User: user, Devices: []slotJSON{}}
		if !c.json && i > 0 {
			fmt.Fprintln(c.stdout)
		}
		if err := c.listAccount(ctx, cfg, dc, daemonUp, &a); err != nil {
			code = 1
			a.Error = err.Error()
			if !c.json {
				fmt.Fprintf(c.stdout, "%s: FAILED: %v\n", user, err)
			}
		}
		out = append(out, a)
	}
	if c.json {
		if err := c.writeJSON(out); err != nil {
			c.fail(err)
			return 1
		}
	}
	return code
}

// listAccount lists one account's devices: printed, or into a for -json.
// Lockouts are asked for only of a daemon that answered before.
func (c *devicesCmd) listAccount(ctx context.Context, cfg *config.Config, dc *daemonClient, daemonUp bool, a *accountJSON) error {
	store, err := plugin.OpenAccountReadOnly(ctx, cfg, a.User, "")
	if err != nil {
		return err
	}
	defer store.Close()
	l, err := readSlots(ctx, plugin.AdminDevices(cfg, store))
	if err != nil {
		return err
	}
	lk := &lockouts{}
	if daemonUp {
		lk = c.lockoutsOf(ctx, dc)
	}
	if c.json {
		a.Devices = l.slotsJSON(lk)
		return nil
	}
	return c.writeList(l, lk, cfg.Sync.MaxDevices)
}

// allUsers are the accounts -all goes over, sorted, each once (ignoring
// case, as Dovecot does): those of -user, of [admin] users_file, and
// those the running daemon saw log in. A daemon that does not answer is
// a note on stderr, and daemonUp false; an unreadable users file is an
// error.
func (c *devicesCmd) allUsers(ctx context.Context, cfg *config.Config, dc *daemonClient) (users []string, daemonUp bool, err error) {
	users = append(users, c.users...)
	if cfg.Admin.UsersFile != "" {
		named, err := plugin.ReadUsersFile(cfg.Admin.UsersFile)
		if err != nil {
			return nil, false, err
		}
		users = append(users, named...)
	}
	daemonUp = true
	var errs []error
	for _, srv := range dc.servers {
		var seen []string
		if err := dc.do(ctx, srv, plugin.AdminAccounts, nil, &seen); err != nil {
			errs = append(errs, err)
			continue
		}
		users = append(users, seen...)
	}
	if len(errs) > 0 {
		daemonUp = false
		fmt.Fprintf(c.stderr, "devices list: the accounts the daemon saw log in are left out: %v\n", errors.Join(errs...))
	}
	slices.SortStableFunc(users, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	users = slices.CompactFunc(users, strings.EqualFold)
	return users, daemonUp, nil
}
