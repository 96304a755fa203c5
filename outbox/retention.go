package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// RetentionConfig says how long the control database keeps what the loop only needs for a while.
// Each retention is a duration back from now; 0 keeps forever.
type RetentionConfig struct {
	// DB is the control database. Required.
	DB *pgxpool.Pool
	// EventLog is how long the event log keeps events. Default 0: forever (replay reads it).
	EventLog time.Duration
	// RecordTrim appends each trim of the event log to the audit log, in the trim's transaction
	// (audit.RecordTrim). Required when EventLog is set: the event log refuses a trim without it.
	RecordTrim TrimRecorder
	// Inbox is how long processed_messages remembers what each consumer applied: a message
	// delivered again after that is applied again, so it must outlast the window in which Kafka can
	// deliver a message again (the topics' retention, for a consumer group reset to the start).
	// replay also orders by it. Default 0: as long as the event log keeps the events.
	Inbox time.Duration
	// CommandRecords is how long processed_commands answers a command delivered again from its
	// record rather than running it. Default 168h (7 days, Kafka's default topic retention).
	CommandRecords time.Duration
	// Poison is how long poison_messages keeps what could never be handled. Default 720h (30 days).
	Poison time.Duration
	// Every is how often the tables are trimmed. Default half the shortest retention, at least
	// every second and at most every minute.
	Every time.Duration
}

func (c *RetentionConfig) setDefaults() {
	if c.Inbox == 0 {
		c.Inbox = c.EventLog
	}
	if c.CommandRecords == 0 {
		c.CommandRecords = 7 * 24 * time.Hour
	}
	if c.Poison == 0 {
		c.Poison = 30 * 24 * time.Hour
	}
	if c.Every == 0 {
		c.Every = time.Minute
		for _, d := range []time.Duration{c.EventLog, c.Inbox, c.CommandRecords, c.Poison} {
			if d > 0 {
				c.Every = min(c.Every, max(d/2, time.Second))
			}
		}
	}
}

// DefaultRetentionConfig is the retention with its defaults: flags show these.
func DefaultRetentionConfig() RetentionConfig {
	var c RetentionConfig
	c.setDefaults()
	return c
}

// Validate reports every problem of the configuration.
func (c RetentionConfig) Validate() error {
	var errs []error
	if c.DB == nil {
		errs = append(errs, errors.New("retention: missing DB"))
	}
	if c.EventLog > 0 && c.RecordTrim == nil {
		errs = append(errs, errors.New("retention: --event-log-retention is set but RecordTrim is missing: each trim of the event log is an audit entry"))
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{{"--event-log-retention", c.EventLog}, {"--inbox-retention", c.Inbox}, {"--command-record-retention", c.CommandRecords},
		{"--poison-retention", c.Poison}} {
		if d.value < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative", d.flag))
		}
	}
	if c.EventLog > 0 && c.Inbox > 0 && c.Inbox < c.EventLog {
		errs = append(errs, fmt.Errorf("--inbox-retention (%s) must be at least --event-log-retention (%s): replay orders the logged events by the inbox",
			c.Inbox, c.EventLog))
	}
	return errors.Join(errs...)
}

// Retention trims the event log, the inbox, the command records and the poison records to their
// retention, every so often, a chunk at a time. The outbox's delivered rows are the relay's to
// trim (only it knows what is delivered).
type Retention struct {
	cfg    RetentionConfig
	logger *slog.Logger
}

// NewRetention builds the trimmer.
func NewRetention(cfg RetentionConfig, logger *slog.Logger) (*Retention, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	return &Retention{cfg: cfg, logger: logger}, nil
}

// Run trims every Every until ctx ends.
func (r *Retention) Run(ctx context.Context) error {
	ticker := time.NewTicker(r.cfg.Every)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		r.Trim(ctx, time.Now())
	}
}

// Trim trims each table to its retention as of now, logging what it deleted or could not.
func (r *Retention) Trim(ctx context.Context, now time.Time) {
	report := func(what string, retention time.Duration, n int64, err error) {
		switch {
		case err != nil && ctx.Err() == nil:
			r.logger.ErrorContext(ctx, "could not trim "+what, "retention", retention, "error", err)
		case n > 0:
			r.logger.InfoContext(ctx, what+" trimmed", "deleted", n, "retention", retention)
		}
	}
	if r.cfg.EventLog > 0 {
		n, err := TrimEventLog(ctx, r.cfg.DB, now.Add(-r.cfg.EventLog), r.cfg.RecordTrim)
		report("the event log", r.cfg.EventLog, n, err)
	}
	for _, t := range []struct {
		what, table, column string
		retention           time.Duration
	}{
		{"the inbox", "processed_messages", "processed_at", r.cfg.Inbox},
		{"the command records", "processed_commands", "processed_at", r.cfg.CommandRecords},
		{"the poison records", "poison_messages", "poisoned_at", r.cfg.Poison},
	} {
		if t.retention > 0 {
			n, err := trimTable(ctx, r.cfg.DB, t.table, t.column, now.Add(-t.retention))
			report(t.what, t.retention, n, err)
		}
	}
}

// trimTable deletes the rows of table whose column is before cutoff, ten thousand at a time so
// no statement holds many locks. table and column are this package's own names, never input.
func trimTable(ctx context.Context, db *pgxpool.Pool, table, column string, cutoff time.Time) (int64, error) {
	var total int64
	for {
		tag, err := db.Exec(ctx, `DELETE FROM `+table+` WHERE ctid IN (SELECT ctid FROM `+table+` WHERE `+column+` < $1 LIMIT 10000)`, cutoff)
		if err != nil {
			return total, fmt.Errorf("could not trim %s before %s: %w", table, cutoff.Format(time.RFC3339), err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 10000 {
			return total, nil
		}
	}
}
