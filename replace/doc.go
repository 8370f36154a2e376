// Package replace owns the planned replacement of one swarm node (`shoal
// node replace NAME`): a new server takes NAME's role and labels, joins and
// becomes Ready first, then NAME is drained, demoted when it is a manager,
// removed, and its server deleted.
//
// Plan is a pure function from the observed swarm (bootstrap/swarm's
// Observed) and the request to the ordered steps; before it returns them it
// walks the managers through every intermediate step and refuses (a
// *RefusedError naming the step and the rule) when quorum or the hoster
// rule would break, using bootstrap/quorum's arithmetic. It does no I/O and
// must not import Pulumi, the lab or SSH; carrying the steps out belongs
// to an executor behind a small interface.
package replace
