package lab

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

func TestKillAndStartNode(t *testing.T) {
	docker := dockerForTest(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l := newLab(t, docker, Options{Managers: 1})
	before := l.Nodes[0]

	if err := KillNode(ctx, docker, l, "m1"); err != nil {
		t.Fatal(err)
	}
	ins, err := docker.ContainerInspect(ctx, before.Container, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ins.Container.State.Running {
		t.Fatal("m1 still running after KillNode")
	}
	if err := sshBanner(ctx, before.Address+":22"); err == nil {
		t.Error("sshd answered on a killed node")
	}
	found, _, err := Find(ctx, docker, l.Name)
	if err != nil {
		t.Fatal(err)
	}
	if n := found.Nodes[0]; n.Address != "" || n.HostKey != "" {
		t.Errorf("Find gave a killed node an address or host key: %+v", n)
	}

	var out strings.Builder
	after, err := StartNode(ctx, docker, l, "m1", &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "dockerd answers") {
		t.Errorf("StartNode did not wait for dockerd:\n%s", out.String())
	}
	if after.HostKey != before.HostKey {
		t.Error("host key changed across a restart")
	}
	if got, _ := l.Node("m1"); got != after {
		t.Errorf("lab entry %+v, want %+v", got, after)
	}
	c := dialNode(t, l, after)
	if out, err := run(c, "docker info --format '{{.ServerVersion}}'"); err != nil {
		t.Errorf("docker after restart: %v %s", err, out)
	}

	if err := KillNode(ctx, docker, l, "m9"); !errors.Is(err, errNoNode) {
		t.Errorf("KillNode of an unknown node: %v", err)
	}
}
