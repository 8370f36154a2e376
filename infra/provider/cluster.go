package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	"golang.org/x/crypto/ssh"

	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
)

// Cluster is shoal:swarm:Cluster: the swarm converged on a list of nodes.
// Its ID is the cluster name.
type Cluster struct{}

// ClusterNode is one node of a Cluster.
type ClusterNode struct {
	Name    string            `pulumi:"name"`
	Address string            `pulumi:"address"`
	Role    string            `pulumi:"role"`
	Hoster  string            `pulumi:"hoster"`
	Region  string            `pulumi:"region,optional"`
	Labels  map[string]string `pulumi:"labels,optional"`
	User    string            `pulumi:"user,optional"`
	Port    int               `pulumi:"port,optional"`
	HostKey string            `pulumi:"hostKey,optional"`
}

// ClusterOptions are the swarm-wide options.
type ClusterOptions struct {
	AdvertiseInterface      string `pulumi:"advertiseInterface,optional"`
	DataPathPort            int    `pulumi:"dataPathPort,optional"`
	OverlayMtu              int    `pulumi:"overlayMtu,optional"`
	Autolock                bool   `pulumi:"autolock,optional"`
	AllowSingleHosterQuorum bool   `pulumi:"allowSingleHosterQuorum,optional"`
}

// ClusterArgs are the inputs of a Cluster.
type ClusterArgs struct {
	Name          string          `pulumi:"name"`
	Nodes         []ClusterNode   `pulumi:"nodes"`
	SSHPrivateKey string          `pulumi:"sshPrivateKey" provider:"secret"`
	Options       *ClusterOptions `pulumi:"options,optional"`
}

// JoinTokens are the swarm's join tokens.
type JoinTokens struct {
	Worker  string `pulumi:"worker"`
	Manager string `pulumi:"manager"`
}

// ClusterState is a Cluster's state: its inputs and what the swarm is.
type ClusterState struct {
	ClusterArgs
	SwarmID          string            `pulumi:"swarmId"`
	ManagerAddresses []string          `pulumi:"managerAddresses"`
	NodeIDs          map[string]string `pulumi:"nodeIds"`
	HostKeys         map[string]string `pulumi:"hostKeys"`
	JoinTokens       JoinTokens        `pulumi:"joinTokens" provider:"secret"`
	UnlockKey        string            `pulumi:"unlockKey" provider:"secret"`
}

var (
	_ infer.CustomResource[ClusterArgs, ClusterState]       = (*Cluster)(nil)
	_ infer.CustomCheck[ClusterArgs]                        = (*Cluster)(nil)
	_ infer.CustomDiff[ClusterArgs, ClusterState]           = (*Cluster)(nil)
	_ infer.CustomUpdate[ClusterArgs, ClusterState]         = (*Cluster)(nil)
	_ infer.CustomRead[ClusterArgs, ClusterState]           = (*Cluster)(nil)
	_ infer.CustomDelete[ClusterState]                      = (*Cluster)(nil)
	_ infer.Annotated                                       = (*Cluster)(nil)
	_ infer.ExplicitDependencies[ClusterArgs, ClusterState] = (*Cluster)(nil)
)

// WireDependencies keeps the secrets secret in the state whatever the
// inputs' secretness: the engine encrypts them. Every other output depends
// on every input (infer's default).
func (*Cluster) WireDependencies(f infer.FieldSelector, _ *ClusterArgs, state *ClusterState) {
	f.OutputField(&state.SSHPrivateKey).AlwaysSecret()
	f.OutputField(&state.JoinTokens).AlwaysSecret()
	f.OutputField(&state.UnlockKey).AlwaysSecret()
}

// Annotate sets the type token and describes the resource.
func (c *Cluster) Annotate(a infer.Annotator) {
	a.SetToken("swarm", "Cluster")
	a.Describe(c, "A Docker Swarm converged on a list of nodes over SSH: init, joins, labels, roles; nodes that leave the list leave the swarm.")
}

// Annotate sets the type token of a node.
func (n *ClusterNode) Annotate(a infer.Annotator) {
	a.SetToken("swarm", "Node")
	a.Describe(&n.HostKey, "Pinned host key (authorized_keys format); empty: trusted on first use and recorded in hostKeys.")
	a.Describe(&n.User, "SSH user; default root.")
	a.Describe(&n.Port, "SSH port; default 22.")
}

// Annotate sets the type token of the options.
func (o *ClusterOptions) Annotate(a infer.Annotator) { a.SetToken("swarm", "ClusterOptions") }

// Annotate sets the type token of the join tokens.
func (t *JoinTokens) Annotate(a infer.Annotator) { a.SetToken("swarm", "JoinTokens") }

// Annotate describes the outputs.
func (s *ClusterState) Annotate(a infer.Annotator) {
	a.Describe(&s.HostKeys, "Host key of each node (pinned or trusted on first use), by node name.")
	a.Describe(&s.NodeIDs, "Swarm node ID of each node, by node name.")
	a.Describe(&s.UnlockKey, `The swarm's unlock key; "" when autolock is off.`)
}

// Check validates the inputs as an inventory, before anything is planned.
func (*Cluster) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[ClusterArgs], error) {
	args, failures, err := infer.DefaultCheck[ClusterArgs](ctx, req.NewInputs)
	if err != nil || len(failures) > 0 {
		return infer.CheckResponse[ClusterArgs]{Inputs: args, Failures: failures}, err
	}
	more, warnings := checkInventory(args)
	for _, w := range warnings {
		p.GetLogger(ctx).Warning(w)
	}
	return infer.CheckResponse[ClusterArgs]{Inputs: args, Failures: append(failures, more...)}, nil
}

// Diff compares the inputs with the state, without I/O.
func (*Cluster) Diff(_ context.Context, req infer.DiffRequest[ClusterArgs, ClusterState]) (infer.DiffResponse, error) {
	return diffCluster(req.State.ClusterArgs, req.Inputs), nil
}

// Create forms the swarm. Under DryRun it touches nothing.
func (*Cluster) Create(ctx context.Context, req infer.CreateRequest[ClusterArgs]) (infer.CreateResponse[ClusterState], error) {
	if req.DryRun {
		return infer.CreateResponse[ClusterState]{ID: req.Inputs.Name, Output: ClusterState{ClusterArgs: req.Inputs}}, nil
	}
	st, err := converge(ctx, req.Inputs, nil)
	if err != nil {
		if st.SwarmID == "" {
			return infer.CreateResponse[ClusterState]{}, err
		}
		// The swarm exists: record it, and report the create as failed.
		return infer.CreateResponse[ClusterState]{ID: req.Inputs.Name, Output: st},
			infer.ResourceInitFailedError{Reasons: []string{err.Error()}}
	}
	return infer.CreateResponse[ClusterState]{ID: req.Inputs.Name, Output: st}, nil
}

// Update converges the swarm on the new node list and options; nodes no
// longer listed leave the swarm. Under DryRun it touches nothing.
func (*Cluster) Update(ctx context.Context, req infer.UpdateRequest[ClusterArgs, ClusterState]) (infer.UpdateResponse[ClusterState], error) {
	if req.DryRun {
		st := req.State
		st.ClusterArgs = req.Inputs
		return infer.UpdateResponse[ClusterState]{Output: st}, nil
	}
	prev := req.State
	st, err := converge(ctx, req.Inputs, &prev)
	if err != nil {
		return infer.UpdateResponse[ClusterState]{}, err
	}
	return infer.UpdateResponse[ClusterState]{Output: st}, nil
}

// Read re-reads the swarm through a manager: its ID, the node IDs and each
// node's role (a role changed behind shoal's back shows as a diff). With no
// manager reachable the state stays as it was, with a warning.
func (*Cluster) Read(ctx context.Context, req infer.ReadRequest[ClusterArgs, ClusterState]) (infer.ReadResponse[ClusterArgs, ClusterState], error) {
	st := req.State
	s, err := newSession(ctx, st.ClusterArgs, st.Nodes, st.HostKeys)
	if err != nil {
		return infer.ReadResponse[ClusterArgs, ClusterState]{}, err
	}
	defer s.close()
	facts, err := readCluster(ctx, s.inv, s.dial)
	if err != nil {
		p.GetLogger(ctx).Warningf("refresh of cluster %s: %v; keeping the recorded state", st.Name, err)
		return infer.ReadResponse[ClusterArgs, ClusterState]{ID: req.ID, Inputs: req.Inputs, State: st}, nil
	}
	in := req.Inputs
	for i, n := range st.Nodes {
		if r, ok := facts.Roles[n.Name]; ok && r != n.Role {
			st.Nodes[i].Role = r
			for j := range in.Nodes {
				if in.Nodes[j].Name == n.Name {
					in.Nodes[j].Role = r
				}
			}
		}
	}
	facts.apply(&st)
	return infer.ReadResponse[ClusterArgs, ClusterState]{ID: req.ID, Inputs: in, State: st}, nil
}

// Delete makes every node leave the swarm: workers first, then managers,
// the last one with force. Unreachable nodes are skipped with a warning.
func (*Cluster) Delete(ctx context.Context, req infer.DeleteRequest[ClusterState]) (infer.DeleteResponse, error) {
	return infer.DeleteResponse{}, teardown(ctx, req.State)
}

// session is what one operation on a cluster needs: the inventory, SSH
// options with the pinned host keys, and the temporary known_hosts file.
type session struct {
	inv  *inventory.Inventory
	dial remote.DialOptions
	kh   *knownHostsFile
	log  *slog.Logger
}

// newSession pins host keys for nodes (plus departing ones, which share the
// file) and builds the SSH options. prevNodes and prevKeys come from the
// previous state (nil on create).
func newSession(ctx context.Context, in ClusterArgs, prevNodes []ClusterNode, prevKeys map[string]string, departing ...ClusterNode) (*session, error) {
	signer, err := ssh.ParsePrivateKey([]byte(in.SSHPrivateKey))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: sshPrivateKey: %w", in.Name, err)
	}
	all := append(append([]ClusterNode{}, in.Nodes...), departing...)
	kh, err := writeKnownHosts(all, pinnedKeys(all, prevNodes, prevKeys))
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", in.Name, err)
	}
	log := newEngineLogger(ctx)
	hk := remote.NewHostKeys(kh.Path)
	hk.Logger = log
	return &session{
		inv:  inventoryFrom(in, kh.Path),
		dial: remote.DialOptions{Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeys: hk, Logger: log},
		kh:   kh,
		log:  log,
	}, nil
}

func (s *session) close() { s.kh.Remove() }

// converge runs bootstrap on the inputs (with the previous state on
// update) and reads back what the swarm is. The state it returns is filled
// as far as the swarm could be read, also when err is not nil.
func converge(ctx context.Context, in ClusterArgs, prev *ClusterState) (ClusterState, error) {
	st := ClusterState{ClusterArgs: in}
	if failures, _ := checkInventory(in); len(failures) > 0 || !complete(in) {
		return st, fmt.Errorf("cluster %s: invalid nodes or options: %v", in.Name, failures)
	}
	var prevNodes, departing []ClusterNode
	var prevKeys map[string]string
	if prev != nil {
		prevNodes, prevKeys = prev.Nodes, prev.HostKeys
		listed := map[string]bool{}
		for _, n := range in.Nodes {
			listed[n.Name] = true
		}
		for _, n := range prev.Nodes {
			if !listed[n.Name] {
				departing = append(departing, n)
			}
		}
		if c := diffNodes(prev.Nodes, in.Nodes); !c.empty() {
			p.GetLogger(ctx).Infof("cluster %s: %s", in.Name, c)
		}
	}
	s, err := newSession(ctx, in, prevNodes, prevKeys, departing...)
	if err != nil {
		return st, err
	}
	defer s.close()

	dep := nodesFrom(departing)
	rep, runErr := bootstrap.Run(ctx, s.inv, bootstrap.Options{
		Dial:      s.dial,
		Prune:     true,
		Departing: dep,
		// Removing nodes is destructive: Pulumi's preview and its own
		// confirmation are the gate, so the provider says yes.
		Confirm: func(swarm.Plan) bool { return true },
		Log:     s.log,
	}, newNodeProgress(ctx, s.inv.Nodes, dep))
	if runErr == nil && rep.Plan.Empty() {
		p.GetLogger(ctx).Infof("cluster %s: swarm converged, no changes", in.Name)
	}

	keys, err := s.kh.Keys(in.Nodes)
	if err != nil {
		return st, errors.Join(runErr, err)
	}
	st.HostKeys = keys
	facts, readErr := readCluster(ctx, s.inv, s.dial)
	if readErr == nil {
		facts.apply(&st)
		if rep.Result.UnlockKey != "" {
			st.UnlockKey = rep.Result.UnlockKey
		}
	}
	if runErr != nil {
		var hk *remote.HostKeyChangedError
		if errors.As(runErr, &hk) {
			// The known_hosts file named in the message is this run's
			// temporary one: say where the pinned key really comes from.
			return st, fmt.Errorf("cluster %s: %w\n(in this provider the pinned key is the node's hostKey input, else the key recorded in the cluster's hostKeys output; if the server was really rebuilt, set that node's hostKey input to its new key)", in.Name, runErr)
		}
		return st, fmt.Errorf("cluster %s: %w", in.Name, runErr)
	}
	if readErr != nil {
		return st, fmt.Errorf("cluster %s: read the swarm after converging: %w", in.Name, readErr)
	}
	return st, nil
}
