package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/consul/api"

	"github.com/omninode/omnibase-infra/events"
)

// Witness keeps signed checkpoints outside the control database, where someone who rewrites the
// database cannot reach them. The Kafka topic is one (written through the outbox, read by
// omni audit verify); Consul KV is another.
type Witness interface {
	// Name says where the checkpoints are: "consul".
	Name() string
	// Put keeps c; a witness never replaces a checkpoint it holds with another of the same size.
	Put(ctx context.Context, c Checkpoint) error
	// Checkpoints returns every checkpoint it holds.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// DefaultConsulPrefix is where ConsulWitness keeps checkpoints: PREFIX/<tree size>, and
// PREFIX/latest for the newest.
const DefaultConsulPrefix = "omni/audit/checkpoints"

// ConsulWitness keeps checkpoints in Consul KV, each under PREFIX/<size>, created once and never
// overwritten (check-and-set on index 0), with PREFIX/latest the newest.
type ConsulWitness struct {
	kv     *api.KV
	prefix string
}

// NewConsulWitness keeps checkpoints in the KV of the Consul agent at addr (HOST:PORT or a URL),
// under prefix (DefaultConsulPrefix when empty). Its token is CONSUL_HTTP_TOKEN's, as every
// Consul client's.
func NewConsulWitness(addr, prefix string) (*ConsulWitness, error) {
	if addr == "" {
		return nil, errors.New("the Consul witness needs an address")
	}
	if prefix == "" {
		prefix = DefaultConsulPrefix
	}
	cfg := api.DefaultConfig()
	cfg.Address = addr
	return NewConsulWitnessFrom(cfg, prefix)
}

// NewConsulWitnessFrom is NewConsulWitness with the client's whole configuration (its TLS made by
// the process's policy).
func NewConsulWitnessFrom(cfg *api.Config, prefix string) (*ConsulWitness, error) {
	if prefix == "" {
		prefix = DefaultConsulPrefix
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("could not build a Consul client for the audit witness at %s: %w", cfg.Address, err)
	}
	return &ConsulWitness{kv: client.KV(), prefix: strings.TrimSuffix(prefix, "/")}, nil
}

// Name is "consul".
func (w *ConsulWitness) Name() string { return "consul" }

func (w *ConsulWitness) key(size int64) string { return w.prefix + "/" + strconv.FormatInt(size, 10) }

// Put writes c under PREFIX/<size> unless a checkpoint of that size is there already (the same
// one is fine; another is an error naming both), then PREFIX/latest.
func (w *ConsulWitness) Put(ctx context.Context, c Checkpoint) error {
	raw, err := json.Marshal(c.event())
	if err != nil {
		return fmt.Errorf("could not encode the checkpoint of %d entries: %w", c.Size, err)
	}
	opts := (&api.WriteOptions{}).WithContext(ctx)
	created, _, err := w.kv.CAS(&api.KVPair{Key: w.key(c.Size), Value: raw, ModifyIndex: 0}, opts)
	if err != nil {
		return fmt.Errorf("could not write the checkpoint of %d entries to Consul: %w", c.Size, err)
	}
	if !created {
		held, _, err := w.kv.Get(w.key(c.Size), (&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return fmt.Errorf("could not read the checkpoint of %d entries from Consul: %w", c.Size, err)
		}
		if held == nil || !bytes.Equal(held.Value, raw) {
			return fmt.Errorf("the Consul witness already holds another checkpoint of %d entries (at %s): kept, not replaced", c.Size, w.key(c.Size))
		}
	}
	if _, err := w.kv.Put(&api.KVPair{Key: w.prefix + "/latest", Value: raw}, opts); err != nil {
		return fmt.Errorf("could not write the latest checkpoint to Consul: %w", err)
	}
	return nil
}

// Checkpoints reads every PREFIX/<size>; PREFIX/latest is one of them again and is skipped.
func (w *ConsulWitness) Checkpoints(ctx context.Context) ([]Checkpoint, error) {
	pairs, _, err := w.kv.List(w.prefix+"/", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("could not read the audit witness in Consul: %w", err)
	}
	var out []Checkpoint
	for _, p := range pairs {
		if strings.HasSuffix(p.Key, "/latest") {
			continue
		}
		var e events.AuditCheckpointed
		if err := json.Unmarshal(p.Value, &e); err != nil {
			return nil, fmt.Errorf("consul key %s is not a checkpoint: %w", p.Key, err)
		}
		c, err := FromEvent(e, w.Name())
		if err != nil {
			return nil, fmt.Errorf("consul key %s: %w", p.Key, err)
		}
		out = append(out, c)
	}
	return out, nil
}
