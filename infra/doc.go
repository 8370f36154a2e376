// Package infra is shoal's Pulumi program: it reads the stack config
// (namespace "shoal"), validates it before any resource is registered,
// builds each node's server at its hoster through a small Hoster driver
// (infra/hcloud, infra/vultr, infra/scaleway, infra/existing, infra/local),
// puts a firewall in front of them that lets swarm traffic in from the
// cluster's own nodes only, and converges the swarm with one
// shoal:swarm:Cluster resource of shoal's provider (infra/provider).
//
// Decisions are pure: Parse (config to a validated Spec),
// FirewallRules and PeersFor take and return values and are table-tested. Effects are
// Pulumi resource registrations; ApplyT only formats values. Only infra and
// the provider import Pulumi; infra must not import cmd/shoal.
package infra
