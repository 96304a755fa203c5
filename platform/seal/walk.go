package seal

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errShape: the payload does not have the shape of its type where a sealed field should be.
var errShape = errors.New("payload is not of its type's shape")

// walk replaces, in the JSON object payload, the value at each of paths (see events.Sensitive)
// by what fn returns; absent and null values are left alone. fn receives the concrete path
// ("statements[1].args"). A payload with none of the paths is returned as it was.
//
// It splices the bytes in place rather than decoding the payload into maps and encoding it
// again: the payload keeps its field order and every byte but the values replaced, and sealing
// costs the scan of the payload, not two trips through encoding/json.
func walk(payload []byte, paths []string, fn func(path string, raw json.RawMessage) (json.RawMessage, error)) ([]byte, error) {
	out := payload
	for _, p := range paths {
		var spans []splice
		if err := collect(out, 0, strings.Split(p, "."), "", &spans); err != nil {
			return nil, err
		}
		if len(spans) == 0 {
			continue
		}
		next := make([]byte, 0, len(out)+64*len(spans))
		at := 0
		for _, sp := range spans {
			v, err := fn(sp.path, json.RawMessage(out[sp.start:sp.end]))
			if err != nil {
				return nil, err
			}
			next = append(append(next, out[at:sp.start]...), v...)
			at = sp.end
		}
		out = append(next, out[at:]...)
	}
	return out, nil
}

// splice is where a value to replace lies in the payload, in order.
type splice struct {
	start, end int
	path       string
}

// collect appends the spans of segs' values in the value that starts at i (after whitespace).
func collect(b []byte, i int, segs []string, at string, out *[]splice) error {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return fmt.Errorf("%w: %s is not a JSON object", errShape, orRoot(at))
	}
	name, each := strings.CutSuffix(segs[0], "[]")
	start, end, err := member(b, i, name)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", errShape, orRoot(at), err)
	}
	if start < 0 || string(b[start:end]) == "null" {
		return nil
	}
	path := join(at, name)
	switch {
	case each:
		if b[start] != '[' {
			return fmt.Errorf("%w: %s is not a JSON array", errShape, path)
		}
		j, n := skipSpace(b, start+1), 0
		for j < len(b) && b[j] != ']' {
			e, err := skipValue(b, j)
			if err != nil {
				return fmt.Errorf("%w: %s: %w", errShape, path, err)
			}
			ip := fmt.Sprintf("%s[%d]", path, n)
			if len(segs) == 1 {
				*out = append(*out, splice{j, e, ip})
			} else if err := collect(b, j, segs[1:], ip, out); err != nil {
				return err
			}
			n++
			j = skipSpace(b, e)
			if j < len(b) && b[j] == ',' {
				j = skipSpace(b, j+1)
			}
		}
		return nil
	case len(segs) == 1:
		*out = append(*out, splice{start, end, path})
		return nil
	default:
		return collect(b, start, segs[1:], path, out)
	}
}

// member finds the value of key name in the object at b[i] ('{'): its span, or -1 when absent.
func member(b []byte, i int, name string) (start, end int, err error) {
	j := skipSpace(b, i+1)
	for j < len(b) && b[j] != '}' {
		ks, ke, err := skipString(b, j)
		if err != nil {
			return 0, 0, err
		}
		key := string(b[ks+1 : ke-1])
		if strings.ContainsRune(key, '\\') {
			if err := json.Unmarshal(b[ks:ke], &key); err != nil {
				return 0, 0, fmt.Errorf("bad key at byte %d", ks)
			}
		}
		j = skipSpace(b, ke)
		if j >= len(b) || b[j] != ':' {
			return 0, 0, fmt.Errorf("no ':' at byte %d", j)
		}
		vs := skipSpace(b, j+1)
		ve, err := skipValue(b, vs)
		if err != nil {
			return 0, 0, err
		}
		if key == name {
			return vs, ve, nil
		}
		j = skipSpace(b, ve)
		if j < len(b) && b[j] == ',' {
			j = skipSpace(b, j+1)
		}
	}
	if j >= len(b) {
		return 0, 0, errors.New("unterminated object")
	}
	return -1, -1, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the span of the JSON string at b[i], quotes included.
func skipString(b []byte, i int) (int, int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, fmt.Errorf("no string at byte %d", i)
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return i, j + 1, nil
		}
	}
	return 0, 0, errors.New("unterminated string")
}

// skipValue returns where the JSON value at b[i] ends.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("missing value")
	}
	switch b[i] {
	case '"':
		_, e, err := skipString(b, i)
		return e, err
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				_, e, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated object or array")
	default: // number, true, false, null
		j := i
		for j < len(b) && !strings.ContainsRune(",}] \t\n\r", rune(b[j])) {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("no value at byte %d", i)
		}
		return j, nil
	}
}

func join(at, name string) string {
	if at == "" {
		return name
	}
	return at + "." + name
}

func orRoot(at string) string {
	if at == "" {
		return "the payload"
	}
	return at
}
