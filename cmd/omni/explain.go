package main

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/spf13/cobra"

	"github.com/omninode/omnibase-infra/events"
)

// fieldDoc is one field of a command's payload.
type fieldDoc struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
}

// explained is omni explain's document.
type explained struct {
	Command string          `json:"command"`
	Type    string          `json:"type"`
	Fields  []fieldDoc      `json:"fields"`
	Example json.RawMessage `json:"example"`
}

func newExplainCmd() *cobra.Command {
	names := commandNames()
	var out output
	cmd := &cobra.Command{
		Use:   "explain ADAPTER COMMAND",
		Short: "Print a command's payload: its fields, their JSON types, which are required, and an example for --data",
		Long: `Print the payload of omni cmd ADAPTER COMMAND, read from the Go type the adapter decodes it
into: each field with its JSON type and whether it may be left out, and an example with every
field (placeholders to replace). The README's adapter sections say what each field means.`,
		Example:           "  omni explain postgres query\n  omni explain consul kv-put -o json",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeCommand(names),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := lookupCommand(names, args[0], args[1])
			if err != nil {
				return err
			}
			var msg events.Message
			for _, c := range append(events.Commands(), controlCommands()...) {
				if c.Kind() == kind {
					msg = c
				}
			}
			if msg == nil {
				return fmt.Errorf("no type for %s in the catalog", kind)
			}
			t := reflect.TypeOf(msg)
			doc := explained{Command: args[0] + " " + args[1], Type: kind.String(), Fields: payloadFields(t, ""), Example: example(t)}
			if c := controlCommandAdapterField(kind); c {
				doc.Fields = withoutField(doc.Fields, "adapter") // omni cmd fills it from ADAPTER
			}
			return out.print(cmd.OutOrStdout(), doc, doc.Fields, func(w io.Writer, wide bool) error {
				fmt.Fprintf(w, "omni cmd %s (%s)\n\n", doc.Command, doc.Type)
				if err := writeTable(w, wide, []column[fieldDoc]{
					{name: "name", value: func(f fieldDoc) string { return f.Name }},
					{name: "type", value: func(f fieldDoc) string { return f.Type }},
					{name: "required", value: func(f fieldDoc) string { return fmt.Sprint(f.Required) }},
				}, doc.Fields); err != nil {
					return err
				}
				fmt.Fprintf(w, "\nexample:\n  omni cmd %s --data '%s'\n", doc.Command, doc.Example)
				return nil
			})
		},
	}
	addOutput(cmd, &out)
	return cmd
}

// controlCommands are the commands every adapter takes about a target.
func controlCommands() []events.Command {
	return []events.Command{events.ProbeTarget{}, events.OpenBreaker{}, events.CloseBreaker{}, events.RecoverTarget{}, events.InitializeTarget{}}
}

func controlCommandAdapterField(k events.Kind) bool {
	for _, c := range controlCommands() {
		if c.Kind() == k {
			return true
		}
	}
	return false
}

func withoutField(fields []fieldDoc, name string) []fieldDoc {
	var out []fieldDoc
	for _, f := range fields {
		if f.Name != name {
			out = append(out, f)
		}
	}
	return out
}

// jsonName is a struct field's JSON name and whether it may be left out ("" for a field JSON
// skips).
func jsonName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	if tag == "-" || !f.IsExported() {
		return "", false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
}

// payloadFields lists t's JSON fields, nested objects' as "parent.child"; embedded structs'
// fields are their own.
func payloadFields(t reflect.Type, prefix string) []fieldDoc {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []fieldDoc
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			out = append(out, payloadFields(f.Type, prefix)...)
			continue
		}
		name, optional := jsonName(f)
		if name == "" {
			continue
		}
		out = append(out, fieldDoc{Name: prefix + name, Type: jsonTypeOf(f.Type), Required: !optional})
		if ft := deref(f.Type); ft.Kind() == reflect.Struct && !isLeaf(ft) {
			out = append(out, payloadFields(ft, prefix+name+".")...)
		}
	}
	return out
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

var (
	rawType  = reflect.TypeOf(json.RawMessage{})
	textType = reflect.TypeOf((*interface{ UnmarshalText([]byte) error })(nil)).Elem()
	jsonUnm  = reflect.TypeOf((*json.Unmarshaler)(nil)).Elem()
)

// isLeaf reports whether t decodes itself (a time, a duration as text, raw JSON).
func isLeaf(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return t == rawType || p.Implements(textType) || p.Implements(jsonUnm)
}

// jsonTypeOf names t as JSON does.
func jsonTypeOf(t reflect.Type) string {
	t = deref(t)
	switch {
	case t == rawType:
		return "any JSON"
	case isLeaf(t):
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16,
		reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string (base64)"
		}
		return "list of " + jsonTypeOf(t.Elem())
	case reflect.Map:
		return "object of " + jsonTypeOf(t.Elem())
	case reflect.Struct:
		return "object"
	}
	return "any JSON"
}

// example is a payload of t with every field: strings as <name>, numbers 0, one item per list.
func example(t reflect.Type) json.RawMessage {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<target>", not "\u003ctarget\u003e"
	_ = enc.Encode(exampleValue(t, "value", 0))
	return json.RawMessage(strings.TrimSpace(b.String()))
}

func exampleValue(t reflect.Type, name string, depth int) any {
	t = deref(t)
	if depth > 4 {
		return nil
	}
	switch {
	case t == rawType:
		return map[string]any{}
	case isLeaf(t):
		return "<" + name + ">"
	}
	switch t.Kind() {
	case reflect.String:
		return "<" + name + ">"
	case reflect.Bool:
		return false
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "<" + name + ", base64>"
		}
		return []any{exampleValue(t.Elem(), name, depth+1)}
	case reflect.Map:
		return map[string]any{"<key>": exampleValue(t.Elem(), name, depth+1)}
	case reflect.Struct:
		obj := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
				for k, v := range exampleValue(f.Type, name, depth).(map[string]any) {
					obj[k] = v
				}
				continue
			}
			n, _ := jsonName(f)
			if n == "" || n == "adapter" && depth == 0 {
				continue
			}
			obj[n] = exampleValue(f.Type, n, depth+1)
		}
		return obj
	case reflect.Interface:
		return "<" + name + ">"
	}
	return 0
}
