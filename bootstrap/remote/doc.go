// Package remote owns shoal's SSH layer: how shoal proves who it is to a host
// (auth.go), how it knows the host is the one it met before (hostkeys.go), how
// it reaches a host that may still be booting (dial.go), and how it runs
// commands, writes files and talks to the Docker Engine API on that host
// (conn.go, run.go, writefile.go, docker.go).
//
// It knows nothing about what the commands mean: planning, swarm membership and
// the inventory live in the packages that call it. remote must not import
// other shoal packages (bootstrap/inventory, bootstrap/swarm, infra, stacks,
// heal), Pulumi or cobra; it takes plain values such as [Target].
//
// Host keys are always checked. The first connection to an address records its
// key (trust on first use); a different key later is a hard
// [*HostKeyChangedError], never a warning. There is no way to turn checking off.
//
// Secrets never go into a command line: a [Cmd]'s Script is visible in the
// remote process list, in sshd logs and in shoal's --verbose output (with
// [Cmd.Secrets] redacted). Pass a secret on [Cmd.Stdin] and read it in the
// script, for example
//
//	remote.Cmd{
//		Script:  `docker login --username shoal --password-stdin registry.example.com`,
//		Stdin:   []byte(password),
//		Secrets: []string{password},
//	}
//
// Usage:
//
//	auth, closer, err := remote.Auth(inv.SSH.IdentityFile)
//	if err != nil { ... }
//	defer closer.Close()
//	conn, err := remote.Dial(ctx, remote.Target{Name: "m1", Hoster: "hcloud", Host: "203.0.113.11"},
//		remote.DialOptions{Auth: []ssh.AuthMethod{auth}, HostKeys: remote.NewHostKeys(knownHostsPath)})
//	if err != nil { ... }
//	defer conn.Close()
//	res, err := conn.Run(ctx, remote.Cmd{Script: "docker info --format '{{.Swarm.LocalNodeState}}'"})
package remote
