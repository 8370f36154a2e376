package remote

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFile(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	c := l.dial(t, l.server(t))
	dir := t.TempDir()
	path := filepath.Join(dir, "etc", "docker", "daemon.json")

	steps := []struct {
		name string
		data string
		mode os.FileMode
	}{
		{"creates the file and its directories", `{"log-driver": "local"}` + "\n", 0o640},
		{"replaces it with new content and mode", "it's\nnew\n", 0o600},
		{"writes an empty file", "", 0o644},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := c.WriteFile(context.Background(), path, []byte(st.data), st.mode); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != st.data || info.Mode().Perm() != st.mode {
				t.Errorf("got %q mode %o, want %q mode %o", got, info.Mode().Perm(), st.data, st.mode)
			}
			left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".shoal.*"))
			if len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

func TestWriteFileCmd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		path    string
		wantErr bool
	}{
		{"absolute path", "/etc/shoal/node.env", false},
		{"path with a quote", "/etc/it's here", false},
		{"relative path is refused", "etc/shoal.env", true},
		{"unclean path is refused", "/etc/../root/x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, err := WriteFileCmd(tt.path, []byte("SECRET=x"), 0o600)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !cmd.Sudo || string(cmd.Stdin) != "SECRET=x" || strings.Contains(cmd.Script, "SECRET") {
				t.Errorf("cmd = %+v, want sudo and the data only on stdin", cmd)
			}
			if !strings.Contains(cmd.Script, "f="+Quote(tt.path)) || !strings.Contains(cmd.Script, "chmod 0600") {
				t.Errorf("script = %s", cmd.Script)
			}
		})
	}
}
