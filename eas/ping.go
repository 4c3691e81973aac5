package eas

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"syncml-imap/internal/wbxml"
	"syncml-imap/pim"
)

// Ping (MS-ASCMD 2.2.1.13): the client waits until one of its folders
// changes or the heartbeat ends. The store wakes the Ping where it can
// (pim.Watcher: its own writes, IMAP IDLE), else it is asked every
// PingPoll; the folders and heartbeat of the last Ping are kept, for a
// Ping that names none.

// Heartbeat bounds (seconds) and how often a store that cannot watch is
// asked.
const (
	minHeartbeat = 60
	maxHeartbeat = 1800
	pingPoll     = 15 * time.Second
)

func (h *Handler) pingPoll() time.Duration {
	if h.PingPoll > 0 {
		return h.PingPoll
	}
	return pingPoll
}

type pingState struct {
	Heartbeat int      `json:"heartbeat"`
	Folders   []string `json:"folders"`
}

func (c *call) ping() (*wbxml.Node, error) {
	const ns = "Ping"
	key := pim.DeviceKey(c.req.DeviceID, "eas-ping")
	var last pingState
	if raw, err := c.st.LoadState(c.ctx, key); err != nil {
		return nil, err
	} else if raw != nil {
		json.Unmarshal(raw, &last)
	}
	hb, folders := last.Heartbeat, last.Folders
	if c.body != nil {
		if n, err := strconv.Atoi(text(c.body, "HeartbeatInterval")); err == nil {
			hb = n
		}
		if fs := child(c.body, "Folders"); fs != nil {
			folders = nil
			for _, f := range children(fs, "Folder") {
				folders = append(folders, text(f, "Id"))
			}
		}
	}
	switch {
	case len(folders) == 0 || hb == 0:
		return el(ns, "Ping", status("", 3)), nil // the client must name them
	case hb < minHeartbeat:
		return el(ns, "Ping", status("", 5), tx("", "HeartbeatInterval", strconv.Itoa(minHeartbeat))), nil
	case hb > maxHeartbeat:
		return el(ns, "Ping", status("", 5), tx("", "HeartbeatInterval", strconv.Itoa(maxHeartbeat))), nil
	}
	if hb != last.Heartbeat || !slices.Equal(folders, last.Folders) {
		raw, _ := json.Marshal(pingState{hb, folders})
		if err := c.st.SaveState(c.ctx, key, raw); err != nil {
			return nil, err
		}
	}
	policy, err := c.slot.Policy(c.h.Policy)
	if err != nil {
		return nil, err
	}
	end := time.Now().Add(time.Duration(hb) * time.Second)
	// The watch begins before the first look, so that a change made
	// between a look and the wait wakes the wait.
	watch, err := pim.WatchStore(c.ctx, c.st, c.h.pingPoll(), c.pingDatabases(folders, &policy)...)
	if err != nil {
		return nil, err
	}
	defer func() { watch.Close() }()
	for {
		var changed []string
		for _, id := range folders {
			kind, ok := kinds[id]
			if !ok {
				return el(ns, "Ping", status("", 7)), nil // the hierarchy changed
			}
			rec, err := c.loadRecord(kind)
			if err != nil {
				return nil, err
			}
			n, err := c.news(kind, rec, &policy, false)
			if errors.Is(err, pim.ErrSyncPointInvalid) || err == nil && n > 0 {
				changed = append(changed, id)
			} else if err != nil {
				return nil, err
			}
		}
		if len(changed) > 0 {
			out := el("", "Folders")
			for _, id := range changed {
				out.Children = append(out.Children, tx("", "Folder", id))
			}
			return el(ns, "Ping", status("", 2), out), nil
		}
		if time.Until(end) <= 0 {
			return el(ns, "Ping", status("", 1)), nil
		}
		if changed, err := c.await(&watch, folders, &policy, end); err != nil {
			return nil, err
		} else if !changed {
			return el(ns, "Ping", status("", 1)), nil
		}
	}
}

// pingDatabases are the store databases behind the folders.
func (c *call) pingDatabases(folders []string, policy *pim.Policy) []pim.Kind {
	var dbs []pim.Kind
	for _, id := range folders {
		if kind, ok := kinds[id]; ok {
			dbs = append(dbs, c.view(kind, policy).Databases()...)
		}
	}
	return dbs
}

// await waits on the watch until a folder may have changed (true) or the
// heartbeat ends. While the watch needs no store, the call gives its
// store back (its IMAP connection goes to the pool, or is closed) and,
// after a wake, logs in again for the next look, with a new watch of
// the new store begun first.
func (c *call) await(watch *pim.Watch, folders []string, policy *pim.Policy, end time.Time) (bool, error) {
	detached := (*watch).Detached()
	if detached {
		c.st.Close()
		c.st = nil
	}
	changed, err := (*watch).Wait(c.ctx, end)
	if err != nil || !changed || !detached {
		return changed, err
	}
	_, pass, _ := c.r.BasicAuth()
	if c.st, err = c.h.Auth.Login(c.ctx, c.user, pass); err != nil {
		return false, err
	}
	next, err := pim.WatchStore(c.ctx, c.st, c.h.pingPoll(), c.pingDatabases(folders, policy)...)
	if err != nil {
		return false, err
	}
	(*watch).Close()
	*watch = next
	return true, nil
}

// itemOperations answers Fetch of items (MS-ASCMD 2.2.1.10); the other
// operations (EmptyFolderContents, Move) are refused.
func (c *call) itemOperations() (*wbxml.Node, error) {
	const ns = "ItemOperations"
	resp := el("", "Response")
	if c.body == nil {
		return el(ns, "ItemOperations", status("", 2)), nil
	}
	for _, op := range c.body.Children {
		if op.Name != "Fetch" {
			resp.Children = append(resp.Children, el("", op.Name, status("", 2)))
			continue
		}
		id, sid := text(op, "CollectionId"), text(op, "ServerId")
		kind, ok := kinds[id]
		if !ok {
			resp.Children = append(resp.Children, el("", "Fetch", status("", 6), tx("AirSync", "CollectionId", id), tx("AirSync", "ServerId", sid)))
			continue
		}
		policy, err := c.slot.Policy(c.h.Policy)
		if err != nil {
			return nil, err
		}
		got, err := c.view(kind, &policy).Get(c.ctx, sid)
		if err != nil {
			return nil, err
		}
		if len(got) == 0 || got[0] == nil {
			resp.Children = append(resp.Children, el("", "Fetch", status("", 6), tx("AirSync", "CollectionId", id), tx("AirSync", "ServerId", sid)))
			continue
		}
		resp.Children = append(resp.Children, el("", "Fetch", status("", 1), tx("AirSync", "CollectionId", id), tx("AirSync", "ServerId", sid),
			tx("AirSync", "Class", map[pim.Kind]string{pim.Contacts: "Contacts", pim.Calendar: "Calendar", pim.Tasks: "Tasks"}[kind]),
			el("ItemOperations", "Properties", fieldNodes(fieldsOf(kind, got[0].Data, c.req.Version))...)))
	}
	return el(ns, "ItemOperations", status("", 1), resp), nil
}
