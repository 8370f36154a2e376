// Package lab owns the VPS containers of shoal's local lab: Docker-in-Docker
// containers on the local Docker Engine that stand in for a hoster's servers.
//
// It builds and caches the node images (EnsureImage), creates and removes a
// lab's network, SSH key pair and node containers (Up, Down, List, Find),
// adds and removes single nodes of a lab (Ref, AddNode, RemoveNode: the
// local hoster and heal work node by node), and
// simulates hoster faults: a hoster cut off from the rest (Partition,
// Unpartition) or a node losing power (KillNode, StartNode).
//
// Every Docker object the package creates carries the label shoal.lab=<name>,
// and the package only ever removes objects that carry it.
//
// The nodes are plain SSH hosts: a node of VariantDocker runs sshd and dockerd,
// a node of VariantFresh runs only sshd, so that shoal's bootstrap has to
// install Docker itself, and a node of VariantForeign is a server as a hoster
// or an earlier admin hands it over (login admin with passwordless sudo, sshd
// on 2222, root login refused, docker.io started once by /etc/init.d/docker,
// no systemd). What happens on the nodes after Up is shoal's job, not
// this package's: lab must not import bootstrap, infra, stacks, heal or Pulumi.
// Later the local hoster builds on it.
//
// Usage:
//
//	docker, err := client.New(client.FromEnv)
//	...
//	l, err := lab.Up(ctx, docker, lab.Options{Name: "dev", Managers: 3, Workers: 1}, os.Stderr)
//	...
//	defer lab.Down(ctx, docker, l.Name, os.Stderr)
//	for _, n := range l.Nodes {
//		fmt.Println(n.Name, n.Hoster, n.Address) // ssh -i l.KeyPath root@n.Address
//	}
package lab
