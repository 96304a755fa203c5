package consul

import (
	"context"
	"fmt"

	"github.com/hashicorp/consul/api"

	"github.com/omninode/omnibase-infra/events"
)

// KV is the part of Consul's KV API the commands and the watches use; *api.KV is one.
type KV interface {
	Get(key string, q *api.QueryOptions) (*api.KVPair, *api.QueryMeta, error)
	List(prefix string, q *api.QueryOptions) (api.KVPairs, *api.QueryMeta, error)
	Put(p *api.KVPair, w *api.WriteOptions) (*api.WriteMeta, error)
	CAS(p *api.KVPair, w *api.WriteOptions) (bool, *api.WriteMeta, error)
	Delete(key string, w *api.WriteOptions) (*api.WriteMeta, error)
	DeleteTree(prefix string, w *api.WriteOptions) (*api.WriteMeta, error)
}

var _ KV = (*api.KV)(nil)

func kvGet(ctx context.Context, kv KV, c events.ConsulKVGet) (events.ConsulKVGetResult, error) {
	pair, _, err := kv.Get(c.KVKey, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return events.ConsulKVGetResult{}, fmt.Errorf("could not get key %q: %w", c.KVKey, err)
	}
	if pair == nil {
		return events.ConsulKVGetResult{Key: c.KVKey}, nil
	}
	return events.ConsulKVGetResult{Key: c.KVKey, Value: string(pair.Value), ModifyIndex: pair.ModifyIndex, Found: true}, nil
}

func kvPut(ctx context.Context, kv KV, c events.ConsulKVPut) (events.ConsulKVKeyResult, error) {
	if _, err := kv.Put(&api.KVPair{Key: c.KVKey, Value: []byte(c.Value)}, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return events.ConsulKVKeyResult{}, fmt.Errorf("could not put key %q: %w", c.KVKey, err)
	}
	return events.ConsulKVKeyResult{Key: c.KVKey}, nil
}

// kvDelete deletes a key, or with Recurse every key under it. A key that does not exist is
// deleted all the same: Consul answers success.
func kvDelete(ctx context.Context, kv KV, c events.ConsulKVDelete) (events.ConsulKVKeyResult, error) {
	w := (&api.WriteOptions{}).WithContext(ctx)
	var err error
	if c.Recurse {
		_, err = kv.DeleteTree(c.KVKey, w)
	} else {
		_, err = kv.Delete(c.KVKey, w)
	}
	if err != nil {
		return events.ConsulKVKeyResult{}, fmt.Errorf("could not delete key %q (recurse %t): %w", c.KVKey, c.Recurse, err)
	}
	return events.ConsulKVKeyResult{Key: c.KVKey}, nil
}

// kvCompareAndSet writes the key only if its ModifyIndex is still c.ModifyIndex; 0 writes it only
// if it does not exist.
func kvCompareAndSet(ctx context.Context, kv KV, c events.ConsulKVCompareAndSet) (events.ConsulKVCompareAndSetResult, error) {
	pair := &api.KVPair{Key: c.KVKey, Value: []byte(c.Value), ModifyIndex: c.ModifyIndex}
	swapped, _, err := kv.CAS(pair, (&api.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return events.ConsulKVCompareAndSetResult{}, fmt.Errorf("could not compare-and-set key %q at index %d: %w", c.KVKey, c.ModifyIndex, err)
	}
	return events.ConsulKVCompareAndSetResult{Key: c.KVKey, Swapped: swapped}, nil
}
