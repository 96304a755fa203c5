package audit

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/omninode/omnibase-infra/platform/pgtx"
)

// Report formats.
const (
	FormatJSON     = "json"
	FormatCSV      = "csv"
	FormatMarkdown = "markdown"
)

// ComplianceReport is who did what in a period, how it ended, the security events, and whether
// a verified checkpoint covers it: the log is verified first.
type ComplianceReport struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Coverage says whether the period's entries are verified and covered by a signed checkpoint.
	Coverage Coverage `json:"coverage"`
	// Entries are the period's entries, in log order.
	Entries []ReportEntry `json:"entries"`
	// ByActor, ByAction and ByOutcome count them, most first.
	ByActor   []Count `json:"by_actor"`
	ByAction  []Count `json:"by_action"`
	ByOutcome []Count `json:"by_outcome"`
	// Security are the period's security events (actions "security.*").
	Security []ReportEntry `json:"security_events"`
}

// ReportEntry is one entry as the report shows it: who did what to what, how it ended, when.
type ReportEntry struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject"`
	Outcome string    `json:"outcome"`
	// Reason is a security event's reason; empty for other entries.
	Reason string `json:"reason,omitempty"`
}

// Count is how many entries share a value.
type Count struct {
	Value string `json:"value"`
	N     int    `json:"count"`
}

// Coverage is what verification says about the period.
type Coverage struct {
	// Verified is true when the whole log verifies; Problem says what is wrong when not.
	Verified bool   `json:"verified"`
	Problem  string `json:"problem,omitempty"`
	// Covered is true when the verified checkpoint covers every entry of the period.
	Covered bool `json:"covered"`
	// FirstSeq and LastSeq are the period's first and last entries (0 when it has none).
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
	// Checkpoint is the latest verified checkpoint (nil when there is none).
	Checkpoint *ReportCheckpoint `json:"checkpoint,omitempty"`
	// Statement says all of it in a sentence.
	Statement string `json:"statement"`
}

// ReportCheckpoint is a checkpoint as the report names it.
type ReportCheckpoint struct {
	Size     int64     `json:"size"`
	Root     string    `json:"root"`
	SignedAt time.Time `json:"signed_at"`
	KeyID    string    `json:"key_id"`
	From     string    `json:"from"`
}

// BuildReport verifies the log (Verify, with pub and the witnesses' checkpoints) and reports the
// entries appended in [since, until).
func BuildReport(ctx context.Context, db pgtx.Querier, pub ed25519.PublicKey, witnessed []Checkpoint, since, until time.Time) (ComplianceReport, error) {
	if !since.Before(until) {
		return ComplianceReport{}, fmt.Errorf("the report's period is empty: --since %s is not before --until %s",
			since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	v, err := Verify(ctx, db, pub, witnessed)
	if err != nil {
		return ComplianceReport{}, err
	}
	rows, err := db.Query(ctx, `SELECT seq, at, actor, action, subject, outcome, coalesce(detail->>'reason', '')
		FROM audit_entries WHERE at >= $1 AND at < $2 ORDER BY seq`, since, until)
	if err != nil {
		return ComplianceReport{}, fmt.Errorf("could not read the audit log: %w", err)
	}
	defer rows.Close()
	r := ComplianceReport{Since: since.UTC(), Until: until.UTC(), Entries: []ReportEntry{}, Security: []ReportEntry{}}
	actors, actions, outcomes := map[string]int{}, map[string]int{}, map[string]int{}
	for rows.Next() {
		var e ReportEntry
		var reason string
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.Subject, &e.Outcome, &reason); err != nil {
			return ComplianceReport{}, fmt.Errorf("could not read the audit log: %w", err)
		}
		e.At = e.At.UTC()
		actors[e.Actor]++
		actions[e.Action]++
		outcomes[e.Outcome]++
		if strings.HasPrefix(e.Action, ActionSecurity) {
			e.Reason = reason
			r.Security = append(r.Security, e)
		}
		r.Entries = append(r.Entries, e)
	}
	if err := rows.Err(); err != nil {
		return ComplianceReport{}, fmt.Errorf("could not read the audit log: %w", err)
	}
	r.ByActor, r.ByAction, r.ByOutcome = counts(actors), counts(actions), counts(outcomes)
	r.Coverage = coverage(v, r.Entries)
	return r, nil
}

func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for v, n := range m {
		out = append(out, Count{Value: v, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(b.N-a.N, strings.Compare(a.Value, b.Value)) })
	return out
}

// coverage says whether v, the log's verification, covers entries.
func coverage(v Report, entries []ReportEntry) Coverage {
	c := Coverage{Verified: v.Problem == nil}
	for _, e := range entries {
		if c.FirstSeq == 0 || e.Seq < c.FirstSeq {
			c.FirstSeq = e.Seq
		}
		c.LastSeq = max(c.LastSeq, e.Seq)
	}
	if v.Verified.Size > 0 {
		k := v.Verified
		c.Checkpoint = &ReportCheckpoint{Size: k.Size, Root: k.Root.String(), SignedAt: k.SignedAt.UTC(), KeyID: k.KeyID, From: k.From}
	}
	switch {
	case v.Problem != nil:
		c.Problem = v.Problem.Error()
		c.Statement = "NOT VERIFIED: the audit log does not verify (" + c.Problem + "); this report cannot be relied on"
	case len(entries) == 0:
		c.Covered = true
		c.Statement = "the audit log verifies; the period has no entries"
	case c.Checkpoint == nil:
		c.Statement = fmt.Sprintf("NOT COVERED: the audit log verifies, but no signed checkpoint covers the period's entries %d to %d (none exists yet): "+
			"a rewrite of them would not show; run omni audit checkpoint", c.FirstSeq, c.LastSeq)
	case c.Checkpoint.Size < c.LastSeq:
		c.Statement = fmt.Sprintf("NOT COVERED: the audit log verifies, but the latest verified checkpoint (%d entries, signed %s) ends before "+
			"the period's entries %d to %d: those after it are not yet covered; run omni audit checkpoint",
			c.Checkpoint.Size, c.Checkpoint.SignedAt.Format(time.RFC3339), max(c.FirstSeq, c.Checkpoint.Size+1), c.LastSeq)
	default:
		c.Covered = true
		c.Statement = fmt.Sprintf("covered: the period's entries %d to %d are verified and covered by the checkpoint of %d entries signed %s with key %s",
			c.FirstSeq, c.LastSeq, c.Checkpoint.Size, c.Checkpoint.SignedAt.Format(time.RFC3339), c.Checkpoint.KeyID)
	}
	return c
}
