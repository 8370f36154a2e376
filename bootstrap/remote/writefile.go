package remote

import (
	"context"
	"fmt"
	"os"
	"path"
)

// WriteFile writes data to path on the host with the given permission bits,
// atomically: the data goes to a temporary file beside path (created 0600),
// gets its mode, then is renamed over path, so readers never see half a file.
// Missing directories are created (mkdir -p, default umask). It runs as root
// (through sudo -n for other users), as host configuration needs. data
// travels on stdin, so it never shows in logs or the process list.
func (c *Conn) WriteFile(ctx context.Context, path string, data []byte, mode os.FileMode) error {
	cmd, err := WriteFileCmd(path, data, mode)
	if err != nil {
		return fmt.Errorf("%s: %w", c.target, err)
	}
	_, err = c.Run(ctx, cmd)
	return err
}

// WriteFileCmd is the command WriteFile runs. path must be absolute.
func WriteFileCmd(file string, data []byte, mode os.FileMode) (Cmd, error) {
	if !path.IsAbs(file) || path.Clean(file) != file {
		return Cmd{}, fmt.Errorf("write file %q: need a clean absolute path", file)
	}
	if data == nil {
		data = []byte{} // stdin must still be sent, and closed
	}
	script := fmt.Sprintf(`set -eu
f=%s
d=$(dirname "$f")
mkdir -p "$d"
t=$(mktemp "$d/.shoal.XXXXXX")
trap 'rm -f "$t"' EXIT
cat > "$t"
chmod %04o "$t"
mv -f "$t" "$f"
trap - EXIT`, Quote(file), mode.Perm())
	return Cmd{Script: script, Stdin: data, Sudo: true}, nil
}
