// Package backup owns shoal's encrypted cluster backups (ADR 0028): which
// manager's raft state to copy (Pick, pure), the archive (one tar: the
// swarm directory, the unlock key when autolock is on, shoal's own state
// and manifest.json, written last, with each member's size and SHA-256),
// its age encryption, where it is kept (a directory or an S3-compatible
// bucket), taking it over SSH (Take) and putting it back onto a node
// (RestoreSwarm), which `shoal backup verify` and `shoal dr restore` use.
//
// It imports bootstrap (inventory, remote, host) and the Docker API; it
// must not import heal, infra, stacks, lab or Pulumi.
package backup
