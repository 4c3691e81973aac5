package loadgen

import (
	"fmt"

	"syncml-imap/syncml"
)

// apply carries out one of the server's changes on the device, as a
// phone does, and returns the statuses answering its items
// (OMA-TS-DS_Protocol 1.2, 6: 201 for an Add, 200 for a Replace or
// Delete, 211 for a Delete of an item the device does not have, 213 for a
// piece of a large object). A Replace or Delete of an ID the device never
// had is the server's error and is noted as such.
func (s *session) apply(ch *syncml.Change) []*syncml.Status {
	var out []*syncml.Status
	for _, it := range ch.Items {
		st := &syncml.Status{CmdRef: ch.CmdID, Cmd: string(ch.Op), Data: syncml.StatusOK.String()}
		if it.Source != nil {
			st.SourceRef = []string{it.Source.LocURI}
		}
		if it.Target != nil {
			st.TargetRef = []string{it.Target.LocURI}
		}
		out = append(out, st)
		data, complete, code := s.assemble(ch, it)
		if code != 0 {
			st.Data = code.String()
			continue
		}
		if !complete {
			st.Data = syncml.StatusChunkAccepted.String()
			continue
		}
		d := s.dev
		switch target := locURI(it.Target); ch.Op {
		case "Add":
			guid := locURI(it.Source)
			if guid == "" {
				st.Data = syncml.StatusIncompleteCommand.String()
				s.itemErrs = append(s.itemErrs, "the server sent an Add without a Source")
				continue
			}
			luid := d.add(data)
			s.maps = append(s.maps, syncml.MapItem{Target: guid, Source: luid})
			st.Data = syncml.StatusItemAdded.String()
			s.stats.Added++
		case "Replace":
			if _, ok := d.items[target]; !ok {
				st.Data = syncml.StatusNotFound.String()
				s.itemErrs = append(s.itemErrs, fmt.Sprintf("the server sent Replace for %q, an ID the device does not have", target))
				continue
			}
			d.items[target] = data
			s.stats.Replaced++
		case "Delete":
			if _, ok := d.items[target]; !ok {
				st.Data = syncml.StatusItemNotDeleted.String()
				s.itemErrs = append(s.itemErrs, fmt.Sprintf("the server sent Delete for %q, an ID the device does not have", target))
				continue
			}
			delete(d.items, target)
			s.stats.Deleted++
		default:
			st.Data = syncml.StatusNotImplemented.String()
			s.itemErrs = append(s.itemErrs, "the server sent "+string(ch.Op))
		}
	}
	return out
}

// assemble returns an item's content, putting the pieces of a large
// object together (OMA-TS-SyncML_RepPro 1.2, 7.3): complete is false
// while more is to come; code is a failure status.
func (s *session) assemble(ch *syncml.Change, it syncml.Item) (data string, complete bool, code syncml.StatusCode) {
	text := ""
	if it.Data != nil {
		text = it.Data.Text
	}
	c := s.chunk
	if c == nil && !it.MoreData {
		if ch.Op != "Delete" && it.Data == nil {
			s.itemErrs = append(s.itemErrs, "the server sent "+string(ch.Op)+" without data")
			return "", false, syncml.StatusIncompleteCommand
		}
		return text, true, 0
	}
	if c == nil {
		c = &chunk{op: ch.Op, source: locURI(it.Source), target: locURI(it.Target)}
		if it.Meta != nil {
			c.size = it.Meta.Size
		} else if ch.Meta != nil {
			c.size = ch.Meta.Size
		}
		s.chunk = c
	} else if c.op != ch.Op || c.source != locURI(it.Source) || c.target != locURI(it.Target) {
		// A new item before the last one ended: the last one is lost.
		s.chunk = nil
		s.itemErrs = append(s.itemErrs, "the server began an item before its chunked item ended")
		return "", false, syncml.StatusIncompleteCommand
	}
	c.data.WriteString(text)
	if it.MoreData {
		return "", false, 0
	}
	s.chunk = nil
	if c.size > 0 && int64(c.data.Len()) != c.size {
		s.itemErrs = append(s.itemErrs, fmt.Sprintf("a chunked item has %d bytes, announced %d", c.data.Len(), c.size))
		return "", false, syncml.StatusSizeMismatch
	}
	return c.data.String(), true, 0
}
