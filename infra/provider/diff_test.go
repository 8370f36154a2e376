package provider

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	"golang.org/x/crypto/ssh"
)

func renderDiff(d p.DiffResponse) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(d.DetailedDiff)) {
		out = append(out, fmt.Sprintf("%s:%s", k, d.DetailedDiff[k].Kind))
	}
	return strings.Join(out, " ")
}

func TestDiffServer(t *testing.T) {
	base := ServerArgs{Lab: "dev", Node: "m1", Hoster: "hoster-a", Role: "manager", SSHPublicKey: "ssh-ed25519 AAA"}
	for _, tc := range []struct {
		name   string
		change func(*ServerArgs)
		want   string
	}{
		{"the same inputs change nothing", func(*ServerArgs) {}, ""},
		{"defaults spelled out change nothing", func(a *ServerArgs) { a.Variant = "docker"; a.Region = "hoster-a-1" }, ""},
		{"a new role updates in place", func(a *ServerArgs) { a.Role = "worker" }, "role:update"},
		{"a new region updates in place", func(a *ServerArgs) { a.Region = "fsn1" }, "region:update"},
		{"another key replaces the container", func(a *ServerArgs) { a.SSHPublicKey = "ssh-ed25519 BBB" }, "sshPublicKey:update&replace"},
		{"another hoster and variant replace it", func(a *ServerArgs) { a.Hoster = "hoster-b"; a.Variant = "fresh" },
			"hoster:update&replace region:update variant:update&replace"},
		{"another lab, node or image replaces it", func(a *ServerArgs) { a.Lab = "x"; a.Node = "m2"; a.Image = "img" },
			"image:update&replace lab:update&replace node:update&replace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := base
			tc.change(&n)
			d := diffServer(base, n)
			if got := renderDiff(d); got != tc.want {
				t.Errorf("diff %q, want %q", got, tc.want)
			}
			if d.HasChanges != (tc.want != "") {
				t.Errorf("HasChanges %v", d.HasChanges)
			}
			if !d.DeleteBeforeReplace {
				t.Error("a replacement must delete first: the container name is the same")
			}
		})
	}
}

func testCluster() ClusterArgs {
	return ClusterArgs{
		Name:          "dev",
		SSHPrivateKey: "key",
		Nodes: []ClusterNode{
			{Name: "m1", Address: "10.0.0.1", Role: "manager", Hoster: "a"},
			{Name: "m2", Address: "10.0.0.2", Role: "manager", Hoster: "b"},
			{Name: "m3", Address: "10.0.0.3", Role: "manager", Hoster: "c"},
			{Name: "w1", Address: "10.0.0.4", Role: "worker", Hoster: "a"},
		},
	}
}

func TestDiffCluster(t *testing.T) {
	for _, tc := range []struct {
		name    string
		change  func(*ClusterArgs)
		want    string
		changes string
	}{
		{"the same inputs change nothing", func(*ClusterArgs) {}, "", ""},
		{"default user and port spelled out change nothing", func(a *ClusterArgs) { a.Nodes[0].User = "root"; a.Nodes[0].Port = 22 }, "", ""},
		{"a new name replaces the cluster", func(a *ClusterArgs) { a.Name = "prod" }, "name:update&replace", ""},
		{"an added worker is an update naming it", func(a *ClusterArgs) {
			a.Nodes = append(a.Nodes, ClusterNode{Name: "w2", Address: "10.0.0.5", Role: "worker", Hoster: "b"})
		}, "nodes[4]:add", "adding [w2]"},
		{"a removed worker is an update naming it", func(a *ClusterArgs) { a.Nodes = a.Nodes[:3] }, "nodes[3]:delete", "removing [w1]"},
		{"a worker swapped for another at the same place is an update there", func(a *ClusterArgs) {
			a.Nodes[3] = ClusterNode{Name: "w9", Address: "10.0.0.9", Role: "worker", Hoster: "a"}
		}, "nodes[3]:update", "adding [w9]; removing [w1]"},
		{"a changed label updates the node", func(a *ClusterArgs) { a.Nodes[3].Labels = map[string]string{"tier": "web"} }, "nodes[3]:update", "changing [w1]"},
		{"options and the key update in place", func(a *ClusterArgs) {
			a.Options = &ClusterOptions{Autolock: true}
			a.SSHPrivateKey = "other"
		}, "options:update sshPrivateKey:update", ""},
		{"a reordered list is an update of the list", func(a *ClusterArgs) { a.Nodes[0], a.Nodes[1] = a.Nodes[1], a.Nodes[0] }, "nodes:update", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := testCluster()
			n := testCluster()
			tc.change(&n)
			if got := renderDiff(diffCluster(old, n)); got != tc.want {
				t.Errorf("diff %q, want %q", got, tc.want)
			}
			if got := diffNodes(old.Nodes, n.Nodes).String(); got != tc.changes {
				t.Errorf("changes %q, want %q", got, tc.changes)
			}
		})
	}
}

func TestCheckInventory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*ClusterArgs)
		want   string // "property: reason" fragments; "" for none
	}{
		{"a good cluster passes", func(*ClusterArgs) {}, ""},
		{"an unknown address (preview) is not checked yet", func(a *ClusterArgs) { a.Nodes[0].Address = ""; a.Nodes = a.Nodes[:2] }, ""},
		{"an even number of managers is refused", func(a *ClusterArgs) { a.Nodes = append(a.Nodes[:2], a.Nodes[3]) }, "nodes"},
		{"a bad role is refused on the node", func(a *ClusterArgs) { a.Nodes[3].Role = "boss" }, "nodes[3].role"},
		{"one hoster holding a majority is refused", func(a *ClusterArgs) { a.Nodes[1].Hoster = "a" }, "hoster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testCluster()
			tc.change(&a)
			failures, _ := checkInventory(a)
			var got []string
			for _, f := range failures {
				got = append(got, f.Property+": "+f.Reason)
			}
			if tc.want == "" && len(got) > 0 {
				t.Errorf("failures %q", got)
			}
			if tc.want != "" && !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Errorf("failures %q lack %q", got, tc.want)
			}
		})
	}
}

func hostKey(t *testing.T) string {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return authorizedKey(s.PublicKey())
}

func TestPinnedKeys(t *testing.T) {
	k1, k2, k3 := hostKey(t), hostKey(t), hostKey(t)
	prev := []ClusterNode{
		{Name: "m1", Address: "10.0.0.1"},
		{Name: "m2", Address: "10.0.0.2"},
		{Name: "m3", Address: "10.0.0.3"},
	}
	prevKeys := map[string]string{"m1": k1, "m2": k2, "m3": k3}
	nodes := []ClusterNode{
		{Name: "m1", Address: "10.0.0.1"},              // same place: the recorded key
		{Name: "m2", Address: "10.0.0.2", HostKey: k3}, // an input key wins
		{Name: "m3", Address: "10.0.0.33"},             // moved: trusted on first use
		{Name: "w1", Address: "10.0.0.4"},              // new: trusted on first use
	}
	got := pinnedKeys(nodes, prev, prevKeys)
	want := map[string]string{"m1": k1, "m2": k3}
	if !maps.Equal(got, want) {
		t.Errorf("pins %v, want %v", got, want)
	}

	t.Run("the known_hosts file gives the pinned keys back by node", func(t *testing.T) {
		nodes := append(nodes, ClusterNode{Name: "w2", Address: "10.0.0.5", Port: 2222, HostKey: k2})
		kh, err := writeKnownHosts(nodes, pinnedKeys(nodes, prev, prevKeys))
		if err != nil {
			t.Fatal(err)
		}
		defer kh.Remove()
		keys, err := kh.Keys(nodes)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"m1": k1, "m2": k3, "w2": k2}; !maps.Equal(keys, want) {
			t.Errorf("keys %v, want %v", keys, want)
		}
	})
	t.Run("a malformed host key input is an error naming the node", func(t *testing.T) {
		_, err := writeKnownHosts([]ClusterNode{{Name: "m1", Address: "10.0.0.1"}}, map[string]string{"m1": "nonsense"})
		if err == nil || !strings.Contains(err.Error(), "node m1") {
			t.Errorf("got %v", err)
		}
	})
}
