package stacks

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed files/*.yml
var embedded embed.FS

// Names lists the stack files shipped in the binary.
func Names() []string {
	entries, _ := fs.ReadDir(embedded, "files")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yml"))
	}
	sort.Strings(names)
	return names
}

// File returns the compose file of a shipped stack (traefik, portainer,
// registry).
func File(name string) ([]byte, error) {
	b, err := embedded.ReadFile("files/" + name + ".yml")
	if err != nil {
		return nil, fmt.Errorf("no shipped stack %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

// WriteFiles writes every shipped compose file to dir as NAME.yml, so a user
// can read them and deploy edited copies. Existing files are kept unless
// overwrite is set; it returns the paths written.
func WriteFiles(dir string, overwrite bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, n := range Names() {
		b, err := File(n)
		if err != nil {
			return written, err
		}
		path := filepath.Join(dir, n+".yml")
		if _, err := os.Stat(path); err == nil && !overwrite {
			return written, fmt.Errorf("%s exists (pass --force to overwrite)", path)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}
