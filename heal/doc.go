// Package heal replaces dead swarm nodes on its own without ever costing
// manager quorum. It is split the Cluster API MachineHealthCheck way:
//
//   - observe (observe.go): the node list and Docker node events from any
//     reachable manager over SSH, event-driven with a slow resync, tracking
//     since when each node is Down;
//   - decide (decide.go): Decide, a pure function of the time, the Policy,
//     the desired spec, the observed Snapshot and the remediation History;
//     it holds the brakes (quorum, maxUnhealthy, one manager at a time,
//     retry limit and back-off) and returns actions and events with reasons;
//   - record (history.go): the in-flight remediation kept durably as swarm
//     node labels, so a restarted loop resumes instead of duplicating;
//   - act (act.go): the Actor interface, the only part that creates or
//     removes servers; heal/labactor implements it for `shoal lab up`
//     clusters, heal/pulumiactor for `shoal up` stacks (a NameKeeper: the
//     replacement keeps the dead node's name, Desired.SameName);
//   - the loop (controller.go) and its Prometheus metrics (metrics.go).
//
// heal may import bootstrap and its subpackages; it must not import
// Pulumi, cobra or the lab (only heal/labactor imports the lab, only
// heal/pulumiactor Pulumi).
package heal
