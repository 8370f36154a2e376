package backup

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

func swarmTar(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	tw := tar.NewWriter(zw)
	for _, n := range []string{"swarm/state.json", "swarm/raft/wal-v3-encrypted/0000000000000000-0000000000000000.wal"} {
		_ = tw.WriteHeader(&tar.Header{Name: n, Mode: 0o600, Size: 3, Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte("abc"))
	}
	_ = tw.Close()
	_ = zw.Close()
	return b.Bytes()
}

func sample(t *testing.T) []byte {
	t.Helper()
	m := Manifest{Cluster: "prod", SwarmID: "swarm-id-xyz", Node: "m2", NodeID: "n2", Taken: time.Date(2026, 12, 3, 7, 0, 0, 0, time.UTC),
		Objects: Objects{Services: []string{"web-service-name"}, Secrets: []string{"db-password"}}}
	var b bytes.Buffer
	if err := WriteArchive(&b, m, map[string][]byte{SwarmFile: swarmTar(t), InventoryFile: []byte("cluster:\n  name: prod\n")}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestArchiveRoundTripsAndNamesWhatIsWrong(t *testing.T) {
	good := sample(t)
	c, err := ReadArchive(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Manifest.Node != "m2" || len(c.Manifest.Files) != 2 || string(c.Files[InventoryFile]) != "cluster:\n  name: prod\n" {
		t.Errorf("read back %+v", c.Manifest)
	}
	if n, err := CheckSwarmTar(c.Files[SwarmFile]); err != nil || n != 2 {
		t.Errorf("swarm tar: %d entries, %v", n, err)
	}

	tests := []struct {
		name    string
		archive []byte
		want    string
	}{
		{name: "cut before the manifest", archive: good[:1024], want: "no manifest.json"},
		{name: "cut inside a member", archive: good[:len(good)/2+100], want: "cut short"},
		{name: "a member altered", archive: bytes.Replace(good, []byte("name: prod"), []byte("name: evil"), 1), want: "shoal/inventory.yaml does not match its SHA-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadArchive(bytes.NewReader(tt.archive))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := CheckSwarmTar(c.Files[SwarmFile][:40]); err == nil {
		t.Errorf("a cut swarm tar passed")
	}
}

func TestSealedBackupOpensOnlyWithItsIdentityAndWhole(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	rcp, err := ParseRecipient(id.Recipient().String())
	if err != nil {
		t.Fatal(err)
	}
	plain := sample(t)
	sealed, err := Seal(plain, rcp)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"manifest.json", "swarm-id-xyz", "web-service-name", "db-password", "name: prod"} {
		if bytes.Contains(sealed, []byte(s)) {
			t.Errorf("the sealed backup shows %q in clear", s)
		}
	}
	if got, err := Open(sealed, id); err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("open: %v", err)
	}
	if _, err := Open(sealed, other); err == nil || !strings.Contains(err.Error(), "does not open it") {
		t.Errorf("open with another identity: %v", err)
	}
	if _, err := Open(sealed[:len(sealed)-100], id); err == nil || !strings.Contains(err.Error(), "cut short or altered") {
		t.Errorf("open a cut file: %v", err)
	}
	if _, err := ParseRecipient("ssh-ed25519 AAAA"); err == nil || !strings.Contains(err.Error(), "not an age public key") {
		t.Errorf("bad recipient: %v", err)
	}
	if _, err := ParseRecipient(""); err == nil || !strings.Contains(err.Error(), "backup.recipient") {
		t.Errorf("no recipient: %v", err)
	}
}

func TestObjectsDiffNamesMissingAndExtra(t *testing.T) {
	want := Objects{Services: []string{"a", "b"}, Secrets: []string{"s"}}
	if d := want.Diff(Objects{Services: []string{"b", "a"}, Secrets: []string{"s"}}); len(d) != 0 {
		t.Errorf("same objects differ: %v", d)
	}
	d := want.Diff(Objects{Services: []string{"a", "c"}})
	if len(d) != 2 || d[0] != "services: 2 in the backup, 2 restored; missing b; not in the backup c" || d[1] != "secrets: 1 in the backup, 0 restored; missing s" {
		t.Errorf("diff = %q", d)
	}
}
