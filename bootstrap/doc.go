// Package bootstrap turns the hosts of an inventory into a Docker Swarm:
// it connects to each host over SSH (bootstrap/remote), prepares it
// (bootstrap/host), observes and plans the swarm (bootstrap/swarm) and
// executes the plan. `shoal bootstrap`, `shoal lab up` and, later, the
// Pulumi provider all go through Run; `shoal status` goes through Status.
// It must not import Pulumi or the lab.
package bootstrap
