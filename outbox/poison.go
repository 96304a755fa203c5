package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/platform/consumer"
	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// PoisonStoreConfig configures a PoisonStore.
type PoisonStoreConfig struct {
	// DB is the control database. Required.
	DB pgtx.Beginner
	// Topics names each group's poison topic. Default events.DefaultTopics().
	Topics events.Topics
	// Sealer seals the sensitive fields of what it publishes and signs it. Nil publishes plain
	// and unsigned, which consumers holding keys poison: only tests without keys leave it nil.
	Sealer Sealer
	// MaxStoredBytes is how much of a payload poison_messages keeps; the rest is cut (its size
	// and hash are kept whole). Default 8 MiB.
	MaxStoredBytes int
	// MaxCopyBytes is the largest payload the copy on the poison topic carries; a larger one goes
	// without its payload (the row in poison_messages has it). Default 256 KiB, well under what a
	// broker takes by default (1 MB), so the copy can always be delivered.
	MaxCopyBytes int
	// OnPoison is called in the transaction that poisons each message, once per message (not
	// when it is poisoned again): the audit log's SecurityRecorder.Poisoned records the ones
	// refused for a security reason. Optional; the outbox sits below the audit log, so the
	// composition root passes it in.
	OnPoison PoisonHook
}

// PoisonHook is called in tx for each message newly poisoned, with the id it is stored under.
// Its error fails the poisoning, which is then tried again.
type PoisonHook func(ctx context.Context, tx pgx.Tx, r consumer.PoisonRecord, id string) error

func (c *PoisonStoreConfig) setDefaults() {
	if c.Topics == (events.Topics{}) {
		c.Topics = events.DefaultTopics()
	}
	if c.MaxStoredBytes == 0 {
		c.MaxStoredBytes = 8 << 20
	}
	if c.MaxCopyBytes == 0 {
		c.MaxCopyBytes = 256 << 10
	}
}

// PoisonStore keeps poisoned messages in poison_messages, and publishes a bounded copy of each on
// its group's poison topic through the outbox, in one transaction with the group's inbox claim of
// the message: a message poisoned again (its consumer crashed after storing it) is kept once.
// Whatever the size or shape of the message, it is stored: nothing about it can make poisoning
// fail but the database itself.
type PoisonStore struct {
	cfg PoisonStoreConfig
}

var _ consumer.PoisonStore = (*PoisonStore)(nil)

// NewPoisonStore builds a PoisonStore.
func NewPoisonStore(cfg PoisonStoreConfig) (*PoisonStore, error) {
	cfg.setDefaults()
	var errs []error
	if cfg.DB == nil {
		errs = append(errs, errors.New("poison store: missing DB"))
	}
	if cfg.MaxStoredBytes < 0 || cfg.MaxCopyBytes < 0 {
		errs = append(errs, errors.New("poison store: negative MaxStoredBytes or MaxCopyBytes"))
	}
	if err := errors.Join(append(errs, cfg.Topics.Validate())...); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &PoisonStore{cfg: cfg}, nil
}

// Store keeps r in its own transaction.
func (s *PoisonStore) Store(ctx context.Context, r consumer.PoisonRecord) error {
	return pgtx.Run(ctx, s.cfg.DB, func(tx pgx.Tx) error { return s.StoreTx(ctx, tx, r) })
}

// The metadata a requeued message carries (omni poison requeue): the poison_messages id it was
// requeued from and how many times it has been requeued. A requeued message poisoned again is
// stored as a new record, under its id with "/requeue-N", linked to the one it came from.
const (
	MetaRequeuedFrom = "requeued_from"
	MetaRequeueCount = "requeue_count"
)

// poisonID is the id r is stored and claimed under: the message's id, with "/requeue-N" for a
// message requeued N times, so a requeued message that fails again is kept again.
func poisonID(r consumer.PoisonRecord) (id string, count int, from *int64) {
	msg := r.Message
	id = msg.UUID
	if id == "" {
		// Nothing to know it by but where it was.
		id = fmt.Sprintf("%s/%d/%d", r.Topic, r.Partition, r.Offset)
	}
	n, err := strconv.Atoi(msg.Metadata.Get(MetaRequeueCount))
	if err != nil || n <= 0 {
		return id, 0, nil
	}
	if f, err := strconv.ParseInt(msg.Metadata.Get(MetaRequeuedFrom), 10, 64); err == nil {
		from = &f
	}
	return fmt.Sprintf("%s/requeue-%d", id, n), n, from
}

// poisonConsumer is the inbox name under which group's poisoned messages are claimed: apart from
// the group's own claims, which mean "applied" (a replay reads those).
func poisonConsumer(group string) string { return group + ".poison" }

// StoreTx keeps r inside tx: the relay poisons a row in the transaction that moves its position
// past it.
func (s *PoisonStore) StoreTx(ctx context.Context, tx pgx.Tx, r consumer.PoisonRecord) error {
	msg := r.Message
	id, count, from := poisonID(r)
	fresh, err := pgtx.Claim(ctx, tx, poisonConsumer(r.Group), id)
	if err != nil || !fresh {
		return err
	}
	sum := sha256.Sum256(msg.Payload)
	hash := hex.EncodeToString(sum[:])
	stored, truncated := msg.Payload, false
	if len(stored) > s.cfg.MaxStoredBytes {
		stored, truncated = stored[:s.cfg.MaxStoredBytes], true
	}
	meta, err := json.Marshal(msg.Metadata)
	if err != nil {
		return fmt.Errorf("could not encode the metadata of poisoned message %s: %w", id, err)
	}
	var partition *int32
	if r.Partition >= 0 {
		partition = &r.Partition
	}
	var offset *int64
	if r.Offset >= 0 {
		offset = &r.Offset
	}
	reason := "unknown"
	if r.Reason != nil {
		reason = r.Reason.Error()
	}
	if _, err := tx.Exec(ctx, `INSERT INTO poison_messages (consumer_group, message_id, topic, kafka_partition, "offset",
		reason, metadata, payload, payload_bytes, payload_sha256, truncated, requeue_count, requeued_from)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, (SELECT id FROM poison_messages WHERE id = $13))
		ON CONFLICT (consumer_group, message_id) DO NOTHING`,
		r.Group, id, r.Topic, partition, offset, reason, meta, stored, len(msg.Payload), hash, truncated, count, from); err != nil {
		return fmt.Errorf("could not store poisoned message %s of %s: %w", id, r.Group, err)
	}
	if s.cfg.OnPoison != nil {
		if err := s.cfg.OnPoison(ctx, tx, r, id); err != nil {
			return fmt.Errorf("could not record poisoned message %s of %s: %w", id, r.Group, err)
		}
	}
	if s.isPoisonTopic(r.Topic) {
		return nil // a copy of a copy would only go round again
	}
	return PublishSealed(ctx, tx, s.cfg.Sealer, s.cfg.Topics.Poison(r.Group), s.copyOf(r, id, reason, hash))
}

func (s *PoisonStore) isPoisonTopic(topic string) bool {
	return strings.HasSuffix(topic, s.cfg.Topics.PoisonSuffix)
}

// copyOf is the copy of r's message for the poison topic: an id derived from the group and the
// message (storing again names it the same), the message's metadata with where it was and why,
// and its payload when that is small enough to deliver.
func (s *PoisonStore) copyOf(r consumer.PoisonRecord, id, reason, hash string) *message.Message {
	payload := r.Message.Payload
	truncated := len(payload) > s.cfg.MaxCopyBytes
	if truncated {
		payload = []byte{}
	}
	c := message.NewMessage(events.DerivedID("poisoned", r.Group, id), payload)
	c.Metadata = maps.Clone(r.Message.Metadata)
	if c.Metadata == nil {
		c.Metadata = message.Metadata{}
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Metadata.Get(events.MetaOccurredAt)); err != nil {
		// The log needs a time; a message that never had one gets the time it was given up on.
		c.Metadata.Set(events.MetaOccurredAt, time.Now().UTC().Format(time.RFC3339Nano))
	}
	c.Metadata.Set(consumer.MetaReason, reason)
	c.Metadata.Set(consumer.MetaTopic, r.Topic)
	c.Metadata.Set(consumer.MetaGroup, r.Group)
	c.Metadata.Set(consumer.MetaMessageID, id)
	if r.Partition >= 0 {
		c.Metadata.Set(consumer.MetaPartition, strconv.Itoa(int(r.Partition)))
	}
	if r.Offset >= 0 {
		c.Metadata.Set(consumer.MetaOffset, strconv.FormatInt(r.Offset, 10))
	}
	c.Metadata.Set(consumer.MetaPayloadBytes, strconv.Itoa(len(r.Message.Payload)))
	c.Metadata.Set(consumer.MetaPayloadSHA256, hash)
	c.Metadata.Set(consumer.MetaTruncated, strconv.FormatBool(truncated))
	return c
}
