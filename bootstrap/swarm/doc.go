// Package swarm forms and reports a Docker Swarm from an inventory. It is
// split the cluster-api way: Observe reads each node's daemon (docker info)
// and the swarm's node list; Plan is a pure function from the inventory and
// what was observed to ordered steps; Execute carries the steps out through
// the Docker API of each node (reached over SSH by the caller). On a
// converged cluster Plan returns no steps, so a re-run changes nothing.
// Summarize turns a node list into the cluster status and quorum health.
// It must not import Pulumi or the lab.
package swarm
