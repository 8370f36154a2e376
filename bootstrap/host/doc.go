// Package host prepares one Linux host for swarm: it detects the OS, installs
// Docker Engine when it is missing and keeps the daemon settings swarm needs
// (log rotation, no live-restore). Deciding is pure (Facts -> []Action);
// doing goes through a remote.Runner. It opens nothing in any firewall: the
// infra layer owns firewalls. It must not import Pulumi or the swarm code.
package host
