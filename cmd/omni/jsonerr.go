package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// jsonProblem says what is wrong with a JSON payload in the payload's own words — its field
// names and JSON's types — where encoding/json speaks of Go ("Go struct field
// PostgresQuery.Statement.sql of type string").
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Type != nil {
		want := jsonType(typeErr.Type.Kind().String())
		// The path holds the Go names of embedded structs ("Statement.sql"): JSON has none.
		var path []string
		for _, p := range strings.Split(typeErr.Field, ".") {
			if p != "" && !unicode.IsUpper([]rune(p)[0]) {
				path = append(path, p)
			}
		}
		typeErr.Field = strings.Join(path, ".")
		if typeErr.Field == "" {
			return fmt.Sprintf("want %s, got %s", want, typeErr.Value)
		}
		return fmt.Sprintf("field %q: want %s, got %s", typeErr.Field, want, typeErr.Value)
	}
	return goStructField.ReplaceAllString(err.Error(), "field $1")
}

// goStructField is how encoding/json names a field in the messages it has no type for.
var goStructField = regexp.MustCompile(`Go struct field [A-Za-z0-9_]+\.(?:[A-Za-z0-9_]+\.)*([A-Za-z0-9_]+) of type [^ ;:]+`)

// jsonType names a Go kind as JSON does.
func jsonType(kind string) string {
	switch {
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "true or false"
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"), strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "slice", kind == "array":
		return "a list"
	case kind == "map", kind == "struct":
		return "an object"
	}
	return "another type"
}
