package sagas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// TimersTopic is the table of the sagas' timers, and the topic the router knows their subscriber by.
const TimersTopic = "saga_timers"

// TimersConfig configures a TimersSubscriber.
type TimersConfig struct {
	// DB is the control database. Required.
	DB pgtx.Beginner
	// PollInterval is how long a worker waits before looking again when no timer is due (or the
	// last one was refused). Default 250ms: timers are timeouts and polls of seconds.
	PollInterval time.Duration
	// Workers is how many timers one subscription holds at once, each in its own transaction.
	// Default 1; more processes take timers side by side whatever this is.
	Workers int
}

func (c *TimersConfig) setDefaults() {
	if c.PollInterval == 0 {
		c.PollInterval = 250 * time.Millisecond
	}
	if c.Workers == 0 {
		c.Workers = 1
	}
}

// Validate reports every problem of the configuration.
func (c TimersConfig) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("missing DB"))
	}
	if c.PollInterval < 0 {
		errs = append(errs, fmt.Errorf("PollInterval %s is negative", c.PollInterval))
	}
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers: %d is negative", c.Workers))
	}
	return errors.Join(errs...)
}

// TimersSubscriber is the Watermill subscriber of the sagas' timers (the saga_timers table). Each
// worker takes the oldest due timer no other transaction holds (FOR UPDATE SKIP LOCKED, so any
// number of orchestrators take timers side by side), and hands it on with its transaction in the
// message's context: Engine.HandleTimer decides in that transaction and deletes the timer there,
// so the decision and the timer's end commit together. An acked timer's row is deleted (a timer
// given up to poison included) and the transaction committed; a nacked one is rolled back and
// comes again.
type TimersSubscriber struct {
	cfg    TimersConfig
	logger *slog.Logger

	mu      sync.Mutex
	closed  bool
	cancels []context.CancelFunc
	wg      sync.WaitGroup
}

// NewTimersSubscriber builds a TimersSubscriber.
func NewTimersSubscriber(cfg TimersConfig, logger *slog.Logger) (*TimersSubscriber, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("saga timers: invalid config: %w", err)
	}
	return &TimersSubscriber{cfg: cfg, logger: logger.With("consumer", TimersConsumerName)}, nil
}

// Subscribe starts the workers; the channel closes when ctx ends or the subscriber is closed.
func (s *TimersSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic != TimersTopic {
		return nil, fmt.Errorf("saga timers: no topic %q: the timers are %q", topic, TimersTopic)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("saga timers: subscriber closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancels = append(s.cancels, cancel)
	out := make(chan *message.Message)
	var workers sync.WaitGroup
	for range s.cfg.Workers {
		workers.Add(1)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer workers.Done()
			s.work(ctx, out)
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		workers.Wait()
		close(out)
	}()
	return out, nil
}

// Close stops every worker, after the timers in flight were acked or nacked.
func (s *TimersSubscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, cancel := range s.cancels {
		cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *TimersSubscriber) work(ctx context.Context, out chan<- *message.Message) {
	for {
		took, err := s.next(ctx, out)
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, errNacked) {
			s.logger.WarnContext(ctx, "could not take a due timer", "error", err)
		}
		if took && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.PollInterval):
		}
	}
}

// errNacked rolls back the transaction of a timer its handler refused.
var errNacked = errors.New("timer nacked")

// heldKey is the context key of the transaction that holds a delivered timer's row.
type heldKey struct{}

// heldTimer returns the transaction that holds the row of the timer being handled, if the message
// came from a TimersSubscriber.
func heldTimer(ctx context.Context) (pgx.Tx, bool) {
	tx, ok := ctx.Value(heldKey{}).(pgx.Tx)
	return tx, ok
}

// next takes one due timer and hands it on; it reports whether there was one.
func (s *TimersSubscriber) next(ctx context.Context, out chan<- *message.Message) (took bool, err error) {
	// The transaction outlives ctx once a timer is handed on: the handler in flight finishes with it.
	txCtx := context.WithoutCancel(ctx)
	err = pgtx.Run(txCtx, s.cfg.DB, func(tx pgx.Tx) error {
		var id string
		var t Timer
		err := tx.QueryRow(txCtx, `SELECT id, saga_id, token, kind, due_at FROM saga_timers
			WHERE due_at <= now() ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED`).Scan(&id, &t.SagaID, &t.Token, &t.Kind, &t.At)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("could not read the due timers: %w", err)
		}
		took = true
		payload, err := json.Marshal(t)
		if err != nil {
			return fmt.Errorf("could not encode timer %s: %w", id, err)
		}
		msg := message.NewMessage(id, payload)
		msg.SetContext(context.WithValue(txCtx, heldKey{}, tx))
		select {
		case out <- msg:
		case <-ctx.Done():
			return ctx.Err()
		}
		// WARNING: the handler uses tx until it acks or nacks; nothing here may touch tx before.
		select {
		case <-msg.Acked():
		case <-msg.Nacked():
			return errNacked
		}
		if _, err := tx.Exec(txCtx, `DELETE FROM saga_timers WHERE id = $1`, id); err != nil {
			return fmt.Errorf("could not delete timer %s: %w", id, err)
		}
		return nil
	})
	return took, err
}

// takeTimer deletes timer id inside tx; false when it is gone already (handled before, or passed
// over when its saga moved on), and the message must then do nothing.
func takeTimer(ctx context.Context, tx pgx.Tx, id string) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM saga_timers WHERE id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("could not take timer %s: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// setTimers stores saga s's new timers and drops those it can only pass over: Decide ignores a
// timer whose token is not the saga's current one, so the timers of earlier waits go as soon as the
// saga moves on, and all of them when it ends.
func setTimers(ctx context.Context, tx pgx.Tx, s Saga[json.RawMessage], timers []Timer) error {
	live := s.Progress.Token
	if s.Status != StatusRunning {
		live = math.MaxInt32
	}
	batch := &pgx.Batch{}
	batch.Queue(`DELETE FROM saga_timers WHERE saga_id = $1 AND token < $2`, s.ID, live)
	for _, t := range timers {
		if t.Token < live {
			continue // a wait the same decision already ended
		}
		batch.Queue(`INSERT INTO saga_timers (id, saga_id, token, kind, due_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO NOTHING`, timerID(t), t.SagaID, t.Token, string(t.Kind), t.At)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("could not set the timers of saga %s: %w", s.ID, err)
	}
	return nil
}

// timerID is derived from what the timer is: storing a decision again cannot set it twice.
func timerID(t Timer) string {
	return derivedID(t.SagaID, strconv.Itoa(t.Token), string(t.Kind))
}
