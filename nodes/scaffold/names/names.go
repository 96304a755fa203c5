// Package names converts a node's name, given in any of the usual spellings (http-endpoint,
// http_endpoint, HTTPEndpoint, httpEndpoint), into every form the scaffold writes: Go
// identifiers, a package name, file names, a topic and the contract's name. It is pure.
package names

import (
	"errors"
	"fmt"
	"go/token"
	"strings"
)

// maxLen bounds a name's snake_case form: it ends up in topics, consumer groups and file names.
const maxLen = 40

// initialisms are the words written all in capitals in Go identifiers (Go's own list, as
// staticcheck's ST1003 has it, with a few this project's systems use).
var initialisms = map[string]bool{
	"acl": true, "api": true, "ascii": true, "cpu": true, "css": true, "dns": true, "eof": true,
	"guid": true, "html": true, "http": true, "https": true, "id": true, "ip": true, "json": true,
	"jwt": true, "kv": true, "qps": true, "ram": true, "rpc": true, "sasl": true, "sla": true,
	"smtp": true, "sql": true, "ssh": true, "tcp": true, "tls": true, "ttl": true, "udp": true,
	"ui": true, "uid": true, "uuid": true, "uri": true, "url": true, "utf8": true, "vm": true,
	"xml": true, "xmpp": true, "xsrf": true, "xss": true,
}

// ErrInvalid is wrapped by every refusal of Parse.
var ErrInvalid = errors.New("invalid node name")

// word is one word of a name, lower case; upper says it is written all in capitals in
// identifiers (an initialism, or a run of capitals in the name as given, like "ABCClient").
type word struct {
	text  string
	upper bool
}

// Name is a node's name split into words.
type Name struct {
	given string
	words []word
}

// Parse splits s into words: at "-", "_" and " ", at a lower-case letter or digit followed by a
// capital (httpEndpoint, S3Bucket), and before the last capital of a run followed by a
// lower-case letter (HTTPEndpoint). Digits stay with the word before them (redis2, oauth2Client).
// It refuses an empty name, one that does not start with a letter, holds anything but ASCII
// letters, digits and single separators, is longer than 40 characters in snake_case, or whose
// Go package name or identifier is a Go keyword.
func Parse(s string) (Name, error) {
	if s == "" {
		return Name{}, fmt.Errorf("%w: the name is empty", ErrInvalid)
	}
	if c := s[0]; !isLetter(c) {
		return Name{}, fmt.Errorf("%w %q: it must start with a letter (a-z, A-Z), not %q", ErrInvalid, s, string(rune(c)))
	}
	shouting := strings.ToUpper(s) == s // HTTP_ENDPOINT: its capitals say nothing about words
	var words []word
	for _, tok := range strings.FieldsFunc(s, isSeparator) {
		for _, r := range tok {
			if r > 0x7f || (!isLetter(byte(r)) && !isDigit(byte(r))) {
				return Name{}, fmt.Errorf("%w %q: %q is not allowed (only ASCII letters, digits, '-', '_' and ' ')", ErrInvalid, s, string(r))
			}
		}
		for _, w := range split(tok) {
			lower := strings.ToLower(w)
			words = append(words, word{text: lower, upper: initialisms[lower] || (!shouting && len(w) > 1 && isAllUpper(w))})
		}
	}
	for i := 1; i < len(s); i++ {
		if isSeparator(rune(s[i])) && isSeparator(rune(s[i-1])) {
			return Name{}, fmt.Errorf("%w %q: two separators in a row", ErrInvalid, s)
		}
	}
	if isSeparator(rune(s[len(s)-1])) {
		return Name{}, fmt.Errorf("%w %q: it ends with a separator", ErrInvalid, s)
	}
	n := Name{given: s, words: words}
	if len(n.Snake()) > maxLen {
		return Name{}, fmt.Errorf("%w %q: %d characters in snake_case, at most %d", ErrInvalid, s, len(n.Snake()), maxLen)
	}
	for _, form := range []string{n.Package(), n.Camel()} {
		if token.IsKeyword(form) {
			return Name{}, fmt.Errorf("%w %q: %q is a Go keyword", ErrInvalid, s, form)
		}
	}
	return n, nil
}

// split cuts one token (no separators) at its case boundaries.
func split(tok string) []string {
	var out []string
	start := 0
	for i := 1; i < len(tok); i++ {
		prev, c := tok[i-1], tok[i]
		next := byte(0)
		if i+1 < len(tok) {
			next = tok[i+1]
		}
		switch {
		case isUpper(c) && (isLower(prev) || isDigit(prev)):
			// httpEndpoint, S3Bucket, oauth2Client
		case isUpper(c) && isUpper(prev) && isLower(next):
			// HTTPEndpoint: the last capital of a run starts the next word
		default:
			continue
		}
		out = append(out, tok[start:i])
		start = i
	}
	return append(out, tok[start:])
}

// Given is the name as it was given.
func (n Name) Given() string { return n.given }

// Snake is snake_case: http_endpoint. Adapter names, topics, file names and consumer groups use it.
func (n Name) Snake() string { return n.join("_", strings.ToLower) }

// Kebab is kebab-case: http-endpoint. The contract's name uses it.
func (n Name) Kebab() string { return n.join("-", strings.ToLower) }

// Package is the Go package name: httpendpoint.
func (n Name) Package() string { return n.join("", strings.ToLower) }

// Pascal is the exported Go identifier: HTTPEndpoint, S3Bucket, Oauth2Client.
func (n Name) Pascal() string {
	var b strings.Builder
	for _, w := range n.words {
		b.WriteString(pascalWord(w))
	}
	return b.String()
}

// Camel is the unexported Go identifier: httpEndpoint, s3Bucket, oauth2Client.
func (n Name) Camel() string {
	var b strings.Builder
	for i, w := range n.words {
		if i == 0 {
			b.WriteString(w.text)
			continue
		}
		b.WriteString(pascalWord(w))
	}
	return b.String()
}

// Title is the name in words for prose and headings: "HTTP endpoint".
func (n Name) Title() string {
	parts := make([]string, len(n.words))
	for i, w := range n.words {
		switch {
		case w.upper:
			parts[i] = strings.ToUpper(w.text)
		case i == 0:
			parts[i] = strings.ToUpper(w.text[:1]) + w.text[1:]
		default:
			parts[i] = w.text
		}
	}
	return strings.Join(parts, " ")
}

// File is the base of the node's Go file names: http_endpoint (http_endpoint.go,
// http_endpoint_test.go).
func (n Name) File() string { return n.Snake() }

// Topic is the node's command topic under prefix ("infra.commands."): infra.commands.http_endpoint.
func (n Name) Topic(prefix string) string { return prefix + n.Snake() }

// YAML is the name as the contract writes it: kebab-case, which needs no quoting in YAML.
func (n Name) YAML() string { return n.Kebab() }

func (n Name) join(sep string, f func(string) string) string {
	parts := make([]string, len(n.words))
	for i, w := range n.words {
		parts[i] = f(w.text)
	}
	return strings.Join(parts, sep)
}

func pascalWord(w word) string {
	if w.upper {
		return strings.ToUpper(w.text)
	}
	return strings.ToUpper(w.text[:1]) + w.text[1:]
}

func isSeparator(r rune) bool { return r == '-' || r == '_' || r == ' ' }
func isLetter(c byte) bool    { return isLower(c) || isUpper(c) }
func isLower(c byte) bool     { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool     { return 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool     { return '0' <= c && c <= '9' }

func isAllUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if isLower(s[i]) {
			return false
		}
	}
	return true
}
