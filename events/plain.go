package events

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// The plain decoder is a fast path of Registry.Decode for payloads as json.Marshal writes them:
// an object of exactly named fields whose values are plain strings, integers, booleans, RFC 3339
// times and maps of plain strings. On such a payload it gives what encoding/json's strict decoding
// gives; on anything else — an escape, a float, a null, a name in another case, a repeated field,
// an unknown or nested field, any error — it declines, and the payload is decoded by encoding/json,
// which then gives its own result and its own error. Decoding is most of what a replay of the event
// log costs, and encoding/json's reflection and scanner take five times as long on these payloads.

// plainKind is how the plain decoder sets a field.
type plainKind uint8

const (
	plainUnsupported plainKind = iota
	plainString
	plainBool
	plainInt
	plainUint
	plainTime
	plainStringMap
	plainBytes
)

// plainField is a field the plain decoder can set.
type plainField struct {
	index int
	kind  plainKind
}

// plainPlan maps the JSON names of a type's fields to how to set them. A nil plan means the type
// has a field encoding/json treats in a way the plain decoder does not follow (an embedded struct,
// the ",string" option, an unusual name); its payloads always go to encoding/json.
type plainPlan struct {
	fields map[string]plainField
}

var (
	timeType            = reflect.TypeFor[time.Time]()
	stringMapType       = reflect.TypeFor[map[string]string]()
	bytesType           = reflect.TypeFor[[]byte]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// planPlain builds the plain decoder's plan for struct type t, or nil.
func planPlain(t reflect.Type) *plainPlan {
	if t.Kind() != reflect.Struct {
		return nil
	}
	p := &plainPlan{fields: map[string]plainField{}}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		if _, dup := p.fields[name]; dup || !plainName(name) || strings.Contains(","+opts+",", ",string,") {
			return nil
		}
		p.fields[name] = plainField{index: i, kind: plainKindOf(f.Type)}
	}
	return p
}

// plainName reports whether encoding/json takes a tag's name as it is: letters, digits and
// underscores only.
func plainName(name string) bool {
	for _, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return name != ""
}

func plainKindOf(t reflect.Type) plainKind {
	switch t {
	case timeType:
		return plainTime
	case stringMapType:
		return plainStringMap
	case bytesType:
		return plainBytes
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return plainUnsupported
	}
	switch t.Kind() {
	case reflect.String:
		return plainString
	case reflect.Bool:
		return plainBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return plainInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return plainUint
	}
	return plainUnsupported
}

// decode sets the fields of v, a settable struct of the plan's type, from data. It reports false
// when it declined; v is then partly set and must be thrown away.
func (p *plainPlan) decode(data []byte, v reflect.Value) bool {
	d := plainDecoder{data: data}
	d.space()
	if !d.byte('{') {
		return false
	}
	d.space()
	seen := uint64(0)
	if !d.byte('}') {
		for {
			name, ok := d.raw()
			if !ok {
				return false
			}
			f, known := p.fields[string(name[1:len(name)-1])]
			if !known || f.index >= 64 || seen&(1<<f.index) != 0 {
				return false
			}
			seen |= 1 << f.index
			d.space()
			if !d.byte(':') {
				return false
			}
			d.space()
			if !d.value(f.kind, v.Field(f.index)) {
				return false
			}
			d.space()
			if d.byte(',') {
				d.space()
				continue
			}
			if d.byte('}') {
				break
			}
			return false
		}
	}
	d.space()
	return d.i == len(d.data)
}

type plainDecoder struct {
	data []byte
	i    int
}

func (d *plainDecoder) space() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// byte consumes c when it comes next.
func (d *plainDecoder) byte(c byte) bool {
	if d.i < len(d.data) && d.data[d.i] == c {
		d.i++
		return true
	}
	return false
}

// raw consumes a string without escapes, control characters or invalid UTF-8 (which encoding/json
// takes byte for byte) and returns it with its quotes.
func (d *plainDecoder) raw() ([]byte, bool) {
	if !d.byte('"') {
		return nil, false
	}
	start, ascii := d.i-1, true
	for ; d.i < len(d.data); d.i++ {
		switch c := d.data[d.i]; {
		case c == '"':
			d.i++
			s := d.data[start:d.i]
			return s, ascii || utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func (d *plainDecoder) str() (string, bool) {
	s, ok := d.raw()
	if !ok {
		return "", false
	}
	return string(s[1 : len(s)-1]), true
}

// delimited reports whether what follows a literal ends it: the end, white space, ',' or '}'.
func (d *plainDecoder) delimited() bool {
	if d.i == len(d.data) {
		return true
	}
	switch d.data[d.i] {
	case ' ', '\t', '\n', '\r', ',', '}':
		return true
	}
	return false
}

// integer consumes an integer as JSON writes it — an optional minus, then 0 or digits not
// starting with 0, no fraction or exponent — and returns its sign and magnitude.
func (d *plainDecoder) integer() (neg bool, mag uint64, ok bool) {
	neg = d.byte('-')
	start := d.i
	for ; d.i < len(d.data) && d.data[d.i] >= '0' && d.data[d.i] <= '9'; d.i++ {
		digit := uint64(d.data[d.i] - '0')
		if mag > (math.MaxUint64-digit)/10 {
			return neg, 0, false
		}
		mag = mag*10 + digit
	}
	n := d.i - start
	return neg, mag, n > 0 && (n == 1 || d.data[start] != '0') && d.delimited()
}

// literal consumes lit when it comes next, followed by a delimiter.
func (d *plainDecoder) literal(lit string) bool {
	if len(d.data)-d.i < len(lit) || string(d.data[d.i:d.i+len(lit)]) != lit {
		return false
	}
	d.i += len(lit)
	return d.delimited()
}

func (d *plainDecoder) value(kind plainKind, f reflect.Value) bool {
	switch kind {
	case plainString:
		s, ok := d.str()
		f.SetString(s)
		return ok
	case plainBool:
		switch {
		case d.literal("true"):
			f.SetBool(true)
		case d.literal("false"):
			f.SetBool(false)
		default:
			return false
		}
		return true
	case plainInt:
		neg, mag, ok := d.integer()
		if !ok || !neg && mag > math.MaxInt64 || neg && mag > 1<<63 {
			return false
		}
		n := int64(mag)
		if neg {
			n = -n // 1<<63 becomes math.MinInt64, as it should
		}
		if f.OverflowInt(n) {
			return false
		}
		f.SetInt(n)
		return true
	case plainUint:
		neg, mag, ok := d.integer()
		if !ok || neg || f.OverflowUint(mag) {
			return false // encoding/json refuses a minus for an unsigned field, even "-0"
		}
		f.SetUint(mag)
		return true
	case plainTime:
		s, ok := d.raw()
		return ok && f.Addr().Interface().(*time.Time).UnmarshalJSON(s) == nil
	case plainStringMap:
		return d.stringMap(f)
	case plainBytes:
		// encoding/json writes []byte as standard, padded base64 and reads it back the same way.
		s, ok := d.raw()
		if !ok {
			return false
		}
		b, err := base64.StdEncoding.DecodeString(string(s[1 : len(s)-1]))
		if err != nil {
			return false
		}
		f.SetBytes(b)
		return true
	}
	return false
}

// plans are the plain decoder's plans of the types DecodeJSON was asked for.
var plans sync.Map // reflect.Type → *plainPlan

// DecodeJSON decodes data into v, a pointer to a struct, as DecodeStrict does, through the plain
// fast path when data is as json.Marshal writes it (see plainPlan): the relay reads every outbox
// row's envelope this way.
func DecodeJSON(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Struct {
		t := rv.Elem().Type()
		p, ok := plans.Load(t)
		if !ok {
			p, _ = plans.LoadOrStore(t, planPlain(t))
		}
		if plan := p.(*plainPlan); plan != nil {
			fresh := reflect.New(t)
			if plan.decode(data, fresh.Elem()) {
				rv.Elem().Set(fresh.Elem())
				return nil
			}
		}
	}
	return DecodeStrict(data, v)
}

// stringMap consumes an object of plain strings into a new map, as encoding/json fills a nil map
// (a repeated key keeps its last value).
func (d *plainDecoder) stringMap(f reflect.Value) bool {
	if !d.byte('{') {
		return false
	}
	m := map[string]string{}
	f.Set(reflect.ValueOf(m))
	d.space()
	if d.byte('}') {
		return true
	}
	for {
		k, ok := d.str()
		if !ok {
			return false
		}
		d.space()
		if !d.byte(':') {
			return false
		}
		d.space()
		v, ok := d.str()
		if !ok {
			return false
		}
		m[k] = v
		d.space()
		if d.byte(',') {
			d.space()
			continue
		}
		return d.byte('}')
	}
}
