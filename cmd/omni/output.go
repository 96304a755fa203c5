package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// The output formats of every command that prints data (-o, --output).
const (
	formatTable = "table" // columns for people, times local and relative
	formatWide  = "wide"  // the table with more columns and nothing truncated
	formatJSON  = "json"  // one indented JSON document, times RFC 3339
	formatYAML  = "yaml"  // the JSON document as YAML: the same field names
	formatJSONL = "jsonl" // one JSON object per line: per item of a list, per event of a stream
)

var outputFormats = []string{formatTable, formatWide, formatJSON, formatYAML, formatJSONL}

// output is the -o flag of a command that prints data. The deprecated --json is -o json.
type output struct {
	format string
	json   bool
	// jsonFormat is what --json means: json (default) or jsonl for a command that streams.
	jsonFormat string
}

// addOutput registers -o/--output (and the hidden --json) on cmd.
func addOutput(cmd *cobra.Command, o *output) {
	f := cmd.Flags()
	f.StringVarP(&o.format, "output", "o", formatTable, "output format: "+strings.Join(outputFormats, ", "))
	f.BoolVar(&o.json, "json", false, "deprecated: -o json (omni cmd: -o jsonl)")
	_ = f.MarkHidden("json")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(outputFormats, cobra.ShellCompDirectiveNoFileComp))
}

// Format is the format asked for, checked: an unknown one is a usage error.
func (o *output) Format() (string, error) {
	if o.json && (o.format == formatTable || o.format == "") {
		if o.jsonFormat != "" {
			return o.jsonFormat, nil
		}
		return formatJSON, nil
	}
	for _, f := range outputFormats {
		if o.format == f {
			return f, nil
		}
	}
	return "", usageError("-o %q: want %s", o.format, strings.Join(outputFormats, ", "))
}

// print writes doc as o says. items are the document's list, one JSON line each with -o jsonl
// (nil: doc on one line); table draws the table (wide: with every column, untruncated).
func (o *output) print(w io.Writer, doc, items any, table func(w io.Writer, wide bool) error) error {
	format, err := o.Format()
	if err != nil {
		return err
	}
	switch format {
	case formatJSON:
		return writeJSON(w, doc)
	case formatYAML:
		return writeYAML(w, doc)
	case formatJSONL:
		if items == nil {
			return writeJSONLine(w, doc)
		}
		v := reflect.ValueOf(items)
		for i := range v.Len() {
			if err := writeJSONLine(w, v.Index(i).Interface()); err != nil {
				return err
			}
		}
		return nil
	}
	return table(w, format == formatWide)
}

// writeJSON writes v as indented JSON; "<" and "&" stay as they are (a terminal is no HTML page).
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeYAML writes v's JSON as YAML, so its field names and values are the JSON's.
func writeYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	y, err := yaml.JSONToYAML(b)
	if err != nil {
		return err
	}
	_, err = w.Write(y)
	return err
}

// column is one column of a table of T: its header is name (the JSON field's) upper-cased.
type column[T any] struct {
	name string
	// wide: only with -o wide.
	wide bool
	// max is the width beyond which the table (not wide) truncates the cell; 0: never.
	max   int
	value func(T) string
}

// writeTable draws rows under cols' headers; every cell on one line.
func writeTable[T any](w io.Writer, wide bool, cols []column[T], rows []T) error {
	return writeTableRows(w, wide, cols, rows, true)
}

// writeTableRows is writeTable, without the headers unless header (the next rows of a stream).
func writeTableRows[T any](w io.Writer, wide bool, cols []column[T], rows []T, header bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var shown []column[T]
	for _, c := range cols {
		if wide || !c.wide {
			shown = append(shown, c)
		}
	}
	cells := make([]string, len(shown))
	for i, c := range shown {
		cells[i] = strings.ToUpper(c.name)
	}
	if header {
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	for _, r := range rows {
		for i, c := range shown {
			v := singleLine(c.value(r))
			if !wide && c.max > 0 {
				v = truncate(v, c.max)
			}
			if v == "" {
				v = "-"
			}
			cells[i] = v
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// singleLine puts s on one line: every run of white space (pgx's multi-line errors) is a space.
func singleLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// tableTime is t for a table: local, the time of day when it is today and the date too when
// not, and how long ago ("14:02:11 (5s ago)"). The zero time is "-". JSON and YAML carry
// times as RFC 3339.
func tableTime(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	t, now = t.Local(), now.Local()
	layout := time.TimeOnly
	if y, m, d := t.Date(); y != now.Year() || m != now.Month() || d != now.Day() {
		layout = time.DateTime
	}
	return t.Format(layout) + " (" + relative(t, now) + ")"
}

// relative is how far t is from now in its largest unit: "now", "5s ago", "3m ago", "2h ago",
// "4d ago", "in 10s".
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Second:
		return "now"
	case d < time.Minute:
		s = fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// micros renders a latency kept in microseconds.
func micros(us int64) string {
	return (time.Duration(us) * time.Microsecond).Round(10 * time.Microsecond).String()
}
