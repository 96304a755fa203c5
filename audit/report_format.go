package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Write writes the report to w as format: json, csv or markdown.
func (r ComplianceReport) Write(w io.Writer, format string) error {
	switch format {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatCSV:
		return r.writeCSV(w)
	case FormatMarkdown:
		return r.writeMarkdown(w)
	}
	return fmt.Errorf("unknown report format %q: want %s, %s or %s", format, FormatJSON, FormatCSV, FormatMarkdown)
}

// csvHeader is the columns of the CSV report: one table, each row's section saying what it is
// (coverage, entry, security, by_actor, by_action, by_outcome).
var csvHeader = []string{"section", "seq", "at", "actor", "action", "subject", "outcome", "value", "count", "note"}

func (r ComplianceReport) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	rows := [][]string{csvHeader}
	c := r.Coverage
	checkpoint := ""
	if c.Checkpoint != nil {
		checkpoint = strconv.FormatInt(c.Checkpoint.Size, 10)
	}
	rows = append(rows, []string{"coverage", "", "", "", "", "", coverageWord(c), checkpoint, strconv.Itoa(len(r.Entries)), c.Statement})
	entry := func(section string, e ReportEntry) []string {
		return []string{section, strconv.FormatInt(e.Seq, 10), e.At.Format(time.RFC3339Nano), e.Actor, e.Action, e.Subject, e.Outcome, "", "", e.Reason}
	}
	for _, e := range r.Entries {
		rows = append(rows, entry("entry", e))
	}
	for _, e := range r.Security {
		rows = append(rows, entry("security", e))
	}
	for _, g := range []struct {
		section string
		counts  []Count
	}{{"by_actor", r.ByActor}, {"by_action", r.ByAction}, {"by_outcome", r.ByOutcome}} {
		for _, n := range g.counts {
			rows = append(rows, []string{g.section, "", "", "", "", "", "", n.Value, strconv.Itoa(n.N), ""})
		}
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("could not write the report: %w", err)
	}
	return nil
}

// coverageWord is the coverage in one word: covered, not_covered or not_verified.
func coverageWord(c Coverage) string {
	switch {
	case !c.Verified:
		return "not_verified"
	case !c.Covered:
		return "not_covered"
	}
	return "covered"
}

// md escapes a value for a Markdown table cell.
func md(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

func (r ComplianceReport) writeMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Audit report, %s to %s\n\n", r.Since.Format(time.RFC3339), r.Until.Format(time.RFC3339))
	fmt.Fprintf(&b, "## Verification\n\n%s.\n\n", md(r.Coverage.Statement))
	fmt.Fprintf(&b, "%d entries, %d security events.\n\n", len(r.Entries), len(r.Security))
	for _, g := range []struct {
		title  string
		counts []Count
	}{{"actor", r.ByActor}, {"action", r.ByAction}, {"outcome", r.ByOutcome}} {
		fmt.Fprintf(&b, "## By %s\n\n| %s | entries |\n|---|---|\n", g.title, g.title)
		for _, n := range g.counts {
			fmt.Fprintf(&b, "| %s | %d |\n", md(n.Value), n.N)
		}
		b.WriteString("\n")
	}
	b.WriteString("## Security events\n\n")
	if len(r.Security) == 0 {
		b.WriteString("None in the period.\n\n")
	} else {
		b.WriteString("| seq | at | actor | kind | subject | reason |\n|---|---|---|---|---|---|\n")
		for _, e := range r.Security {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", e.Seq, e.At.Format(time.RFC3339), md(e.Actor),
				md(strings.TrimPrefix(e.Action, ActionSecurity)), md(e.Subject), md(e.Reason))
		}
		b.WriteString("\n")
	}
	b.WriteString("## Entries\n\n| seq | at | actor | action | subject | outcome |\n|---|---|---|---|---|---|\n")
	for _, e := range r.Entries {
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s |\n", e.Seq, e.At.Format(time.RFC3339), md(e.Actor), md(e.Action), md(e.Subject), md(e.Outcome))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("could not write the report: %w", err)
	}
	return nil
}
