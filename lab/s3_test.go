package lab

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/minio/minio-go/v7"
	"github.com/moby/moby/client"

	"github.com/shoalops/shoal/lab/images"
)

func TestS3ServerOnTheLabNetwork(t *testing.T) {
	docker := dockerForTest(t)
	t.Parallel()
	// Long enough for a first build of the node and S3 images on a busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	name := testLabName(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := Down(ctx, docker, name, testWriter(t)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	image, err := images.EnsureS3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := Ref(name, t.TempDir())
	m1, err := AddNode(ctx, docker, l, NodeSpec{Name: "m1", Role: RoleManager, Hoster: "hoster-a"}, testWriter(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartS3(ctx, docker, l, image, testWriter(t))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(s.String(), s.SecretKey) {
		t.Errorf("String() shows the secret key: %s", s)
	}

	t.Run("objects written from the host read back, and anonymous requests are refused", func(t *testing.T) {
		if err := s.EnsureBucket(ctx, "state"); err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureBucket(ctx, "state"); err != nil {
			t.Fatalf("second EnsureBucket: %v", err)
		}
		c, err := s.Client()
		if err != nil {
			t.Fatal(err)
		}
		body := []byte("raft snapshot")
		if _, err := c.PutObject(ctx, "state", "a/b.bin", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		obj, err := c.GetObject(ctx, "state", "a/b.bin", minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("read back %q, %v", got, err)
		}
		anon, err := minio.New(s.Endpoint, &minio.Options{Region: s.Region})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := anon.GetObject(ctx, "state", "a/b.bin", minio.GetObjectOptions{}); err == nil {
			if o, _ := anon.GetObject(ctx, "state", "a/b.bin", minio.GetObjectOptions{}); o != nil {
				if _, err := io.ReadAll(o); err == nil {
					t.Error("an anonymous client read the object")
				}
			}
		}
	})

	t.Run("a lab node reaches it at the same address", func(t *testing.T) {
		host, port, _ := strings.Cut(s.Endpoint, ":")
		out, err := execIn(ctx, docker, m1.Container, "bash", "-c",
			"exec 3<>/dev/tcp/"+host+"/"+port+" && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3")
		if err != nil || !strings.HasPrefix(out, "HTTP/1.1 ") {
			t.Fatalf("from m1: %q, %v", out, err)
		}
	})

	t.Run("a second start reuses the running server; it is no node of the lab", func(t *testing.T) {
		before, err := docker.ContainerInspect(ctx, s.Container, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		again, err := StartS3(ctx, docker, Ref(name, l.Dir), image, testWriter(t))
		if err != nil {
			t.Fatal(err)
		}
		after, err := docker.ContainerInspect(ctx, s.Container, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if after.Container.ID != before.Container.ID || after.Container.State.StartedAt != before.Container.State.StartedAt || *again != *s {
			t.Errorf("second StartS3 restarted or changed the server: %+v vs %+v", again, s)
		}
		found, ok, err := Find(ctx, docker, name)
		if err != nil || !ok {
			t.Fatalf("find: %v %v", ok, err)
		}
		if len(found.Nodes) != 1 || found.Nodes[0].Name != "m1" {
			t.Errorf("lab nodes %+v, want m1 only", found.Nodes)
		}
	})

	t.Run("down removes it with the lab", func(t *testing.T) {
		if err := Down(ctx, docker, name, testWriter(t)); err != nil {
			t.Fatal(err)
		}
		if _, err := docker.ContainerInspect(ctx, s.Container, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
			t.Errorf("s3 container still there: %v", err)
		}
	})
}
