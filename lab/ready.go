package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"
)

// waitReady waits until node n answers: its container runs and has an address
// on netName, sshd sends its banner on port 22 and, for VariantDocker, `docker
// info` works inside. It returns n with Address and HostKey filled in.
func waitReady(ctx context.Context, docker Docker, rep *reporter, w Wait, variant Variant, netName string, n Node) (Node, error) {
	w = w.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	start := time.Now()

	addr, err := containerAddress(ctx, docker, n.Container, netName)
	if err != nil {
		return n, fmt.Errorf("node %s: %w", n.Name, err)
	}
	n.Address = addr

	var last error
	port := strconv.Itoa(variant.SSHPort())
	for {
		if last = sshBanner(ctx, net.JoinHostPort(addr, port)); last == nil {
			break
		}
		if err := stillRunning(ctx, docker, n.Container); err != nil {
			return n, fmt.Errorf("node %s: waiting for sshd on %s: %w", n.Name, addr, err)
		}
		if err := sleep(ctx, w.Poll); err != nil {
			return n, fmt.Errorf("node %s: sshd on %s:"+port+" did not answer within %s: %w (last: %v)", n.Name, addr, w.Timeout, err, last)
		}
	}
	rep.printf("%s sshd answers on %s:%s (%s)", n.tag(), addr, port, time.Since(start).Round(100*time.Millisecond))

	if variant.HasDocker() {
		for {
			_, last = execIn(ctx, docker, n.Container, "docker", "info", "--format", "{{.ServerVersion}}")
			if last == nil {
				break
			}
			if err := stillRunning(ctx, docker, n.Container); err != nil {
				return n, fmt.Errorf("node %s: waiting for dockerd: %w", n.Name, err)
			}
			if err := sleep(ctx, w.Poll); err != nil {
				// A fresh context: ctx is done, but the log helps.
				logCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				tail, _ := execIn(logCtx, docker, n.Container, "tail", "-n", "5", "/var/log/dockerd.log")
				return n, fmt.Errorf("node %s: dockerd did not answer within %s: %w (last: %v; /var/log/dockerd.log ends: %s)", n.Name, w.Timeout, err, last, strings.TrimSpace(tail))
			}
		}
		rep.printf("%s dockerd answers (%s)", n.tag(), time.Since(start).Round(100*time.Millisecond))
	}

	if n.HostKey, err = readHostKey(ctx, docker, n.Container); err != nil {
		return n, fmt.Errorf("node %s: %w", n.Name, err)
	}
	return n, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// containerAddress is the container's IPv4 address on netName.
func containerAddress(ctx context.Context, docker Docker, name, netName string) (string, error) {
	ins, err := docker.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return "", fmt.Errorf("inspect container %s: %w", name, err)
	}
	c := ins.Container
	if c.State == nil || !c.State.Running {
		return "", fmt.Errorf("container %s is not running", name)
	}
	if c.NetworkSettings != nil {
		if ep := c.NetworkSettings.Networks[netName]; ep != nil && ep.IPAddress.IsValid() {
			return ep.IPAddress.String(), nil
		}
	}
	return "", fmt.Errorf("container %s has no address on network %s", name, netName)
}

// stillRunning fails if the container has stopped.
func stillRunning(ctx context.Context, docker Docker, name string) error {
	ins, err := docker.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect container %s: %w", name, err)
	}
	if s := ins.Container.State; s != nil && !s.Running {
		return fmt.Errorf("container %s is %s (exit code %d; see `docker logs %s`)", name, s.Status, s.ExitCode, name)
	}
	return nil
}

// sshBanner connects to addr and reads the SSH identification line.
func sshBanner(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read banner from %s: %w", addr, err)
	}
	if !strings.HasPrefix(line, "SSH-") {
		return fmt.Errorf("%s answered %q, not an SSH banner", addr, strings.TrimSpace(line))
	}
	return nil
}

// readHostKey reads sshd's ed25519 host key from inside the container.
func readHostKey(ctx context.Context, docker Docker, name string) (string, error) {
	out, err := execIn(ctx, docker, name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub")
	if err != nil {
		return "", fmt.Errorf("read host key: %w", err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(out))
	if err != nil {
		return "", fmt.Errorf("read host key: parse %q: %w", strings.TrimSpace(out), err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))), nil
}

var errNoNode = errors.New("no such node")
