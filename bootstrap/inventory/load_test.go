package inventory

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestLoadReadsEveryField(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)

	inv, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Inventory{
		Path: "testdata/full.yaml",
		Cluster: Cluster{
			Name:               "prod",
			AdvertiseInterface: "eth1",
			DataPathPort:       4790,
			OverlayMTU:         1450,
			Autolock:           true,
		},
		SSH: SSH{
			User:         "deploy",
			Port:         2222,
			IdentityFile: filepath.Join("testdata", "keys", "id_ed25519"),
			KnownHosts:   filepath.Join(home, ".config", "shoal", "known_hosts"),
		},
		Nodes: []Node{
			{Name: "m1", Address: "203.0.113.11", AdvertiseAddress: "10.0.0.11", Role: RoleManager, Hoster: "hcloud", Region: "fsn1", Line: 15},
			{Name: "m2", Address: "m2.example.com", User: "admin", Port: 22, Role: RoleManager, Hoster: "vultr", Region: "ams", Line: 21},
			{Name: "m3", Address: "2001:db8::13", Role: RoleManager, Hoster: "scaleway", Region: "fr-par-1", Labels: map[string]string{"disk": "ssd"}, Line: 28},
			{Name: "w1", Address: "203.0.113.21", Role: RoleWorker, Hoster: "hcloud", Region: "nbg1", Labels: map[string]string{"tier": "edge", "gpu": "true"}, Line: 35},
		},
	}
	got := *inv
	got.lines = nil
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", got, *want)
	}
	if warnings, err := inv.Validate(); err != nil || len(warnings) != 0 {
		t.Errorf("Validate = %q, %v; want no warnings and no error", warnings, err)
	}
}

func TestLoadOfAMissingFileKeepsTheCause(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load = %v, want an error wrapping fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestParseFillsInDefaults(t *testing.T) {
	data, err := os.ReadFile("testdata/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Parse("minimal.yaml", data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if got, want := inv.Cluster, (Cluster{Name: "shoal", DataPathPort: 4789}); got != want {
		t.Errorf("cluster = %+v, want %+v", got, want)
	}
	if got, want := inv.SSH, (SSH{User: "root", Port: 22}); got != want {
		t.Errorf("ssh = %+v, want %+v", got, want)
	}
	if inv.Path != "minimal.yaml" {
		t.Errorf("path = %q, want minimal.yaml", inv.Path)
	}
	if inv.Nodes[0].Line != 2 {
		t.Errorf("node line = %d, want 2", inv.Nodes[0].Line)
	}
}

func TestParseResolvesSSHPaths(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct {
		name      string
		path      string
		value     string
		want      string
		wantError string
	}{
		{"an empty path stays empty (use ssh-agent)", "inv/prod.yaml", "", "", ""},
		{"a path under ~/ is expanded to $HOME", "inv/prod.yaml", "~/.ssh/id_ed25519", filepath.Join(home, ".ssh", "id_ed25519"), ""},
		{"a quoted lone ~ is $HOME (unquoted it is yaml null)", "inv/prod.yaml", "~", home, ""},
		{"an absolute path is kept", "inv/prod.yaml", "/etc/shoal/id", "/etc/shoal/id", ""},
		{"a relative path is relative to the inventory's directory", "inv/prod.yaml", "keys/id", filepath.Join("inv", "keys", "id"), ""},
		{"a relative path can leave the inventory's directory", "inv/prod.yaml", "../keys/id", "keys/id", ""},
		{"a relative path next to an inventory in the working directory", "prod.yaml", "id", "id", ""},
		{"another user's home is not expanded", "inv/prod.yaml", "~bob/.ssh/id", "", `cannot expand "~bob/.ssh/id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, field := range []string{"identity_file", "known_hosts"} {
				doc := "ssh:\n  " + field + ": " + quote(tt.value) + "\nnodes:\n  - {name: m1, address: 10.0.0.1, role: manager, hoster: a}\n"
				inv, err := Parse(tt.path, []byte(doc))
				if tt.wantError != "" {
					want := tt.path + `:2: field "ssh.` + field + `": ` + tt.wantError
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Errorf("%s: Parse error = %v, want it to contain %q", field, err, want)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: Parse: %v", field, err)
				}
				got := inv.SSH.IdentityFile
				if field == "known_hosts" {
					got = inv.SSH.KnownHosts
				}
				if got != tt.want {
					t.Errorf("%s = %q, want %q", field, got, tt.want)
				}
			}
		})
	}
}

func TestParseCannotExpandTildeWithoutHome(t *testing.T) {
	t.Setenv("HOME", "")
	doc := "ssh:\n  identity_file: ~/.ssh/id\nnodes:\n  - {name: m1, address: 10.0.0.1, role: manager, hoster: a}\n"
	_, err := Parse("prod.yaml", []byte(doc))
	want := `prod.yaml:2: field "ssh.identity_file": cannot expand "~/.ssh/id"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse error = %v, want it to contain %q", err, want)
	}
}

func TestParseReportsEveryTypeError(t *testing.T) {
	doc := `cluster:
  name: prod
  colour: blue
ssh:
  port: twenty-two
nodes:
  - {name: m1, address: 10.0.0.1, role: manager, hoster: a, size: big}
`
	_, err := Parse("prod.yaml", []byte(doc))
	got := FieldErrors(err)
	want := []*FieldError{
		{File: "prod.yaml", Line: 3, Field: "cluster.colour", Msg: "unknown field; known fields: name, advertise_interface, data_path_port, overlay_mtu, autolock, allow_single_hoster_quorum"},
		{File: "prod.yaml", Line: 5, Field: "ssh.port", Msg: `want a whole number, got "twenty-two"`},
		{File: "prod.yaml", Line: 7, Node: "m1", Field: "nodes[0].size", Msg: "unknown field; known fields: name, address, advertise_address, user, port, role, hoster, region, labels"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FieldErrors(Parse) =\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func TestParseKeepsEmptyLabelsNil(t *testing.T) {
	doc := "nodes:\n  - {name: m1, address: 10.0.0.1, role: manager, hoster: a, labels: {}}\n"
	inv, err := Parse("prod.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if inv.Nodes[0].Labels != nil {
		t.Errorf("labels = %#v, want nil", inv.Nodes[0].Labels)
	}
}

func TestSplitLine(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantLine int
		wantMsg  string
	}{
		{"a line prefix is split off", "line 12: did not find expected key", 12, "did not find expected key"},
		{"a message without line is kept whole", "did not find expected node content", 0, "did not find expected node content"},
		{"a line prefix without a number is kept whole", "line x: oops", 0, "line x: oops"},
		{"a line prefix without a colon is kept whole", "line 3 oops", 0, "line 3 oops"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, msg := splitLine(tt.in)
			if line != tt.wantLine || msg != tt.wantMsg {
				t.Errorf("splitLine(%q) = %d, %q; want %d, %q", tt.in, line, msg, tt.wantLine, tt.wantMsg)
			}
		})
	}
}

func quote(s string) string { return strconv.Quote(s) }

func dump(errs []*FieldError) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

func TestParseReadsTheBackupSectionStrictly(t *testing.T) {
	base := "cluster:\n  name: prod\nnodes:\n  - {name: m1, address: 10.0.0.1, role: manager, hoster: a}\n"
	inv, err := Parse("inv.yaml", []byte(base+"backup:\n  recipient: age1abc\n  to: s3://bk/prod\n"))
	if err != nil {
		t.Fatal(err)
	}
	if inv.Backup.Recipient != "age1abc" || inv.Backup.To != "s3://bk/prod" {
		t.Errorf("backup = %+v", inv.Backup)
	}
	inv, err = Parse("inv.yaml", []byte(base+"backup:\n  recipient: age1abc\n  schedule: daily 03:00\n  keep: 7\n  keep_daily: 14\n"))
	if err != nil || inv.Backup.Schedule != "daily 03:00" || inv.Backup.Keep != 7 || inv.Backup.KeepDaily != 14 {
		t.Errorf("backup with a schedule = %+v, %v", inv.Backup, err)
	}
	if _, err := Parse("inv.yaml", []byte(base+"backup:\n  keepDaily: 3\n")); err == nil || !strings.Contains(err.Error(), "keepDaily") {
		t.Errorf("an unknown retention key: err = %v, want it named", err)
	}
	if _, err := Parse("inv.yaml", []byte(base+"backup:\n  recipients: age1abc\n")); err == nil || !strings.Contains(err.Error(), "recipients") {
		t.Errorf("an unknown backup key: err = %v, want it named", err)
	}
}
