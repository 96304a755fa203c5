package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/internal/poison"
)

func newPoisonCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "poison", Short: "List, show, requeue and discard the messages the consumers gave up on"}
	cmd.AddCommand(newPoisonListCmd(g), newPoisonShowCmd(g), newPoisonActionCmd(g, "requeue", poison.Requeue),
		newPoisonActionCmd(g, "discard", poison.Discard))
	return cmd
}

// poisonFilter is the filter flags of list, requeue and discard.
type poisonFilter struct {
	group, reason, since, until, status, topic string
}

func (p *poisonFilter) register(cmd *cobra.Command, withStatus bool) {
	f := cmd.Flags()
	f.StringVar(&p.group, "group", "", "only messages of this consumer group (adapter-postgres, infrastate, …)")
	f.StringVar(&p.reason, "reason", "", "only messages whose reason contains this (case-insensitive)")
	f.StringVar(&p.since, "since", "", "only messages poisoned at or after: a time (RFC 3339 or 2006-01-02) or a duration back from now")
	f.StringVar(&p.until, "until", "", "only messages poisoned before: a time or a duration back from now")
	f.StringVar(&p.topic, "topic", "", "only messages consumed from this topic")
	if withStatus {
		f.StringVar(&p.status, "status", "", "only messages in this status: poisoned, requeued or discarded")
	}
}

func (p *poisonFilter) filter(now time.Time) (poison.Filter, error) {
	f := poison.Filter{Group: p.group, Reason: p.reason, Status: poison.Status(p.status), Topic: p.topic}
	var err error
	if p.since != "" {
		if f.Since, err = reportTime("--since", p.since, now); err != nil {
			return f, err
		}
	}
	if p.until != "" {
		if f.Until, err = reportTime("--until", p.until, now); err != nil {
			return f, err
		}
	}
	if err := f.Validate(); err != nil {
		return f, usageError("%w", err)
	}
	return f, nil
}

func newPoisonListCmd(g *globals) *cobra.Command {
	var pf poisonFilter
	var limit int
	var out output
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List poisoned messages, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := pf.filter(time.Now())
			if err != nil {
				return err
			}
			if limit <= 0 {
				return usageError("--limit %d: want a positive number", limit)
			}
			f.Limit = limit
			if _, err := out.Format(); err != nil {
				return err
			}
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			list, err := poison.List(cmd.Context(), db, f)
			if err != nil {
				return err
			}
			if list == nil {
				list = []poison.Message{}
			}
			return out.print(cmd.OutOrStdout(), list, list, func(w io.Writer, wide bool) error {
				return printPoison(w, wide, list, time.Now())
			})
		},
	}
	pf.register(cmd, true)
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many messages")
	addOutput(cmd, &out)
	return cmd
}

func printPoison(w io.Writer, wide bool, list []poison.Message, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if wide {
		fmt.Fprintln(tw, "ID\tGROUP\tTOPIC\tKIND\tSTATUS\tPOISONED\tREQUEUES\tFROM\tMESSAGE\tREASON")
	} else {
		fmt.Fprintln(tw, "ID\tGROUP\tKIND\tSTATUS\tPOISONED\tREASON")
	}
	for _, m := range list {
		reason := m.Reason
		if !wide && len(reason) > 60 {
			reason = reason[:57] + "..."
		}
		if wide {
			from := "-"
			if m.RequeuedFrom != nil {
				from = strconv.FormatInt(*m.RequeuedFrom, 10)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", m.ID, m.Group, m.Topic, m.Kind, m.Status,
				m.PoisonedAt.Format(time.RFC3339), m.RequeueCount, from, m.MessageID, reason)
		} else {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Group, m.Kind, m.Status, relative(m.PoisonedAt, now), reason)
		}
	}
	return tw.Flush()
}

func newPoisonShowCmd(g *globals) *cobra.Command {
	var out output
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one poisoned message: where it was, why, its metadata and payload",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := poisonID(args[0])
			if err != nil {
				return err
			}
			if _, err := out.Format(); err != nil {
				return err
			}
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			m, err := poison.Show(cmd.Context(), db, id)
			if err != nil {
				return err
			}
			return out.print(cmd.OutOrStdout(), m, nil, func(w io.Writer, _ bool) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "id:\t%d\ngroup:\t%s\ntopic:\t%s\nmessage:\t%s\nkind:\t%s\nstatus:\t%s\n", m.ID, m.Group, m.Topic,
					m.MessageID, m.Kind, m.Status)
				if m.ResolvedAt != nil {
					fmt.Fprintf(tw, "resolved:\t%s by %s\n", m.ResolvedAt.Format(time.RFC3339), m.ResolvedBy)
				}
				if m.RequeuedFrom != nil {
					fmt.Fprintf(tw, "requeued from:\t%d (requeue %d)\n", *m.RequeuedFrom, m.RequeueCount)
				}
				fmt.Fprintf(tw, "poisoned:\t%s\nreason:\t%s\npayload:\t%d bytes, sha256 %s, truncated %t\n",
					m.PoisonedAt.Format(time.RFC3339), m.Reason, m.PayloadBytes, m.PayloadSHA256, m.Truncated)
				if err := tw.Flush(); err != nil {
					return err
				}
				fmt.Fprintln(w, "metadata:")
				for _, k := range slices.Sorted(maps.Keys(m.Metadata)) {
					fmt.Fprintf(w, "  %s: %s\n", k, m.Metadata[k])
				}
				_, err := fmt.Fprintf(w, "payload:\n%s\n", m.Payload)
				return err
			})
		},
	}
	addOutput(cmd, &out)
	return cmd
}

// newPoisonActionCmd is requeue or discard: of the ids given, or with --all of every poisoned
// message the filter selects.
func newPoisonActionCmd(g *globals, verb string, action func(ctx context.Context, db poison.DB, actor string, id int64) (poison.Result, error)) *cobra.Command {
	var pf poisonFilter
	var all bool
	var out output
	short := map[string]string{
		"requeue": "Send poisoned messages again to their topic, through the outbox (audited)",
		"discard": "Set poisoned messages aside for good (audited)",
	}[verb]
	cmd := &cobra.Command{
		Use:   verb + " [ID...]",
		Short: short,
		Long: short + ". Give the ids, or --all with filters (--group, --reason, --since, --until, --topic) " +
			"for every still-poisoned message they select; --all without a filter is every one.",
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := pf.filter(time.Now())
			if err != nil {
				return err
			}
			filtered := !f.Empty()
			switch {
			case len(args) > 0 && (all || filtered):
				return usageError("give ids or --all with filters, not both")
			case len(args) == 0 && !all && filtered:
				return usageError("filters select many messages: add --all to %s every one they select", verb)
			case len(args) == 0 && !all:
				return usageError("give the ids of the messages to %s, or --all", verb)
			}
			var ids []int64
			for _, a := range args {
				id, err := poisonID(a)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			if _, err := out.Format(); err != nil {
				return err
			}
			db, err := g.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if all {
				if ids, err = poison.Matching(cmd.Context(), db, f); err != nil {
					return err
				}
			}
			results, err := poison.Each(cmd.Context(), db, operator("omni poison"), ids, action)
			if perr := out.print(cmd.OutOrStdout(), results, results, func(w io.Writer, _ bool) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tGROUP\tTOPIC\tOUTCOME")
				for _, r := range results {
					outcome := string(r.Outcome)
					if r.Error != "" {
						outcome = "error: " + r.Error
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", r.ID, r.Group, r.Topic, outcome)
				}
				return tw.Flush()
			}); perr != nil {
				return perr
			}
			if err != nil {
				return fmt.Errorf("could not %s every message: %w", verb, err)
			}
			if len(results) == 0 {
				return withCode(exitFailed, errors.New("no poisoned message matched"))
			}
			return nil
		},
	}
	pf.register(cmd, false)
	cmd.Flags().BoolVar(&all, "all", false, "every still-poisoned message the filters select (all of them without filters)")
	addOutput(cmd, &out)
	return cmd
}

func poisonID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError("%q is not a poisoned message's id (a positive number: omni poison list shows them)", s)
	}
	return id, nil
}
