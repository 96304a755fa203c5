package consul

import (
	"cmp"
	"slices"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/omninode/omnibase-infra/events"
)

// kvEntry is what a watch saw of one key.
type kvEntry struct {
	Value       string
	ModifyIndex uint64
}

// kvSnapshot is what a watch saw under its prefix: each key's entry.
type kvSnapshot map[string]kvEntry

// snapshotOf is the snapshot of a List answer. It is never nil, so an empty prefix is a snapshot.
func snapshotOf(pairs api.KVPairs) kvSnapshot {
	s := make(kvSnapshot, len(pairs))
	for _, p := range pairs {
		s[p.Key] = kvEntry{Value: string(p.Value), ModifyIndex: p.ModifyIndex}
	}
	return s
}

// kvChanges are the events from prev to next, in key order: one for each key created or changed
// (its ModifyIndex differs) and one, Deleted, for each key gone, whose ModifyIndex is index, the
// query's index that saw it gone. A nil prev is the watch's start: every key of next is reported,
// so a consumer knows the starting point.
func kvChanges(adapterID string, prev, next kvSnapshot, index uint64, at time.Time) []events.Message {
	keys := make([]string, 0, len(next))
	for k, e := range next {
		if old, ok := prev[k]; !ok || old.ModifyIndex != e.ModifyIndex {
			keys = append(keys, k)
		}
	}
	for k := range prev {
		if _, ok := next[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []events.Message
	for _, k := range keys {
		change := events.ConsulKVChanged{AdapterID: adapterID, KVKey: k, ObservedAt: at}
		if e, ok := next[k]; ok {
			change.Value, change.ModifyIndex = e.Value, e.ModifyIndex
		} else {
			change.Deleted, change.ModifyIndex = true, index
		}
		out = append(out, change)
	}
	return out
}

// instancesOf turns a health query's answer into the instances a ConsulServiceChanged lists,
// sorted by node and service id. An instance's address is the service's own, or its node's when
// the service has none (as Consul's DNS does); its status is the worst of its checks, node checks
// included.
func instancesOf(entries []*api.ServiceEntry) []events.ServiceInstance {
	out := make([]events.ServiceInstance, 0, len(entries))
	for _, e := range entries {
		var in events.ServiceInstance
		if e.Node != nil {
			in.Node, in.Address = e.Node.Node, e.Node.Address
		}
		if e.Service != nil {
			in.ServiceID, in.Port = e.Service.ID, e.Service.Port
			if e.Service.Address != "" {
				in.Address = e.Service.Address
			}
		}
		in.Status = e.Checks.AggregatedStatus()
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b events.ServiceInstance) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.ServiceID, b.ServiceID))
	})
	return out
}

// serviceChanges is the event from prev to next: none when both list the same instances with
// the same statuses. A nil prev is the watch's start: the list is reported even when empty.
func serviceChanges(adapterID, service string, prev, next []events.ServiceInstance, at time.Time) []events.Message {
	if prev != nil && slices.Equal(prev, next) {
		return nil
	}
	if next == nil {
		next = []events.ServiceInstance{}
	}
	return []events.Message{events.ConsulServiceChanged{AdapterID: adapterID, Service: service, Instances: next, ObservedAt: at}}
}
