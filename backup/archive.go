package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Archive members.
const (
	ManifestFile  = "manifest.json"
	SwarmFile     = "swarm.tar.gz" // <data root>/swarm, as tar -czf made it on the node
	UnlockKeyFile = "unlock-key"
	InventoryFile = "shoal/inventory.yaml"
	KnownHosts    = "shoal/known_hosts"
	StackFile     = "shoal/stack.json"
)

// Format is the archive format this shoal writes and reads.
const Format = 1

// Manifest describes a backup. It is the archive's last member, so an
// archive cut short has none.
type Manifest struct {
	Format  int       `json:"format"`
	Cluster string    `json:"cluster"`
	SwarmID string    `json:"swarm_id"`
	Node    string    `json:"node"` // the manager whose raft state was copied
	NodeID  string    `json:"node_id"`
	Taken   time.Time `json:"taken"`
	// EngineStoppedMS is how long the node's engine was stopped.
	EngineStoppedMS int64  `json:"engine_stopped_ms"`
	ShoalVersion    string `json:"shoal_version"`
	Autolock        bool   `json:"autolock"`
	// What the swarm held, read from the API before the copy.
	Objects Objects `json:"objects"`
	// Files are the other members with their size and SHA-256.
	Files []File `json:"files"`
}

// Objects are the names of a swarm's services, swarm-scoped networks,
// configs and secrets, each sorted.
type Objects struct {
	Services []string `json:"services"`
	Networks []string `json:"networks"`
	Configs  []string `json:"configs"`
	Secrets  []string `json:"secrets"`
}

// Sort sorts each list.
func (o *Objects) Sort() {
	for _, l := range []*[]string{&o.Services, &o.Networks, &o.Configs, &o.Secrets} {
		if *l == nil {
			*l = []string{}
		}
		slices.Sort(*l)
	}
}

// Diff compares what a restored swarm holds (got) with o (the manifest):
// one line per kind whose names or counts differ; none when they match.
func (o Objects) Diff(got Objects) []string {
	var out []string
	for _, k := range []struct {
		kind      string
		want, got []string
	}{{"services", o.Services, got.Services}, {"networks", o.Networks, got.Networks}, {"configs", o.Configs, got.Configs}, {"secrets", o.Secrets, got.Secrets}} {
		w, g := slices.Sorted(slices.Values(k.want)), slices.Sorted(slices.Values(k.got))
		if slices.Equal(w, g) {
			continue
		}
		var missing, extra []string
		for _, n := range w {
			if !slices.Contains(g, n) {
				missing = append(missing, n)
			}
		}
		for _, n := range g {
			if !slices.Contains(w, n) {
				extra = append(extra, n)
			}
		}
		line := fmt.Sprintf("%s: %d in the backup, %d restored", k.kind, len(w), len(g))
		if len(missing) > 0 {
			line += "; missing " + strings.Join(missing, ", ")
		}
		if len(extra) > 0 {
			line += "; not in the backup " + strings.Join(extra, ", ")
		}
		out = append(out, line)
	}
	return out
}

// File is one member of the archive.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Contents is an archive read in memory (backups are small: the raft state
// compresses to little, the rest is text).
type Contents struct {
	Manifest Manifest
	Files    map[string][]byte
}

// WriteArchive writes files, then the manifest with each file's size and
// SHA-256, as one tar.
func WriteArchive(w io.Writer, m Manifest, files map[string][]byte) error {
	tw := tar.NewWriter(w)
	m.Format = Format
	m.Files = nil
	for _, name := range slices.Sorted(mapsKeys(files)) {
		b := files[name]
		sum := sha256.Sum256(b)
		m.Files = append(m.Files, File{Name: name, Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])})
		if err := writeMember(tw, name, b, m.Taken); err != nil {
			return err
		}
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode the manifest: %w", err)
	}
	if err := writeMember(tw, ManifestFile, mb, m.Taken); err != nil {
		return err
	}
	return tw.Close()
}

func writeMember(tw *tar.Writer, name string, b []byte, t time.Time) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(b)), ModTime: t, Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	if _, err := tw.Write(b); err != nil {
		return fmt.Errorf("archive %s: %w", name, err)
	}
	return nil
}

// ReadArchive reads an archive and checks it whole: every member read to
// its end, the manifest present and of a known format, and every file the
// manifest lists present with its size and SHA-256. Each failure names
// what is wrong.
func ReadArchive(r io.Reader) (*Contents, error) {
	tr := tar.NewReader(r)
	c := &Contents{Files: map[string][]byte{}}
	var manifest []byte
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("the archive is cut short or damaged after %d members: %w", len(c.Files), err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("archive member %s is cut short (%d of %d bytes): %w", h.Name, len(b), h.Size, err)
		}
		if h.Name == ManifestFile {
			manifest = b
			continue
		}
		c.Files[h.Name] = b
	}
	if manifest == nil {
		return nil, fmt.Errorf("the archive has no %s (it is written last: the archive is cut short, or not a shoal backup); members found: %s",
			ManifestFile, strings.Join(slices.Sorted(mapsKeys(c.Files)), ", "))
	}
	if err := json.Unmarshal(manifest, &c.Manifest); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", ManifestFile, err)
	}
	m := c.Manifest
	if m.Format != Format {
		return nil, fmt.Errorf("%s: format %d, this shoal reads format %d", ManifestFile, m.Format, Format)
	}
	if m.Cluster == "" || m.SwarmID == "" || m.Node == "" {
		return nil, fmt.Errorf("%s names no cluster, swarm ID or node", ManifestFile)
	}
	for _, f := range m.Files {
		b, ok := c.Files[f.Name]
		if !ok {
			return nil, fmt.Errorf("archive member %s, listed in the manifest, is missing", f.Name)
		}
		if int64(len(b)) != f.Size {
			return nil, fmt.Errorf("archive member %s has %d bytes, the manifest says %d", f.Name, len(b), f.Size)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != f.SHA256 {
			return nil, fmt.Errorf("archive member %s does not match its SHA-256 in the manifest: it was altered", f.Name)
		}
	}
	if _, ok := c.Files[SwarmFile]; !ok {
		return nil, fmt.Errorf("the archive holds no %s (the raft state)", SwarmFile)
	}
	for name := range c.Files {
		if !slices.ContainsFunc(m.Files, func(f File) bool { return f.Name == name }) {
			return nil, fmt.Errorf("archive member %s is not listed in the manifest", name)
		}
	}
	return c, nil
}

// CheckSwarmTar checks that the raft state is a whole gzip'd tar that
// holds swarm/raft, and returns its member count.
func CheckSwarmTar(b []byte) (int, error) {
	zr, err := gzipReader(bytes.NewReader(b))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", SwarmFile, err)
	}
	tr := tar.NewReader(zr)
	n, raft := 0, false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("%s is damaged after %d entries: %w", SwarmFile, n, err)
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return n, fmt.Errorf("%s: entry %s is damaged: %w", SwarmFile, h.Name, err)
		}
		n++
		if strings.HasPrefix(strings.TrimPrefix(h.Name, "./"), "swarm/raft/") {
			raft = true
		}
	}
	if !raft {
		return n, fmt.Errorf("%s holds no swarm/raft directory: not a manager's swarm state", SwarmFile)
	}
	return n, nil
}
