package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/components/forwarder"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/omninode/omnibase-infra/platform/consumer"
)

// RelayConfig configures a Relay.
type RelayConfig struct {
	// DB holds the outbox table. Required.
	DB *pgxpool.Pool
	// Publisher receives every committed row, on the row's destination topic: a Kafka publisher
	// keyed by events.MetaKey. Required.
	Publisher message.Publisher
	// Policy is the error policy: a row Kafka does not take is retried with its backoff, and a row
	// that can never be delivered (a malformed envelope, a record Kafka refuses for good) goes to
	// the relay group's poison topic with the reason. Required.
	Policy *consumer.Policy
	// Router to add the relay's handler to, so one process runs one router. Optional: when nil the
	// relay runs its own.
	Router *message.Router
	// ConsumerGroup is the relay's position in the outbox. Default "outbox-relay". Every relay
	// process of one deployment must share it; watermill-sql then lets one of them deliver at a time.
	ConsumerGroup string
	// PollInterval is how long the relay waits when it found no new rows. Default 20ms: the outbox
	// is on every hop of the loop, so its idle poll is latency.
	PollInterval time.Duration
}

func (c *RelayConfig) setDefaults() {
	if c.ConsumerGroup == "" {
		c.ConsumerGroup = "outbox-relay"
	}
	if c.PollInterval == 0 {
		c.PollInterval = 20 * time.Millisecond
	}
}

// DefaultRelayConfig is the relay's configuration with its defaults.
func DefaultRelayConfig() RelayConfig {
	var c RelayConfig
	c.setDefaults()
	return c
}

// Validate reports every problem of the configuration.
func (c RelayConfig) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("outbox relay: missing DB"))
	}
	if c.Publisher == nil {
		errs = append(errs, errors.New("outbox relay: missing Publisher"))
	}
	if c.Policy == nil {
		errs = append(errs, errors.New("outbox relay: missing Policy"))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("outbox relay: PollInterval %s is negative", c.PollInterval))
	}
	return errors.Join(errs...)
}

// Relay moves committed outbox rows to Kafka, at least once and in commit order. It is Watermill's
// forwarder over a watermill-sql subscriber, through the consumer policy's middleware.
type Relay struct {
	fwd *forwarder.Forwarder
}

// NewRelay builds a relay. With cfg.Router set, running that router runs the relay.
func NewRelay(cfg RelayConfig, logger *slog.Logger) (*Relay, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	wlog := watermill.NewSlogLogger(logger)
	sub, err := wsql.NewSubscriber(wsql.BeginnerFromPgx(cfg.DB), wsql.SubscriberConfig{
		ConsumerGroup:  cfg.ConsumerGroup,
		PollInterval:   cfg.PollInterval,
		ResendInterval: time.Second,
		RetryInterval:  time.Second,
		SchemaAdapter:  wsql.DefaultPostgreSQLSchema{},
		OffsetsAdapter: wsql.DefaultPostgreSQLOffsetsAdapter{},
	}, wlog)
	if err != nil {
		return nil, fmt.Errorf("could not create outbox subscriber: %w", err)
	}
	fwd, err := forwarder.NewForwarder(sub, cfg.Publisher, wlog, forwarder.Config{
		ForwarderTopic: ForwarderTopic,
		// The policy outermost, so it sees the errors classified: a row that can never be delivered
		// goes straight to the poison topic, since retrying it would hold every row committed after
		// it for the whole backoff.
		Middlewares:  []message.HandlerMiddleware{cfg.Policy.Middleware(cfg.ConsumerGroup, ForwarderTopic), classify},
		CloseTimeout: 30 * time.Second,
		Router:       cfg.Router,
	})
	if err != nil {
		return nil, fmt.Errorf("could not create outbox forwarder: %w", err)
	}
	return &Relay{fwd: fwd}, nil
}

// Run runs the relay's own router until ctx ends. Not needed when a shared Router was given.
func (r *Relay) Run(ctx context.Context) error { return r.fwd.Run(ctx) }

// Close stops the relay's own router.
func (r *Relay) Close() error { return r.fwd.Close() }

// Running is closed once the relay runs.
func (r *Relay) Running() chan struct{} { return r.fwd.Running() }

// classify marks the errors Undeliverable recognises as permanent for the policy.
func classify(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil && Undeliverable(err) {
			err = consumer.Permanent(err)
		}
		return out, err
	}
}

// Undeliverable reports whether err means the row can never be delivered: retrying is pointless,
// so the row goes to the poison topic. Everything else (Kafka unreachable, leader elections,
// timeouts) is retried until it succeeds: nothing is dropped because Kafka was down.
func Undeliverable(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.As(err, &typ):
		return true
	case errors.Is(err, sarama.ErrMessageSizeTooLarge),
		errors.Is(err, sarama.ErrInvalidMessage),
		errors.Is(err, sarama.ErrInvalidMessageSize),
		errors.Is(err, sarama.ErrInvalidTopic):
		return true
	}
	// forwarder's envelope validation error has no type of its own.
	return strings.Contains(err.Error(), "message envelope is invalid")
}
