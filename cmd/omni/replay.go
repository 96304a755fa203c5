package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/audit"
	"github.com/omninode/omnibase-infra/events"
	"github.com/omninode/omnibase-infra/projections/infrastate"
)

func newReplayCmd(g *globals) *cobra.Command {
	var (
		verify     bool
		from       string
		batchSize  int
		thresholds = infrastate.DefaultThresholds()
		out        output
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Rebuild the infrastructure-state projection from the event log and swap it in",
		Long: `Rebuild the infrastructure-state projection from the event log (or, with --from kafka, from
the events topic's earliest offset) into a shadow table while
the live projection keeps running, in exactly the order the live projection applied the events;
then lock the live table, fold what it applied meanwhile, and swap the tables atomically.
The replaced table stays as infrastructure_state_previous until the next swap.

--verify compares the rebuilt state with the live one instead of swapping, prints every
difference and exits with status 1 when there is any. The progress bar is drawn on standard error
when it is a terminal; otherwise one line says how many events were folded.

An interrupted replay resumes where it stopped, and a replay after a verify goes on from what the
verify folded; a second replay while one runs is refused.
Give the same hysteresis and latency settings as the running projection.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := thresholds.Validate(); err != nil {
				return withCode(exitUsage, err)
			}
			if _, err := out.Format(); err != nil {
				return err
			}
			var kafka *infrastate.KafkaSource
			switch from {
			case "log":
			case "kafka":
				if len(g.brokers()) == 0 {
					return usageError("--from kafka: KAFKA_BROKERS (--kafka-brokers) is not set")
				}
				sec, err := g.security()
				if err != nil {
					return err
				}
				kafka = &infrastate.KafkaSource{Brokers: g.brokers(), Security: sec, Topic: events.DefaultTopics().Events}
			default:
				return usageError("--from %q: want log or kafka", from)
			}
			logger, err := g.logger()
			if err != nil {
				return err
			}
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			_, registry, err := g.seal.open(cmd.Context(), db)
			if err != nil {
				return err
			}
			bar := newProgressBar(cmd.ErrOrStderr(), time.Now())
			res, err := infrastate.Replay(cmd.Context(), infrastate.ReplayConfig{
				DB: db, Registry: registry, Reducer: infrastate.Reducer{Thresholds: thresholds},
				BatchSize: batchSize, Verify: verify, FromKafka: kafka, Progress: bar.update, Logger: logger,
			})
			bar.done()
			if err != nil {
				if errors.Is(err, infrastate.ErrReplayRunning) {
					return err
				}
				return fmt.Errorf("replay stopped (run it again to resume): %w", err)
			}
			source := "the event log"
			if kafka != nil {
				source = "Kafka topic " + kafka.Topic
			}
			action, outcome := "replay.verified", fmt.Sprintf("%d differences", len(res.Differences))
			if res.Swapped {
				action, outcome = "replay.swapped", "swapped"
			}
			if err := recordOperatorAction(cmd.Context(), db, audit.Entry{Actor: operator("omni replay"), Action: action,
				Subject: "infrastate", Outcome: outcome, Detail: map[string]string{"from": from, "folded": fmt.Sprint(res.Folded),
					"missing": fmt.Sprint(res.Missing), "resumed": fmt.Sprint(res.Resumed)}}); err != nil {
				return err
			}
			diffs := res.Differences
			if diffs == nil {
				diffs = []infrastate.Difference{}
			}
			doc := replayDoc{Source: from, Folded: res.Folded, Resumed: res.Resumed, AfterVerify: res.AfterVerify, Missing: res.Missing, Swapped: res.Swapped, Differences: diffs}
			if err := out.print(cmd.OutOrStdout(), doc, diffs, func(w io.Writer, wide bool) error {
				resumed := ""
				switch {
				case res.AfterVerify:
					resumed = ", going on from the last verify"
				case res.Resumed:
					resumed = ", resumed after an interruption"
				}
				fmt.Fprintf(w, "replayed %d events from %s%s\n", res.Folded, source, resumed)
				if res.Missing > 0 {
					fmt.Fprintf(w, "warning: %d events the live projection applied are not in %s (older than it, or trimmed by retention)\n", res.Missing, source)
				}
				if res.Swapped {
					fmt.Fprintf(w, "swapped in: %s now holds the replayed state; the old one is %s\n", infrastate.LiveTable, infrastate.PreviousTable)
					return nil
				}
				return printDifferences(w, wide, diffs)
			}); err != nil {
				return err
			}
			return differencesError(res.Swapped, diffs)
		},
	}
	addOutput(cmd, &out)
	f := cmd.Flags()
	f.StringVar(&from, "from", "log", "where the events come from: log (the event log in PostgreSQL) or kafka (the events topic from its earliest offset)")
	f.BoolVar(&verify, "verify", false, "compare the replayed state with the live one instead of swapping; exit 1 on any difference")
	f.IntVar(&batchSize, "batch-size", infrastate.DefaultReplayBatchSize, "events folded per transaction")
	// Give replay the thresholds the running projection was given.
	registerThresholds(f, &thresholds)
	return cmd
}

// replayDoc is omni replay's document.
type replayDoc struct {
	Source      string                  `json:"source"`
	Folded      int64                   `json:"folded"`
	Resumed     bool                    `json:"resumed"`
	AfterVerify bool                    `json:"after_verify"`
	Missing     int64                   `json:"missing"`
	Swapped     bool                    `json:"swapped"`
	Differences []infrastate.Difference `json:"differences"`
}

func printDifferences(w io.Writer, wide bool, diffs []infrastate.Difference) error {
	if len(diffs) == 0 {
		fmt.Fprintln(w, "verified: the replayed state equals the live state")
		return nil
	}
	return writeTable(w, wide, []column[infrastate.Difference]{
		{name: "adapter_id", value: func(d infrastate.Difference) string { return d.AdapterID }},
		{name: "field", value: func(d infrastate.Difference) string {
			if d.Field == "" {
				return "(the target)"
			}
			return d.Field
		}},
		{name: "live", max: 50, value: func(d infrastate.Difference) string { return d.Live }},
		{name: "replayed", max: 50, value: func(d infrastate.Difference) string { return d.Replayed }},
	}, diffs)
}

// differencesError is a verify's exit: 1 with any difference.
func differencesError(swapped bool, diffs []infrastate.Difference) error {
	switch {
	case swapped || len(diffs) == 0:
		return nil
	case len(diffs) == 1:
		return errors.New("the replayed state differs from the live state: 1 difference")
	}
	return fmt.Errorf("the replayed state differs from the live state: %d differences", len(diffs))
}

// progressBar draws the replay's progress on one line, with its rate and time to go: redrawn
// in place (carriage returns) on a terminal, and written once, when it ends, anywhere else (a
// log file, a CI job), where carriage returns are noise.
type progressBar struct {
	w        io.Writer
	terminal bool
	start    time.Time
	last     time.Time
	lastSeen infrastate.Progress
	drawn    bool
}

func newProgressBar(w io.Writer, now time.Time) *progressBar {
	return &progressBar{w: w, start: now, terminal: isTerminal(w)}
}

// isTerminal reports whether w is a character device (a terminal), not a file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (b *progressBar) update(p infrastate.Progress) {
	b.lastSeen = p
	if !b.terminal {
		return
	}
	now := time.Now()
	if now.Sub(b.last) < 200*time.Millisecond && p.Folded < p.Total {
		return
	}
	b.last = now
	fmt.Fprint(b.w, "\r"+progressLine(p, now.Sub(b.start)))
	b.drawn = true
}

func (b *progressBar) done() {
	switch {
	case b.drawn:
		fmt.Fprintln(b.w)
	case !b.terminal && b.lastSeen.Total > 0:
		fmt.Fprintln(b.w, progressLine(b.lastSeen, time.Since(b.start)))
	}
}

// progressLine renders p after elapsed: bar, counts, rate and ETA.
func progressLine(p infrastate.Progress, elapsed time.Duration) string {
	const width = 30
	frac := 1.0
	if p.Total > 0 {
		frac = min(float64(p.Folded)/float64(p.Total), 1)
	}
	filled := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(p.Folded) / s
	}
	eta := "-"
	if rate > 0 && p.Total >= p.Folded {
		eta = time.Duration(float64(p.Total-p.Folded) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s] %d/%d events %3.0f%%  %.0f events/s  ETA %s", bar, p.Folded, p.Total, frac*100, rate, eta)
}
