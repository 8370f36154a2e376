package swarm

// Local node states as docker info reports them.
const (
	LocalInactive = "inactive"
	LocalPending  = "pending"
	LocalActive   = "active"
	LocalError    = "error"
	LocalLocked   = "locked"
)

// Labels shoal keeps on swarm nodes.
const (
	LabelNode    = "shoal.node"    // the inventory name of the node
	LabelHoster  = "shoal.hoster"  // the hoster the node runs at
	LabelRegion  = "shoal.region"  // the hoster's region
	LabelManaged = "shoal.managed" // comma-separated keys of inventory labels shoal set
)

// LabelCluster is the swarm-wide label (in the swarm spec's labels) that
// records the inventory cluster.name the swarm belongs to. bootstrap sets it
// when it creates the swarm, and when an operator adopts a swarm.
const LabelCluster = "shoal.cluster"

// HostState is what one inventory node's own daemon says about itself.
type HostState struct {
	Reachable bool
	Err       string // why the host could not be read
	Local     string // LocalInactive, LocalActive, ...
	NodeID    string // swarm node ID when Local is active
	ClusterID string // swarm ID; only managers report it
	Manager   bool   // the node runs a manager (control available)
	Advertise string // the address (or interface) the node advertises
	Engine    string // Docker Engine version
}

// Member is one entry of the swarm's node list.
type Member struct {
	ID           string
	Hostname     string
	Role         string // "manager" or "worker"
	State        string // "ready", "down", "unknown", "disconnected"
	Availability string // "active", "pause", "drain"
	Reachability string // managers: "reachable", "unreachable", "unknown"
	Leader       bool
	Addr         string
	Engine       string
	Labels       map[string]string
}

// Reachable tells whether a manager member takes part in raft right now.
func (m Member) Reachable() bool { return m.Role == "manager" && m.Reachability == "reachable" }

// SwarmInfo is the swarm-wide state read from a manager.
type SwarmInfo struct {
	ID string
	// Name is the cluster name the swarm records (LabelCluster); empty for
	// a swarm shoal did not name (made by hand, or by an older shoal).
	Name         string
	Autolock     bool
	DataPathPort uint32
}

// Observed is everything Plan needs to know about the world.
type Observed struct {
	Hosts   map[string]HostState // by inventory node name
	Swarm   *SwarmInfo           // nil when no inventory manager is in a swarm
	Members []Member             // the node list, read through Via
	Via     string               // the inventory manager that answered
	// Asked is what each inventory manager answered, in the order they
	// were asked (see ObserveWith).
	Asked []Answer
	// Departing are the hosts of nodes that are no longer in the
	// inventory, by name (the shoal.node label), as their own daemons see
	// themselves; a removal runs `swarm leave` only on a reachable one
	// (see ObserveDeparting and ComputeOptions.Prune).
	Departing map[string]HostState
}
