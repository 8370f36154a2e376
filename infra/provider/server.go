package provider

import (
	"cmp"
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"

	"github.com/shoalops/shoal/lab"
)

// Server is shoal:local:Server: one lab VPS container, the local hoster's
// server. Its ID is the container's Docker ID, so that Delete never removes
// a newer container that took the same name.
type Server struct{}

// ServerArgs are the inputs of a Server.
type ServerArgs struct {
	Lab          string `pulumi:"lab"`
	Node         string `pulumi:"node"`
	Hoster       string `pulumi:"hoster"`
	Region       string `pulumi:"region,optional"`
	Role         string `pulumi:"role,optional"`
	Variant      string `pulumi:"variant,optional"`
	Image        string `pulumi:"image,optional"`
	SSHPublicKey string `pulumi:"sshPublicKey"`
}

// ServerState is a Server's state: its inputs and what the container got.
type ServerState struct {
	ServerArgs
	Address   string `pulumi:"address"`
	Container string `pulumi:"container"`
	HostKey   string `pulumi:"hostKey"`
}

var (
	_ infer.CustomResource[ServerArgs, ServerState] = (*Server)(nil)
	_ infer.CustomCheck[ServerArgs]                 = (*Server)(nil)
	_ infer.CustomDiff[ServerArgs, ServerState]     = (*Server)(nil)
	_ infer.CustomUpdate[ServerArgs, ServerState]   = (*Server)(nil)
	_ infer.CustomRead[ServerArgs, ServerState]     = (*Server)(nil)
	_ infer.CustomDelete[ServerState]               = (*Server)(nil)
	_ infer.Annotated                               = (*Server)(nil)
)

// Annotate sets the type token and describes the resource.
func (s *Server) Annotate(a infer.Annotator) {
	a.SetToken("local", "Server")
	a.Describe(s, "A lab VPS: a Docker-in-Docker container on the local Docker Engine running sshd (and dockerd).")
}

// Annotate describes the inputs.
func (a *ServerArgs) Annotate(an infer.Annotator) {
	an.Describe(&a.Lab, "The lab (cluster) name: the container is shoal-<lab>-<node> on network shoal-lab-<lab>.")
	an.Describe(&a.Node, "The node name.")
	an.Describe(&a.Hoster, "The simulated hoster, e.g. hoster-a.")
	an.Describe(&a.Region, "The region; default <hoster>-1.")
	an.Describe(&a.Role, `"manager" or "worker" (default); changes in place.`)
	an.Describe(&a.Variant, `"docker" (dockerd installed and running, default) or "fresh" (no Docker).`)
	an.SetDefault(&a.Variant, string(lab.VariantDocker))
	an.Describe(&a.Image, "Node image override; default the lab's image for the variant.")
	an.Describe(&a.SSHPublicKey, "The authorized key injected for root (authorized_keys format).")
}

// Annotate describes the outputs.
func (s *ServerState) Annotate(a infer.Annotator) {
	a.Describe(&s.Address, "IPv4 address on the lab network.")
	a.Describe(&s.Container, "The container name.")
	a.Describe(&s.HostKey, "sshd's ed25519 host key in authorized_keys format.")
}

// Check validates the inputs before anything is planned.
func (*Server) Check(ctx context.Context, req infer.CheckRequest) (infer.CheckResponse[ServerArgs], error) {
	args, failures, err := infer.DefaultCheck[ServerArgs](ctx, req.NewInputs)
	if err != nil {
		return infer.CheckResponse[ServerArgs]{Inputs: args, Failures: failures}, err
	}
	failures = append(failures, checkServerArgs(args)...)
	return infer.CheckResponse[ServerArgs]{Inputs: args, Failures: failures}, nil
}

// checkServerArgs is the pure validation of a Server's inputs; empty
// values pass (they may be unknown during preview).
func checkServerArgs(a ServerArgs) []p.CheckFailure {
	var f []p.CheckFailure
	if a.Role != "" && a.Role != string(lab.RoleManager) && a.Role != string(lab.RoleWorker) {
		f = append(f, p.CheckFailure{Property: "role", Reason: fmt.Sprintf("role %q: want manager or worker", a.Role)})
	}
	if a.Variant != "" && a.Variant != string(lab.VariantDocker) && a.Variant != string(lab.VariantFresh) {
		f = append(f, p.CheckFailure{Property: "variant", Reason: fmt.Sprintf("variant %q: want docker or fresh", a.Variant)})
	}
	return f
}

// Diff compares the inputs with the state, without I/O: anything that
// makes another container replaces it (deleted first: the name is the same);
// role and region change in place.
func (*Server) Diff(_ context.Context, req infer.DiffRequest[ServerArgs, ServerState]) (infer.DiffResponse, error) {
	return diffServer(req.State.ServerArgs, req.Inputs), nil
}

func diffServer(old, new ServerArgs) p.DiffResponse {
	d := map[string]p.PropertyDiff{}
	replace := func(key, a, b string) {
		if a != b {
			d[key] = p.PropertyDiff{Kind: p.UpdateReplace, InputDiff: true}
		}
	}
	update := func(key, a, b string) {
		if a != b {
			d[key] = p.PropertyDiff{Kind: p.Update, InputDiff: true}
		}
	}
	replace("lab", old.Lab, new.Lab)
	replace("node", old.Node, new.Node)
	replace("hoster", old.Hoster, new.Hoster)
	replace("variant", variantOf(old), variantOf(new))
	replace("image", old.Image, new.Image)
	replace("sshPublicKey", old.SSHPublicKey, new.SSHPublicKey)
	update("role", roleOf(old), roleOf(new))
	update("region", regionOf(old), regionOf(new))
	return p.DiffResponse{DeleteBeforeReplace: true, HasChanges: len(d) > 0, DetailedDiff: d}
}

// effective fills in the defaults, for the state: the outputs say what the
// server is.
func effective(a ServerArgs) ServerArgs {
	a.Variant, a.Role, a.Region = variantOf(a), roleOf(a), regionOf(a)
	return a
}

func variantOf(a ServerArgs) string { return cmp.Or(a.Variant, string(lab.VariantDocker)) }
func roleOf(a ServerArgs) string    { return cmp.Or(a.Role, string(lab.RoleWorker)) }
func regionOf(a ServerArgs) string  { return cmp.Or(a.Region, a.Hoster+"-1") }

// Create makes the container and waits until sshd (and dockerd) answers.
// Under DryRun it touches nothing.
func (*Server) Create(ctx context.Context, req infer.CreateRequest[ServerArgs]) (infer.CreateResponse[ServerState], error) {
	in := req.Inputs
	st := ServerState{ServerArgs: effective(in), Container: lab.ContainerName(in.Lab, in.Node)}
	if req.DryRun {
		return infer.CreateResponse[ServerState]{Output: st}, nil
	}
	docker, err := client.New(client.FromEnv)
	if err != nil {
		return infer.CreateResponse[ServerState]{}, fmt.Errorf("docker client: %w", err)
	}
	defer docker.Close()
	l := lab.Ref(in.Lab, "")
	n, err := lab.AddNode(ctx, docker, l, lab.NodeSpec{
		Name:          in.Node,
		Role:          lab.Role(roleOf(in)),
		Hoster:        in.Hoster,
		Region:        regionOf(in),
		Variant:       lab.Variant(variantOf(in)),
		Image:         in.Image,
		AuthorizedKey: in.SSHPublicKey,
	}, &lineLogger{ctx: ctx})
	if err != nil {
		return infer.CreateResponse[ServerState]{}, err
	}
	ins, err := docker.ContainerInspect(ctx, n.Container, client.ContainerInspectOptions{})
	if err != nil {
		return infer.CreateResponse[ServerState]{}, fmt.Errorf("inspect %s: %w", n.Container, err)
	}
	st.Address, st.Container, st.HostKey = n.Address, n.Container, n.HostKey
	return infer.CreateResponse[ServerState]{ID: ins.Container.ID, Output: st}, nil
}

// Update changes role or region: only the state changes, never the
// container (Diff replaces it for anything else).
func (*Server) Update(_ context.Context, req infer.UpdateRequest[ServerArgs, ServerState]) (infer.UpdateResponse[ServerState], error) {
	st := req.State
	st.ServerArgs = effective(req.Inputs)
	return infer.UpdateResponse[ServerState]{Output: st}, nil
}

// Read re-reads the container: its address and host key. A container that
// is gone (or was replaced by another of the same name) makes the resource
// gone; a stopped one keeps its last address and host key.
func (*Server) Read(ctx context.Context, req infer.ReadRequest[ServerArgs, ServerState]) (infer.ReadResponse[ServerArgs, ServerState], error) {
	docker, err := client.New(client.FromEnv)
	if err != nil {
		return infer.ReadResponse[ServerArgs, ServerState]{}, fmt.Errorf("docker client: %w", err)
	}
	defer docker.Close()
	st := req.State
	ins, err := docker.ContainerInspect(ctx, req.ID, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return infer.ReadResponse[ServerArgs, ServerState]{}, nil
	}
	if err != nil {
		return infer.ReadResponse[ServerArgs, ServerState]{}, fmt.Errorf("inspect %s: %w", st.Container, err)
	}
	if ins.Container.State != nil && ins.Container.State.Running {
		found, ok, err := lab.Find(ctx, docker, st.Lab)
		if err != nil {
			return infer.ReadResponse[ServerArgs, ServerState]{}, err
		}
		if n, has := found.Node(st.Node); ok && has {
			st.Address = cmp.Or(n.Address, st.Address)
			st.HostKey = cmp.Or(n.HostKey, st.HostKey)
		}
	}
	return infer.ReadResponse[ServerArgs, ServerState]{ID: req.ID, Inputs: req.Inputs, State: st}, nil
}

// Delete removes the container (and the lab network with the last one). A
// container that is gone, or that is another one of the same name, is done.
func (*Server) Delete(ctx context.Context, req infer.DeleteRequest[ServerState]) (infer.DeleteResponse, error) {
	st := req.State
	docker, err := client.New(client.FromEnv)
	if err != nil {
		return infer.DeleteResponse{}, fmt.Errorf("docker client: %w", err)
	}
	defer docker.Close()
	ins, err := docker.ContainerInspect(ctx, st.Container, client.ContainerInspectOptions{})
	switch {
	case cerrdefs.IsNotFound(err):
		p.GetLogger(ctx).Warningf("container %s is already gone", st.Container)
	case err != nil:
		return infer.DeleteResponse{}, fmt.Errorf("inspect %s: %w", st.Container, err)
	case ins.Container.ID != req.ID:
		p.GetLogger(ctx).Warningf("container %s is another container now (%.12s, not %.12s): leaving it", st.Container, ins.Container.ID, req.ID)
		return infer.DeleteResponse{}, nil
	}
	// RemoveNode also removes the lab network when no container is left.
	if err := lab.RemoveNode(ctx, docker, lab.Ref(st.Lab, ""), st.Node, &lineLogger{ctx: ctx}); err != nil {
		return infer.DeleteResponse{}, err
	}
	return infer.DeleteResponse{}, nil
}
