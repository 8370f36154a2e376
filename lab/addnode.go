package lab

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// NodeSpec describes one node for AddNode.
type NodeSpec struct {
	Name    string // node name: m1, w4; lower-case letters, digits and dashes
	Role    Role   // manager or worker; recorded on the container only
	Hoster  string // the simulated hoster, e.g. hoster-a
	Region  string // default Hoster + "-1"
	Variant Variant
	// Image overrides the node image; default EnsureImage(Variant).
	Image string
	// AuthorizedKey is the authorized_keys line for root; "" uses the
	// lab's own key pair in l.Dir (made if missing).
	AuthorizedKey string
}

// withDefaults fills in defaults and validates; it touches nothing.
func (s NodeSpec) withDefaults(l *Lab) (NodeSpec, error) {
	if !nameRE.MatchString(s.Name) {
		return s, fmt.Errorf("lab %s: node name %q: use 1-40 lower-case letters, digits and dashes", l.Name, s.Name)
	}
	if s.Role != RoleManager && s.Role != RoleWorker {
		return s, fmt.Errorf("lab %s: node %s: role %q: want %q or %q", l.Name, s.Name, s.Role, RoleManager, RoleWorker)
	}
	if !nameRE.MatchString(s.Hoster) {
		return s, fmt.Errorf("lab %s: node %s: hoster name %q: use lower-case letters, digits and dashes", l.Name, s.Name, s.Hoster)
	}
	s.Region = cmp.Or(s.Region, s.Hoster+"-1")
	s.Variant = cmp.Or(s.Variant, l.Variant, VariantDocker)
	if !s.Variant.valid() {
		return s, fmt.Errorf("lab %s: node %s: unknown variant %q (want %s)", l.Name, s.Name, s.Variant, variantsText)
	}
	if s.AuthorizedKey == "" && l.Dir == "" {
		return s, fmt.Errorf("lab %s: node %s: no authorized key given and the lab has no state directory for its own key", l.Name, s.Name)
	}
	return s, nil
}

// Ref is a handle on lab name for node-level calls (AddNode, RemoveNode,
// KillNode, StartNode) without Up: its nodes are not read (Find does that).
// dir is the lab's state directory; "" means DefaultDir(name).
func Ref(name, dir string) *Lab {
	if dir == "" {
		dir = DefaultDir(name)
	}
	l := &Lab{Name: name, Dir: dir, Network: NetworkName(name), Wait: Wait{}.withDefaults()}
	if dir != "" {
		l.KeyPath = filepath.Join(dir, keyFile)
	}
	return l
}

// AddNode adds one VPS container to lab l: it creates the lab's network
// (labelled) if it is missing, ensures the node image, creates and starts the
// container with the authorized key for root, and waits until sshd (and, for
// VariantDocker, dockerd) answers. The node, with its address and host key,
// is returned and recorded in l.Nodes (replacing an entry of the same name).
//
// A leftover container of the same name that belongs to the lab (for example
// one left Exited by a dockerd restart) is replaced; one that does not carry
// the lab's label is someone else's and AddNode refuses. AddNode may run in
// parallel with other AddNode and RemoveNode calls on the same lab (also from
// other processes): they take turns through a file lock while the network and
// containers change, but not on one *Lab value, whose Nodes it appends to.
func AddNode(ctx context.Context, docker Docker, l *Lab, n NodeSpec, progress io.Writer) (Node, error) {
	spec, err := n.withDefaults(l)
	if err != nil {
		return Node{}, err
	}
	rep := newReporter(progress)
	node := Node{
		Name:      spec.Name,
		Role:      spec.Role,
		Hoster:    spec.Hoster,
		Region:    spec.Region,
		Container: ContainerName(l.Name, spec.Name),
	}
	image := spec.Image
	if image == "" {
		if image, err = runningImage(ctx, docker, l.Name, spec.Variant); err != nil {
			return node, fmt.Errorf("lab %s: node %s: %w", l.Name, node.Name, err)
		}
	}
	if image == "" {
		if image, err = EnsureImage(ctx, docker, spec.Variant, progress); err != nil {
			return node, fmt.Errorf("lab %s: node %s: %w", l.Name, node.Name, err)
		}
	}
	key := spec.AuthorizedKey
	if key == "" {
		if key, _, err = ensureKeyPair(l.Dir, "shoal-lab-"+l.Name); err != nil {
			return node, fmt.Errorf("lab %s: %w", l.Name, err)
		}
	}
	cfg := nodeConfig{lab: l.Name, dir: l.Dir, variant: spec.Variant, image: image, authorizedKey: key, wait: l.Wait, engine: EngineSocket()}

	err = withLabLock(ctx, rep, l, func() error {
		if err := ensureNetwork(ctx, docker, rep, l); err != nil {
			return err
		}
		if err := removeLeftover(ctx, docker, rep, l.Name, node); err != nil {
			return err
		}
		return startContainer(ctx, docker, rep, cfg, node)
	})
	if err != nil {
		return node, fmt.Errorf("lab %s: %w", l.Name, err)
	}
	node, err = waitReady(ctx, docker, rep, cfg.wait, cfg.variant, NetworkName(l.Name), node)
	if err != nil {
		return node, fmt.Errorf("lab %s: %w (the container is left for inspection; RemoveNode removes it)", l.Name, err)
	}
	l.Network = NetworkName(l.Name)
	l.Variant = cmp.Or(l.Variant, spec.Variant)
	l.Image = cmp.Or(l.Image, image)
	if i := slices.IndexFunc(l.Nodes, func(x Node) bool { return x.Name == node.Name }); i >= 0 {
		l.Nodes[i] = node
	} else {
		l.Nodes = append(l.Nodes, node)
	}
	sortNodes(l.Nodes)
	return node, nil
}

// RemoveNode force-removes node name's container (with its volumes) from lab
// l and drops it from l.Nodes. A container that is not there is not an error;
// a container of that name without the lab's label is someone else's and is
// left alone (an error). When no container of the lab is left, the lab's
// network goes too.
func RemoveNode(ctx context.Context, docker Docker, l *Lab, name string, progress io.Writer) error {
	rep := newReporter(progress)
	cname := ContainerName(l.Name, name)
	err := withLabLock(ctx, rep, l, func() error {
		ins, err := docker.ContainerInspect(ctx, cname, client.ContainerInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
			rep.printf("lab %s: container %s is already gone", l.Name, cname)
		case err != nil:
			return fmt.Errorf("inspect container %s: %w", cname, err)
		default:
			if got := labelOf(ins.Container.Config, LabelLab); got != l.Name {
				return fmt.Errorf("container %s does not belong to the lab (label %s=%q): not removing it", cname, LabelLab, got)
			}
			if _, err := docker.ContainerRemove(ctx, cname, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
				return fmt.Errorf("remove container %s: %w", cname, err)
			}
			rep.printf("lab %s: removed container %s", l.Name, cname)
		}
		return removeNetworkIfUnused(ctx, docker, rep, l.Name)
	})
	if err != nil {
		return fmt.Errorf("lab %s: remove node %s: %w", l.Name, name, err)
	}
	l.Nodes = slices.DeleteFunc(l.Nodes, func(n Node) bool { return n.Name == name })
	return nil
}

// withLabLock runs f holding the lab's file lock, so that a network is never
// removed while another caller is about to put a container on it.
// The lock file sits beside the lab's state directory (<dir>.lock, under
// $SHOAL_HOME), in the cache directory for a lab without one.
func withLabLock(ctx context.Context, rep *reporter, l *Lab, f func() error) error {
	dir, name := filepath.Dir(l.Dir), filepath.Base(l.Dir)+".lock"
	if l.Dir == "" {
		dir, name = "", "lab-"+l.Name+".lock"
	}
	unlock, err := lockFile(ctx, rep, dir, name, "another change to lab "+l.Name)
	if err != nil {
		return err
	}
	defer unlock()
	return f()
}

// ensureNetwork creates the lab's network unless it exists. A network of
// that name without the lab's label belongs to someone else: an error.
func ensureNetwork(ctx context.Context, docker Docker, rep *reporter, l *Lab) error {
	name := NetworkName(l.Name)
	ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		return fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns.Items {
		if n.Name != name {
			continue // the name filter matches substrings
		}
		if n.Labels[LabelLab] != l.Name {
			return fmt.Errorf("network name %s is taken by network %.12s, which is not part of the lab; remove or rename it", name, n.ID)
		}
		return nil
	}
	if _, err := docker.NetworkCreate(ctx, name, client.NetworkCreateOptions{
		Driver: "bridge",
		Labels: map[string]string{LabelLab: l.Name, LabelDir: l.Dir},
	}); err != nil {
		return fmt.Errorf("create network %s: %w", name, err)
	}
	rep.printf("lab %s: network %s created", l.Name, name)
	return nil
}

// removeLeftover removes a container of node n's name that belongs to the
// lab, whatever its state, and refuses one that does not.
func removeLeftover(ctx context.Context, docker Docker, rep *reporter, lab string, n Node) error {
	ins, err := docker.ContainerInspect(ctx, n.Container, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect container %s: %w", n.Container, err)
	}
	if got := labelOf(ins.Container.Config, LabelLab); got != lab {
		return fmt.Errorf("container name %s is taken by container %.12s, which is not part of the lab (no label %s=%s); remove or rename it", n.Container, ins.Container.ID, LabelLab, lab)
	}
	state := "unknown"
	if s := ins.Container.State; s != nil {
		state = string(s.Status)
	}
	if _, err := docker.ContainerRemove(ctx, n.Container, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
		return fmt.Errorf("remove leftover container %s: %w", n.Container, err)
	}
	rep.printf("%s removed leftover container %s (%s)", n.tag(), n.Container, state)
	return nil
}

// runningImage is the image the lab's other nodes of variant run ("" when
// it has none). A node added to a running lab runs the same image: the
// default image's tag hashes the apt configuration of the machine that
// built it, which a process elsewhere (heal on a lab node, ADR 0026) does
// not share.
func runningImage(ctx context.Context, docker Docker, lab string, variant Variant) (string, error) {
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true,
		Filters: make(client.Filters).Add("label", LabelLab+"="+lab, LabelVariant+"="+string(variant))})
	if err != nil {
		return "", fmt.Errorf("list the lab's containers: %w", err)
	}
	var names []string
	images := map[string]string{}
	for _, c := range cs.Items {
		if c.Labels[LabelService] != "" || len(c.Names) == 0 {
			continue
		}
		names = append(names, c.Names[0])
		images[c.Names[0]] = c.Image
	}
	if len(names) == 0 {
		return "", nil
	}
	slices.Sort(names)
	return images[names[0]], nil
}

// removeNetworkIfUnused removes the lab's networks when no container of the
// lab is left.
func removeNetworkIfUnused(ctx context.Context, docker Docker, rep *reporter, lab string) error {
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", LabelLab+"="+lab)})
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	if len(cs.Items) > 0 {
		return nil
	}
	// No container is left: removeLab only finds the networks.
	_, err = removeLab(ctx, docker, lab, rep, "")
	return err
}

// labelOf is a label of an inspected container; "" when it has none.
func labelOf(c *container.Config, key string) string {
	if c == nil {
		return ""
	}
	return c.Labels[key]
}
