package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrBadArgument is returned, wrapped, for a statement argument that cannot be sent.
var ErrBadArgument = errors.New("bad argument")

// convertArgs converts a statement's JSON arguments to the values pgx sends as its parameters:
//
//   - a string is a string (the server converts it to the parameter's type: text, timestamptz,
//     uuid, numeric, …; to a json/jsonb parameter it is sent as JSON text);
//   - an integer-valued number that fits int64 (1, 1.0, 1e3) is an int64; an integer literal
//     too large for int64 is sent as its decimal text, so a numeric parameter keeps every digit;
//     any other number is a float64;
//   - true and false are booleans, null is NULL;
//   - an object or an array is its JSON text, as it is, for a json or jsonb parameter.
//
// Its errors wrap ErrBadArgument and name the argument ("args[2]").
func convertArgs(raw []json.RawMessage) ([]any, error) {
	out := make([]any, len(raw))
	for i, r := range raw {
		v, err := arg(r)
		if err != nil {
			return nil, fmt.Errorf("%w: args[%d]: %w", ErrBadArgument, i, err)
		}
		out[i] = v
	}
	return out, nil
}

func arg(raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) {
		return nil, errors.New("not a JSON value")
	}
	switch raw[0] {
	case 'n':
		return nil, nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return s, nil
	case '{', '[':
		return json.RawMessage(bytes.Clone(raw)), nil
	}
	return number(string(raw))
}

// number converts a JSON number.
func number(s string) (any, error) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	if !strings.ContainsAny(s, ".eE") {
		return s, nil // an integer beyond int64: its text, for numeric
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return nil, fmt.Errorf("number %s does not fit a float64", s)
	}
	// WARNING: float64(math.MaxInt64) rounds up to 2^63, which int64 cannot hold: the bound is
	// exclusive.
	if f == math.Trunc(f) && f >= math.MinInt64 && f < math.MaxInt64 {
		return int64(f), nil
	}
	return f, nil
}
