package provider

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	p "github.com/pulumi/pulumi-go-provider"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

// inventoryFrom turns a Cluster's inputs into the inventory bootstrap
// works on. knownHosts is the file host keys are pinned in. It does not
// validate; call Validate on the result.
func inventoryFrom(a ClusterArgs, knownHosts string) *inventory.Inventory {
	inv := &inventory.Inventory{
		Cluster: inventory.Cluster{Name: a.Name},
		SSH:     inventory.SSH{User: inventory.DefaultUser, Port: inventory.DefaultSSHPort, KnownHosts: knownHosts},
		Nodes:   nodesFrom(a.Nodes),
	}
	if o := a.Options; o != nil {
		inv.Cluster.AdvertiseInterface = o.AdvertiseInterface
		inv.Cluster.DataPathPort = uint32(o.DataPathPort)
		inv.Cluster.OverlayMTU = o.OverlayMtu
		inv.Cluster.Autolock = o.Autolock
		inv.Cluster.AllowSingleHosterQuorum = o.AllowSingleHosterQuorum
	}
	inv.SetDefaults()
	return inv
}

func nodesFrom(nodes []ClusterNode) []inventory.Node {
	out := make([]inventory.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, inventory.Node{
			Name:    n.Name,
			Address: n.Address,
			User:    userOf(n),
			Port:    portOf(n),
			Role:    n.Role,
			Hoster:  n.Hoster,
			Region:  n.Region,
			Labels:  n.Labels,
		})
	}
	return out
}

func userOf(n ClusterNode) string { return cmp.Or(n.User, inventory.DefaultUser) }
func portOf(n ClusterNode) int    { return cmp.Or(n.Port, inventory.DefaultSSHPort) }

// checkInventory validates the inventory the inputs describe and returns
// one check failure per problem, named by its input path. Inputs that are
// not known yet (preview) are not checked.
func checkInventory(a ClusterArgs) (failures []p.CheckFailure, warnings []string) {
	if !complete(a) {
		return nil, nil
	}
	warnings, err := inventoryFrom(a, "known_hosts").Validate()
	for _, fe := range inventory.FieldErrors(err) {
		f := p.CheckFailure{Property: inputPath(fe.Field), Reason: fe.Msg}
		if fe.Node != "" {
			f.Reason = fmt.Sprintf("node %s: %s", fe.Node, fe.Msg)
		}
		failures = append(failures, f)
	}
	if err != nil && len(failures) == 0 {
		failures = append(failures, p.CheckFailure{Property: "nodes", Reason: err.Error()})
	}
	return failures, warnings
}

// complete tells whether every value validation needs is known: an unknown
// input (an address from a server not created yet) decodes as "".
func complete(a ClusterArgs) bool {
	if a.Name == "" || len(a.Nodes) == 0 {
		return false
	}
	for _, n := range a.Nodes {
		if n.Name == "" || n.Address == "" || n.Role == "" || n.Hoster == "" {
			return false
		}
	}
	return true
}

// inputPath maps an inventory field path ("nodes[1].role",
// "cluster.data_path_port") to the Cluster input it came from.
func inputPath(field string) string {
	switch field {
	case "cluster.name":
		return "name"
	case "cluster.data_path_port":
		return "options.dataPathPort"
	case "cluster.advertise_interface":
		return "options.advertiseInterface"
	case "cluster.overlay_mtu":
		return "options.overlayMtu"
	case "cluster.allow_single_hoster_quorum":
		return "options.allowSingleHosterQuorum"
	case "":
		return "nodes"
	}
	return field
}

// nodeChanges names the nodes a new list adds, removes and changes,
// each in list order.
type nodeChanges struct {
	Added, Removed, Changed []string
}

func (c nodeChanges) empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Changed) == 0
}

func (c nodeChanges) String() string {
	s := ""
	add := func(what string, names []string) {
		if len(names) == 0 {
			return
		}
		if s != "" {
			s += "; "
		}
		s += what + " " + fmt.Sprint(names)
	}
	add("adding", c.Added)
	add("removing", c.Removed)
	add("changing", c.Changed)
	return s
}

// diffNodes compares two node lists by name, with defaults applied.
func diffNodes(old, new []ClusterNode) nodeChanges {
	var c nodeChanges
	byName := map[string]ClusterNode{}
	for _, n := range old {
		byName[n.Name] = n
	}
	inNew := map[string]bool{}
	for _, n := range new {
		inNew[n.Name] = true
		o, ok := byName[n.Name]
		switch {
		case !ok:
			c.Added = append(c.Added, n.Name)
		case !sameNode(o, n):
			c.Changed = append(c.Changed, n.Name)
		}
	}
	for _, n := range old {
		if !inNew[n.Name] {
			c.Removed = append(c.Removed, n.Name)
		}
	}
	return c
}

func sameNode(a, b ClusterNode) bool {
	return a.Address == b.Address && a.Role == b.Role && a.Hoster == b.Hoster && a.Region == b.Region &&
		userOf(a) == userOf(b) && portOf(a) == portOf(b) && a.HostKey == b.HostKey &&
		maps.Equal(a.Labels, b.Labels)
}

// diffCluster compares a Cluster's inputs with its state, without I/O. Only
// the name forces a replacement; the detailed diff marks each added node
// (at its new index), removed node (at its old index) and changed node.
func diffCluster(old, new ClusterArgs) p.DiffResponse {
	d := map[string]p.PropertyDiff{}
	if old.Name != new.Name {
		d["name"] = p.PropertyDiff{Kind: p.UpdateReplace, InputDiff: true}
	}
	if old.SSHPrivateKey != new.SSHPrivateKey {
		d["sshPrivateKey"] = p.PropertyDiff{Kind: p.Update, InputDiff: true}
	}
	if !sameOptions(old.Options, new.Options) {
		d["options"] = p.PropertyDiff{Kind: p.Update, InputDiff: true}
	}
	c := diffNodes(old.Nodes, new.Nodes)
	index := func(list []ClusterNode, name string) int {
		return slices.IndexFunc(list, func(n ClusterNode) bool { return n.Name == name })
	}
	for _, name := range c.Removed {
		d[fmt.Sprintf("nodes[%d]", index(old.Nodes, name))] = p.PropertyDiff{Kind: p.Delete, InputDiff: true}
	}
	for _, name := range c.Changed {
		d[fmt.Sprintf("nodes[%d]", index(new.Nodes, name))] = p.PropertyDiff{Kind: p.Update, InputDiff: true}
	}
	for _, name := range c.Added {
		key := fmt.Sprintf("nodes[%d]", index(new.Nodes, name))
		kind := p.Add
		if _, taken := d[key]; taken {
			kind = p.Update // a node removed at the same position
		}
		d[key] = p.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if c.empty() && !sameOrder(old.Nodes, new.Nodes) {
		d["nodes"] = p.PropertyDiff{Kind: p.Update, InputDiff: true}
	}
	return p.DiffResponse{HasChanges: len(d) > 0, DetailedDiff: d}
}

func sameOrder(a, b []ClusterNode) bool {
	return slices.EqualFunc(a, b, func(x, y ClusterNode) bool { return x.Name == y.Name })
}

func sameOptions(a, b *ClusterOptions) bool {
	var za, zb ClusterOptions
	if a != nil {
		za = *a
	}
	if b != nil {
		zb = *b
	}
	return za == zb
}
