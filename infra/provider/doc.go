// Package provider is shoal's own Pulumi resource provider (package "shoal",
// built with pulumi-go-provider's infer). It serves four resources:
//
//   - shoal:local:Server, one lab VPS container on the local Docker Engine
//     (the local hoster), made and removed through the lab package;
//   - shoal:swarm:Cluster, the swarm converged on a list of nodes through
//     bootstrap.Run, with nodes that leave the list removed from the swarm
//     in an order that never loses manager quorum;
//   - shoal:swarm:Stack, a compose stack deployed through the first
//     answering manager with `docker stack deploy` semantics (stacks/deploy);
//     the shipped traefik, portainer and registry stacks are rendered here
//     with credentials generated once and kept as secret outputs;
//   - shoal:portainer:Webhooks, one Portainer service webhook per service of
//     a stack (stacks/portainer), each token synced to Vault (stacks/vault).
//
// Diff compares inputs with state and does no I/O; Create and Update touch
// nothing under DryRun (pulumi preview); Delete counts "already gone" as
// done. The SSH private key is a secret input used in memory only; host keys
// are pinned (from the node's hostKey input, else from the previous state,
// else trusted on first use and recorded in the hostKeys output).
//
// The binary cmd/pulumi-resource-shoal calls Serve; so can shoal itself when
// it acts as the plugin. Only this package and infra import Pulumi; it must
// not import cmd/shoal.
package provider
