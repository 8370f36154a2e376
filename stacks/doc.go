// Package stacks owns what shoal runs on a swarm once it exists: the stack
// files shipped inside the binary (Traefik, Portainer with its agent, the
// registry, the user's application stacks), their deployment with
// `docker stack deploy` semantics, and the day-2 wiring around them:
// stacks/portainer talks to Portainer's API (admin, environment, one service
// webhook per service) and stacks/vault keeps the webhook tokens in Vault.
//
// This package itself holds the shipped compose files (files/*.yml, embedded:
// Names, File, WriteFiles), renders them from a Config with generated or
// stored credentials (Traefik, Registry, Portainer -> Rendered, whose
// Credentials are secret), renders the heal stack `shoal up` runs heal in on
// the cluster (Heal, CheckHealBackend; ADR 0026), computes overlay MTUs (OverlayMTU) and reaches the
// first manager that answers with quorum (ConnectManager). stacks/deploy deploys any stack;
// stacks/stacktest gives lab tests a real swarm.
//
// stacks must not import infra, heal, cobra or Pulumi; the Pulumi resources
// that wrap it live in the provider.
package stacks
