package scaffold

import (
	"bytes"
	"fmt"
	"strings"
)

// insert puts line before the marker line of src, indented as the marker is, unless a line
// equal to it, or holding key when key is given (spaces aside), is there already: inserting
// twice changes nothing.
func insert(src []byte, marker, line, key, path string) ([]byte, error) {
	lines := strings.Split(string(src), "\n")
	at := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == marker {
			at = i
		}
		if squeeze(l) == squeeze(line) || (key != "" && strings.Contains(squeeze(l), squeeze(key))) {
			return src, nil
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("%s has no line %q, where the scaffold inserts the node: put it back", path, marker)
	}
	indent := lines[at][:len(lines[at])-len(strings.TrimLeft(lines[at], " \t"))]
	lines = append(lines[:at], append([]string{indent + line}, lines[at:]...)...)
	return []byte(strings.Join(lines, "\n")), nil
}

// insertBlock puts block (whole lines) before the marker line of src, with a blank line after
// it, unless src has a line equal to heading already.
func insertBlock(src []byte, marker, block, heading, path string) ([]byte, error) {
	lines := strings.Split(string(src), "\n")
	at := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == marker {
			at = i
		}
		if strings.TrimSpace(l) == heading {
			return src, nil
		}
	}
	if at < 0 {
		return nil, fmt.Errorf("%s has no line %q, where the scaffold inserts the node's section: put it back", path, marker)
	}
	var b bytes.Buffer
	b.WriteString(strings.Join(lines[:at], "\n"))
	if at > 0 {
		b.WriteString("\n")
	}
	b.WriteString(strings.TrimRight(block, "\n") + "\n\n")
	b.WriteString(strings.Join(lines[at:], "\n"))
	return b.Bytes(), nil
}

func squeeze(s string) string { return strings.Join(strings.Fields(s), " ") }
