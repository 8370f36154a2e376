// Package release rolls a new image out to the services of an app stack
// and tells the truth about it: the tag is resolved to a digest at the
// registry first, each service is moved to image@digest, and the swarm is
// watched until every task of the new spec runs that digest and the
// service's update completed (a task with a health check only counts as
// running once healthy), or the update failed; then every service the run
// changed goes back to the digest it ran before. A digest that already runs
// is reported as such and nothing restarts unless forced.
//
// The swarm is reached two ways behind two small interfaces: Swarm
// (observe, roll back, set an image) and Updater (start the rollout).
// EngineSwarm and EngineUpdater use a manager's Docker API (over SSH, the
// operator's path); PortainerSwarm uses Portainer's Docker proxy with an API
// key and WebhookUpdater the services' Portainer webhooks (the CI path).
// Verification is the same for both: Judge, a pure function of a service
// and its tasks.
//
// Every run is recorded (History; VaultHistory keeps it in Vault KV v2
// next to the webhook tokens, where both paths can write it) and announced
// (Notifier; Shoutrrr sends it to any URL).
//
// release must not import Pulumi, cobra, infra or heal.
package release
