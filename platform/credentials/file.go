package credentials

import (
	"context"
	"fmt"
	"os"
	"strings"
)

// FileProvider reads file:PATH: the file's content, without surrounding white space, as the
// Password. The path is opened anew at each read, so a Kubernetes secret volume — whose files
// are symlinks through a "..data" symlink that the kubelet swaps to a new folder — is followed
// to its new content; Changed tells the cache when to read it again.
type FileProvider struct{}

// Read reads the file.
func (FileProvider) Read(_ context.Context, ref Ref) (Secret, error) {
	b, err := os.ReadFile(ref.Path)
	if err != nil {
		// The error names the path, never the content.
		return Secret{}, fmt.Errorf("could not read the secret file: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return Secret{}, fmt.Errorf("secret file %s is empty: %w", ref.Path, ErrNotFound)
	}
	return Secret{Password: v}, nil
}

// Changed reports whether the file now holds something other than s. A file that cannot be read
// (being swapped) has not changed yet.
func (p FileProvider) Changed(ref Ref, s Secret) bool {
	b, err := os.ReadFile(ref.Path)
	if err != nil {
		return false
	}
	v := strings.TrimSpace(string(b))
	return v != "" && v != s.Password
}
