// Package deploy deploys compose files to a swarm with `docker stack deploy`
// semantics, from Go, through the Docker Engine API of one manager (the
// caller reaches it over SSH: bootstrap/remote's Conn.Docker).
//
// A deploy goes in four steps, the first two pure:
//
//  1. Load parses the compose file(s) with docker/cli's loader, including
//     ${VAR} interpolation from Stack.Env (never from the process
//     environment: the caller decides what a stack sees).
//  2. The desired objects (networks, secrets, configs, services) come from
//     docker/cli's convert package, scoped by the stack namespace and labelled
//     com.docker.stack.namespace; PlanServices compares each desired service
//     spec with the live one by a hash label and decides create, update,
//     unchanged or prune.
//  3. Deploy applies the plan through the small Engine interface
//     (*client.Client satisfies it): networks and secrets and configs first,
//     then services, with the `--with-registry-auth` equivalent, then prune.
//  4. It waits until every service has converged, reporting one progress line
//     per service when its state changes, and reports a failing service with
//     the errors of its tasks.
//
// A second deploy of the same file changes nothing: no service update is sent
// when a service's desired spec is unchanged. Remove deletes a stack.
//
// deploy must not import Pulumi, cobra, infra, heal or the lab; the CLI
// (cmd/shoal stack) and the Pulumi provider (shoal:swarm:Stack) call it with
// plain values.
package deploy
