package lab

import (
	"archive/tar"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sync/errgroup"
)

// Labels on every container and network of a lab.
const (
	LabelLab     = "shoal.lab"         // lab name; on containers and the network
	LabelNode    = "shoal.lab.node"    // node name: m1, w2
	LabelRole    = "shoal.lab.role"    // manager or worker
	LabelHoster  = "shoal.lab.hoster"  // hoster-a
	LabelDir     = "shoal.lab.dir"     // the lab's state directory
	LabelVariant = "shoal.lab.variant" // docker, fresh or foreign
	LabelRegion  = "shoal.lab.region"  // hoster-a-1; absent on containers of older labs
)

// Role is a node's intended swarm role. The lab only records it; shoal's
// bootstrap makes it so.
type Role string

const (
	RoleManager Role = "manager"
	RoleWorker  Role = "worker"
)

// DefaultHosters are the simulated hosters nodes are spread over.
var DefaultHosters = []string{"hoster-a", "hoster-b", "hoster-c"}

// Options describe a lab for Up.
type Options struct {
	Name              string   // lab name, default "lab"; lower-case letters, digits and dashes
	Managers, Workers int      // node counts; nodes are m1..mN and w1..wN
	Hosters           []string // default DefaultHosters; nodes are spread round-robin
	Variant           Variant  // default VariantDocker
	Image             string   // node image; default: EnsureImage(Variant)
	Dir               string   // state directory (SSH key pair); default DefaultDir(Name)
	Parallel          int      // nodes created at once; default 4
	Wait              Wait     // how long and how often to wait for a node to answer
}

// Wait bounds the waits for a node's sshd and dockerd.
type Wait struct {
	Timeout time.Duration // per node; default 3m
	Poll    time.Duration // between attempts; default 500ms
}

func (w Wait) withDefaults() Wait {
	if w.Timeout <= 0 {
		w.Timeout = 3 * time.Minute
	}
	if w.Poll <= 0 {
		w.Poll = 500 * time.Millisecond
	}
	return w
}

// Lab is a running (or partly running) lab.
type Lab struct {
	Name    string  `json:"name"`
	Dir     string  `json:"dir"`
	Network string  `json:"network"` // Docker network name; it plays the internet between all nodes
	Variant Variant `json:"variant"`
	Image   string  `json:"image"`
	Nodes   []Node  `json:"nodes"`   // managers, then workers, each by number
	KeyPath string  `json:"keyPath"` // private key that logs in as root on every node
	Wait    Wait    `json:"-"`
}

// Node is one VPS container.
type Node struct {
	Name      string `json:"name"`      // m1, w1
	Role      Role   `json:"role"`      // manager or worker
	Hoster    string `json:"hoster"`    // hoster-a
	Region    string `json:"region"`    // hoster name + "-1"
	Address   string `json:"address"`   // IPv4 on the lab network; empty while the container is stopped
	Container string `json:"container"` // container name: shoal-<lab>-<node>
	HostKey   string `json:"hostKey"`   // sshd's ed25519 host key in authorized_keys format; empty while stopped
}

// Node returns the node called name.
func (l *Lab) Node(name string) (Node, bool) {
	i := slices.IndexFunc(l.Nodes, func(n Node) bool { return n.Name == name })
	if i < 0 {
		return Node{}, false
	}
	return l.Nodes[i], true
}

// HostPublicKey parses HostKey, for ssh.FixedHostKey.
func (n Node) HostPublicKey() (ssh.PublicKey, error) {
	if n.HostKey == "" {
		return nil, fmt.Errorf("node %s: host key unknown (is the container running?)", n.Name)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(n.HostKey))
	if err != nil {
		return nil, fmt.Errorf("node %s: parse host key: %w", n.Name, err)
	}
	return k, nil
}

func (n Node) tag() string { return fmt.Sprintf("[%s %s/%s]", n.Name, n.Hoster, n.Region) }

// DefaultDir is the state directory of lab name when none is given:
// $SHOAL_HOME/lab/<name>, else ~/.shoal/lab/<name> ("" when neither is
// known).
func DefaultDir(name string) string {
	if home := os.Getenv("SHOAL_HOME"); home != "" {
		return filepath.Join(home, "lab", name)
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".shoal", "lab", name)
	}
	return ""
}

// HomeID is a short id of the shoal state directory home. Labs share the
// machine's Docker Engine, so the default names of labs and of local
// clusters carry it ("lab-3fa2c1"): two SHOAL_HOMEs never share a lab by
// accident.
func HomeID(home string) string {
	if abs, err := filepath.Abs(home); err == nil {
		home = abs
	}
	sum := sha256.Sum256([]byte(filepath.Clean(home)))
	return hex.EncodeToString(sum[:3])
}

// NetworkName is the Docker network of lab name.
func NetworkName(name string) string { return "shoal-lab-" + name }

// ContainerName is the container of node in lab name.
func ContainerName(name, node string) string { return "shoal-" + name + "-" + node }

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// withDefaults fills in defaults and validates; it touches nothing.
func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		o.Name = "lab"
	}
	if !nameRE.MatchString(o.Name) {
		return o, fmt.Errorf("lab name %q: use 1-40 lower-case letters, digits and dashes", o.Name)
	}
	if o.Managers < 0 || o.Workers < 0 || o.Managers+o.Workers == 0 {
		return o, fmt.Errorf("lab %s: %d managers and %d workers: want at least one node", o.Name, o.Managers, o.Workers)
	}
	if len(o.Hosters) == 0 {
		o.Hosters = slices.Clone(DefaultHosters)
	}
	seen := map[string]bool{}
	for _, h := range o.Hosters {
		if !nameRE.MatchString(h) {
			return o, fmt.Errorf("lab %s: hoster name %q: use lower-case letters, digits and dashes", o.Name, h)
		}
		if seen[h] {
			return o, fmt.Errorf("lab %s: hoster %q listed twice", o.Name, h)
		}
		seen[h] = true
	}
	if o.Variant == "" {
		o.Variant = VariantDocker
	}
	if !o.Variant.valid() {
		return o, fmt.Errorf("lab %s: unknown variant %q (want %s)", o.Name, o.Variant, variantsText)
	}
	if o.Dir == "" {
		if o.Dir = DefaultDir(o.Name); o.Dir == "" {
			return o, fmt.Errorf("lab %s: no state directory given, and neither $SHOAL_HOME nor a home directory", o.Name)
		}
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	o.Wait = o.Wait.withDefaults()
	return o, nil
}

// planNodes lays out the nodes: managers m1..mN, then workers w1..wN, each
// kind spread round-robin over the hosters (m1 on the first, m2 on the second).
func planNodes(o Options) []Node {
	var nodes []Node
	add := func(role Role, prefix string, count int) {
		for i := range count {
			h := o.Hosters[i%len(o.Hosters)]
			name := prefix + strconv.Itoa(i+1)
			nodes = append(nodes, Node{
				Name:      name,
				Role:      role,
				Hoster:    h,
				Region:    h + "-1",
				Container: ContainerName(o.Name, name),
			})
		}
	}
	add(RoleManager, "m", o.Managers)
	add(RoleWorker, "w", o.Workers)
	return nodes
}

// sortNodes orders managers before workers, each by number.
func sortNodes(nodes []Node) {
	num := func(n Node) int {
		v, _ := strconv.Atoi(strings.TrimLeft(n.Name, "abcdefghijklmnopqrstuvwxyz"))
		return v
	}
	slices.SortFunc(nodes, func(a, b Node) int {
		return cmp.Or(
			cmp.Compare(roleOrder(a.Role), roleOrder(b.Role)),
			cmp.Compare(num(a), num(b)),
			cmp.Compare(a.Name, b.Name),
		)
	})
}

func roleOrder(r Role) int {
	if r == RoleManager {
		return 0
	}
	return 1
}

// nodeConfig is what a node container is made from, beyond the node itself.
type nodeConfig struct {
	lab, dir      string
	variant       Variant
	image         string
	authorizedKey string // authorized_keys line for root
	wait          Wait
	// engine is the outer Docker Engine's socket on the machine that runs
	// it, mounted into the node at EngineSocketInNode ("" mounts nothing).
	engine string
}

// EngineSocketInNode is where a lab VPS finds the lab's outer Docker
// Engine: the local hoster's API, as a hoster's API token is a real one's.
// Heal running on a lab cluster (a swarm service) mounts it to create a
// replacement VPS container. Lab only: it gives every lab node the host's
// engine (ADR 0026).
const EngineSocketInNode = "/shoal-lab/docker.sock"

// EnvEngineSocket names the outer engine's socket on its own machine for
// a process that reaches the engine through another path (heal on a lab
// node reaches it at EngineSocketInNode).
const EnvEngineSocket = "SHOAL_LAB_ENGINE_SOCKET"

// EngineSocket is the outer engine's socket on the machine that runs it:
// $SHOAL_LAB_ENGINE_SOCKET, else the path of a unix:// $DOCKER_HOST, else
// /var/run/docker.sock; "" for an engine reached over TCP (nothing to
// mount).
func EngineSocket() string {
	if p := os.Getenv(EnvEngineSocket); p != "" {
		return p
	}
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		return "/var/run/docker.sock"
	}
	if p, ok := strings.CutPrefix(host, "unix://"); ok {
		return p
	}
	return ""
}

// containerSpec is the create request for node: the flags from the lab notes
// that run Docker-in-Docker here without --privileged (which fails in this
// sandbox for lack of CAP_SYS_RESOURCE).
func containerSpec(c nodeConfig, n Node) client.ContainerCreateOptions {
	return client.ContainerCreateOptions{
		Name: n.Container,
		Config: &container.Config{
			Image:    c.image,
			Hostname: n.Name,
			Labels: map[string]string{
				LabelLab:     c.lab,
				LabelNode:    n.Name,
				LabelRole:    string(n.Role),
				LabelHoster:  n.Hoster,
				LabelRegion:  n.Region,
				LabelDir:     c.dir,
				LabelVariant: string(c.variant),
			},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode(NetworkName(c.lab)),
			CapAdd:      []string{"ALL"},
			CapDrop:     []string{"SYS_RESOURCE"},
			SecurityOpt: []string{"seccomp=unconfined", "apparmor=unconfined"},
			// --security-opt systempaths=unconfined: the docker CLI sends empty
			// (not null) lists, which turn off the default masked and read-only paths.
			MaskedPaths:   []string{},
			ReadonlyPaths: []string{},
			Tmpfs:         map[string]string{"/run": "", "/var/run": ""},
			Binds:         []string{"/sys/fs/cgroup:/sys/fs/cgroup:rw"},
			Mounts:        engineMount(c.engine),
		},
		NetworkingConfig: &network.NetworkingConfig{
			EndpointsConfig: map[string]*network.EndpointSettings{NetworkName(c.lab): {}},
		},
	}
}

// engineMount mounts the outer engine's socket at EngineSocketInNode; a
// missing socket fails the create rather than becoming a directory.
func engineMount(socket string) []mount.Mount {
	if socket == "" {
		return nil
	}
	return []mount.Mount{{Type: mount.TypeBind, Source: socket, Target: EngineSocketInNode}}
}

// Up creates lab opts.Name: its network, SSH key pair and node containers, and
// waits until every node's sshd (and, for VariantDocker, dockerd) answers.
// Containers and the network of an earlier lab with the same name (for
// example left Exited by a dockerd restart) are removed first. If Up fails
// after creating containers, they are left for inspection: Down removes them.
func Up(ctx context.Context, docker Docker, opts Options, progress io.Writer) (*Lab, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	rep := newReporter(progress)
	nodes := planNodes(o)

	image := o.Image
	if image == "" {
		if image, err = EnsureImage(ctx, docker, o.Variant, progress); err != nil {
			return nil, fmt.Errorf("lab %s: %w", o.Name, err)
		}
	}

	if n, err := removeLab(ctx, docker, o.Name, rep, "stale "); err != nil {
		return nil, fmt.Errorf("lab %s: remove stale objects: %w", o.Name, err)
	} else if n > 0 {
		rep.printf("lab %s: removed %d stale objects of an earlier run", o.Name, n)
	}
	if err := checkNamesFree(ctx, docker, o.Name, nodes); err != nil {
		return nil, err
	}

	pub, created, err := ensureKeyPair(o.Dir, "shoal-lab-"+o.Name)
	if err != nil {
		return nil, fmt.Errorf("lab %s: %w", o.Name, err)
	}
	l := &Lab{
		Name:    o.Name,
		Dir:     o.Dir,
		Network: NetworkName(o.Name),
		Variant: o.Variant,
		Image:   image,
		Nodes:   nodes,
		KeyPath: filepath.Join(o.Dir, keyFile),
		Wait:    o.Wait,
	}
	if created {
		rep.printf("lab %s: new SSH key %s", o.Name, l.KeyPath)
	} else {
		rep.printf("lab %s: using SSH key %s", o.Name, l.KeyPath)
	}

	if _, err := docker.NetworkCreate(ctx, l.Network, client.NetworkCreateOptions{
		Driver: "bridge",
		Labels: map[string]string{LabelLab: o.Name, LabelDir: o.Dir},
	}); err != nil {
		return nil, fmt.Errorf("lab %s: create network %s: %w", o.Name, l.Network, err)
	}
	rep.printf("lab %s: network %s created", o.Name, l.Network)

	cfg := nodeConfig{lab: o.Name, dir: o.Dir, variant: o.Variant, image: image, authorizedKey: pub, wait: o.Wait, engine: EngineSocket()}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Parallel)
	for i := range l.Nodes {
		g.Go(func() error {
			n, err := createNode(gctx, docker, rep, cfg, l.Nodes[i])
			l.Nodes[i] = n
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return l, fmt.Errorf("lab %s: %w (containers are left for inspection; remove them with lab.Down or `docker rm -f $(docker ps -aq --filter label=%s=%s)`)", o.Name, err, LabelLab, o.Name)
	}
	rep.printf("lab %s: %d nodes up (key %s)", o.Name, len(l.Nodes), l.KeyPath)
	return l, nil
}

// checkNamesFree fails if a container or network that Up is about to create
// exists without the lab's label: it belongs to someone else.
func checkNamesFree(ctx context.Context, docker Docker, name string, nodes []Node) error {
	want := map[string]bool{}
	for _, n := range nodes {
		want["/"+n.Container] = true
	}
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("name", "^/shoal-"+name+"-")})
	if err != nil {
		return fmt.Errorf("lab %s: list containers: %w", name, err)
	}
	for _, c := range cs.Items {
		for _, cn := range c.Names {
			if want[cn] {
				return fmt.Errorf("lab %s: container name %s is taken by container %.12s, which is not part of the lab (no label %s=%s); remove or rename it", name, strings.TrimPrefix(cn, "/"), c.ID, LabelLab, name)
			}
		}
	}
	ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", NetworkName(name))})
	if err != nil {
		return fmt.Errorf("lab %s: list networks: %w", name, err)
	}
	for _, n := range ns.Items {
		if n.Name == NetworkName(name) {
			return fmt.Errorf("lab %s: network name %s is taken by network %.12s, which is not part of the lab; remove or rename it", name, n.Name, n.ID)
		}
	}
	return nil
}

// createNode creates, fills and starts node n's container and waits until
// it answers.
func createNode(ctx context.Context, docker Docker, rep *reporter, c nodeConfig, n Node) (Node, error) {
	if err := startContainer(ctx, docker, rep, c, n); err != nil {
		return n, err
	}
	return waitReady(ctx, docker, rep, c.wait, c.variant, NetworkName(c.lab), n)
}

// startContainer creates node n's container, puts the authorized key in
// root's home and starts it.
func startContainer(ctx context.Context, docker Docker, rep *reporter, c nodeConfig, n Node) error {
	if _, err := docker.ContainerCreate(ctx, containerSpec(c, n)); err != nil {
		return fmt.Errorf("node %s: create container %s: %w", n.Name, n.Container, err)
	}
	uid := 0
	if c.variant == VariantForeign {
		uid = ForeignUID
	}
	keys, err := authorizedKeysTar(c.authorizedKey, uid)
	if err != nil {
		return fmt.Errorf("node %s: %w", n.Name, err)
	}
	if _, err := docker.CopyToContainer(ctx, n.Container, client.CopyToContainerOptions{DestinationPath: c.variant.home(), Content: keys}); err != nil {
		return fmt.Errorf("node %s: copy authorized_keys into %s: %w", n.Name, n.Container, err)
	}
	if _, err := docker.ContainerStart(ctx, n.Container, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("node %s: start container %s: %w", n.Name, n.Container, err)
	}
	rep.printf("%s container %s started", n.tag(), n.Container)
	return nil
}

// authorizedKeysTar is a tar of .ssh/authorized_keys (0600, owned by uid)
// for the login user's home.
func authorizedKeysTar(key string, uid int) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: ".ssh/", Mode: 0o700, ModTime: now, Uid: uid, Gid: uid}); err != nil {
		return nil, err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: ".ssh/authorized_keys", Mode: 0o600, Size: int64(len(key)), ModTime: now, Uid: uid, Gid: uid}); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(tw, key); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// Down removes every container and network labelled shoal.lab=<name>, with
// the containers' volumes, and reports what it removed. A lab that is not
// there is not an error.
func Down(ctx context.Context, docker Docker, name string, progress io.Writer) error {
	rep := newReporter(progress)
	n, err := removeLab(ctx, docker, name, rep, "")
	if err != nil {
		return fmt.Errorf("lab %s: down: %w", name, err)
	}
	if n == 0 {
		rep.printf("lab %s: nothing to remove", name)
	} else {
		rep.printf("lab %s: removed %d objects", name, n)
	}
	return nil
}

// removeLab removes the containers, then the networks, labelled shoal.lab=name.
func removeLab(ctx context.Context, docker Docker, name string, rep *reporter, what string) (int, error) {
	filter := make(client.Filters).Add("label", LabelLab+"="+name)
	removed := 0
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return removed, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs.Items {
		cname := c.ID[:12]
		if len(c.Names) > 0 {
			cname = strings.TrimPrefix(c.Names[0], "/")
		}
		if _, err := docker.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
			return removed, fmt.Errorf("remove container %s: %w", cname, err)
		}
		removed++
		rep.printf("lab %s: removed %scontainer %s (%s)", name, what, cname, c.State)
	}
	ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return removed, fmt.Errorf("list networks: %w", err)
	}
	for _, n := range ns.Items {
		// Containers of others may have joined the lab network: detach them, or
		// the network cannot go.
		ins, err := docker.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
		if err != nil {
			return removed, fmt.Errorf("inspect network %s: %w", n.Name, err)
		}
		for id, ep := range ins.Network.Containers {
			if _, err := docker.NetworkDisconnect(ctx, n.ID, client.NetworkDisconnectOptions{Container: id, Force: true}); err != nil {
				return removed, fmt.Errorf("detach container %s from network %s: %w", ep.Name, n.Name, err)
			}
			rep.printf("lab %s: detached container %s from network %s", name, ep.Name, n.Name)
		}
		if _, err := docker.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
			return removed, fmt.Errorf("remove network %s: %w", n.Name, err)
		}
		removed++
		rep.printf("lab %s: removed %snetwork %s", name, what, n.Name)
	}
	return removed, nil
}

// List returns the names of the labs that have containers or networks.
func List(ctx context.Context, docker Docker) ([]string, error) {
	filter := make(client.Filters).Add("label", LabelLab)
	seen := map[string]bool{}
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	for _, c := range cs.Items {
		seen[c.Labels[LabelLab]] = true
	}
	ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return nil, fmt.Errorf("list labs: %w", err)
	}
	for _, n := range ns.Items {
		seen[n.Labels[LabelLab]] = true
	}
	delete(seen, "")
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// Find rebuilds lab name from its containers' labels. Running nodes get their
// current address and host key; stopped ones have neither. ok is false when
// the lab has neither containers nor network.
func Find(ctx context.Context, docker Docker, name string) (*Lab, bool, error) {
	filter := make(client.Filters).Add("label", LabelLab+"="+name)
	cs, err := docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: filter})
	if err != nil {
		return nil, false, fmt.Errorf("lab %s: list containers: %w", name, err)
	}
	ns, err := docker.NetworkList(ctx, client.NetworkListOptions{Filters: filter})
	if err != nil {
		return nil, false, fmt.Errorf("lab %s: list networks: %w", name, err)
	}
	if len(cs.Items) == 0 && len(ns.Items) == 0 {
		return nil, false, nil
	}
	l := &Lab{Name: name, Network: NetworkName(name), Wait: Wait{}.withDefaults()}
	for _, n := range ns.Items {
		l.Network = n.Name
		l.Dir = cmp.Or(l.Dir, n.Labels[LabelDir])
	}
	for _, c := range cs.Items {
		if c.Labels[LabelService] != "" {
			continue // a service of the lab (its S3 server), not a VPS
		}
		n := Node{
			Name:   c.Labels[LabelNode],
			Role:   Role(c.Labels[LabelRole]),
			Hoster: c.Labels[LabelHoster],
		}
		n.Region = cmp.Or(c.Labels[LabelRegion], n.Hoster+"-1")
		if len(c.Names) > 0 {
			n.Container = strings.TrimPrefix(c.Names[0], "/")
		}
		l.Dir = cmp.Or(l.Dir, c.Labels[LabelDir])
		l.Variant = cmp.Or(l.Variant, Variant(c.Labels[LabelVariant]))
		l.Image = cmp.Or(l.Image, c.Image)
		if c.State == container.StateRunning {
			if c.NetworkSettings != nil {
				if ep := c.NetworkSettings.Networks[l.Network]; ep != nil && ep.IPAddress.IsValid() {
					n.Address = ep.IPAddress.String()
				}
			}
			if n.HostKey, err = readHostKey(ctx, docker, n.Container); err != nil {
				return nil, false, fmt.Errorf("lab %s: node %s: %w", name, n.Name, err)
			}
		}
		l.Nodes = append(l.Nodes, n)
	}
	sortNodes(l.Nodes)
	if l.Dir != "" {
		l.KeyPath = filepath.Join(l.Dir, keyFile)
	}
	return l, true, nil
}
