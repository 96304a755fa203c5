package audit

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/omninode/omnibase-infra/outbox"
)

// ActionEventLogTrimmed is the action of a trim of the event log. The event log's trigger allows a
// DELETE only in a transaction that has appended an entry with this action (migration 00014).
const ActionEventLogTrimmed = "event_log.trimmed"

// RecordTrim is the outbox.TrimRecorder that appends each trim of the event log, by actor, to
// the audit log: the cutoff, how many events were removed and the first and last of their seqs.
func RecordTrim(actor string) outbox.TrimRecorder {
	return func(ctx context.Context, tx pgx.Tx, t outbox.EventLogTrim) error {
		_, err := Append(ctx, tx, Entry{Actor: actor, Action: ActionEventLogTrimmed, Subject: "event_log", Outcome: "trimmed",
			Detail: map[string]string{
				"cutoff":    t.Cutoff.UTC().Format(time.RFC3339Nano),
				"rows":      strconv.FormatInt(t.Rows, 10),
				"first_seq": strconv.FormatInt(t.FirstSeq, 10),
				"last_seq":  strconv.FormatInt(t.LastSeq, 10),
			}})
		return err
	}
}

// ActionEventLogRewrapped is the action of a rewrap of event-log rows under new keys. The event
// log's trigger allows an UPDATE (of payload and metadata only) only in a transaction that has
// appended an entry with this action (migration 00015).
const ActionEventLogRewrapped = "event_log.rewrapped"

// RecordRewrap is the outbox.RewrapRecorder that appends each page of a rewrap of the event log,
// by actor: the seqs it covers (after which, at most how many).
func RecordRewrap(actor string) outbox.RewrapRecorder {
	return func(ctx context.Context, tx pgx.Tx, after int64, limit int) error {
		_, err := Append(ctx, tx, Entry{Actor: actor, Action: ActionEventLogRewrapped, Subject: "event_log", Outcome: "rewrapped",
			Detail: map[string]string{"after_seq": strconv.FormatInt(after, 10), "limit": strconv.Itoa(limit)}})
		return err
	}
}
