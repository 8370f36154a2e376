package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// LabelService marks a lab container that is a service of the lab (such as
// its S3 server), not one of its VPSes: Find skips it, Down removes it.
const LabelService = "shoal.lab.service"

// S3Port is the port the lab's S3 server listens on, inside the lab network.
const S3Port = 7070

// S3Region is the region the lab's S3 server answers for.
const S3Region = "us-east-1"

// S3 is the lab's S3-compatible object store: a real S3 gateway (versitygw
// over a directory, see lab/images.EnsureS3) in a container on the lab
// network, so the host and every lab node reach it at the same address. It
// serves the shared Pulumi state backend and shoal's backups in lab tests.
// One per lab; it goes with the lab (Down).
type S3 struct {
	Container string `json:"container"`
	// Endpoint is the server's address on the lab network, host:port.
	Endpoint  string `json:"endpoint"`
	Region    string `json:"region"`
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// String never prints the secret key.
func (s S3) String() string {
	return fmt.Sprintf("s3 %s (container %s, access key %s)", s.Endpoint, s.Container, s.AccessKey)
}

// URL is the endpoint as an http URL.
func (s S3) URL() string { return "http://" + s.Endpoint }

// PulumiBackend is the Pulumi DIY backend URL for bucket (path-style, plain
// HTTP, as the lab server needs). Credentials are not in the URL: pass
// Env() to the Pulumi CLI.
func (s S3) PulumiBackend(bucket string) string {
	q := url.Values{}
	q.Set("endpoint", s.URL())
	q.Set("region", s.Region)
	q.Set("s3ForcePathStyle", "true")
	return "s3://" + bucket + "?" + q.Encode()
}

// Env is the AWS SDK environment that authenticates to the server (for the
// Pulumi CLI and other S3 clients). It holds the secret key: pass it as an
// environment, never as arguments.
func (s S3) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":     s.AccessKey,
		"AWS_SECRET_ACCESS_KEY": s.SecretKey,
		"AWS_REGION":            s.Region,
	}
}

// S3ContainerName is the container of lab name's S3 server.
func S3ContainerName(name string) string { return ContainerName(name, "s3") }

const s3StateFile = "s3.json"

// StartS3 starts the S3 server of lab l from image (lab/images.EnsureS3), or
// returns the one already running. Its root credentials are generated once
// and kept in the lab directory (s3.json, 0600) and passed to the server in
// its environment. It returns once the server answers.
func StartS3(ctx context.Context, docker Docker, l *Lab, image string, progress io.Writer) (*S3, error) {
	rep := newReporter(progress)
	name := S3ContainerName(l.Name)
	if l.Dir == "" {
		return nil, fmt.Errorf("lab %s: s3: the lab has no state directory", l.Name)
	}
	creds, err := s3Credentials(l.Dir)
	if err != nil {
		return nil, fmt.Errorf("lab %s: s3: %w", l.Name, err)
	}
	s := &S3{Container: name, Region: S3Region, AccessKey: creds.AccessKey, SecretKey: creds.SecretKey}
	err = withLabLock(ctx, rep, l, func() error {
		ins, err := docker.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
		switch {
		case cerrdefs.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("inspect %s: %w", name, err)
		case labelOf(ins.Container.Config, LabelLab) != l.Name || labelOf(ins.Container.Config, LabelService) != "s3":
			return fmt.Errorf("container name %s is taken by container %.12s, which is not the lab's S3 server; remove or rename it", name, ins.Container.ID)
		case ins.Container.State != nil && ins.Container.State.Running && envHas(ins.Container.Config, "ROOT_ACCESS_KEY_ID="+creds.AccessKey):
			return nil // already running with these credentials
		default:
			if _, err := docker.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
				return fmt.Errorf("remove stale %s: %w", name, err)
			}
			rep.printf("lab %s: removed stale S3 server container %s", l.Name, name)
		}
		if err := ensureNetwork(ctx, docker, rep, l); err != nil {
			return err
		}
		if _, err := docker.ContainerCreate(ctx, s3ContainerSpec(l, name, image, creds)); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		if _, err := docker.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		rep.printf("lab %s: S3 server %s started", l.Name, name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lab %s: s3: %w", l.Name, err)
	}
	addr, err := containerAddress(ctx, docker, name, l.Network)
	if err != nil {
		return nil, fmt.Errorf("lab %s: s3: %w", l.Name, err)
	}
	s.Endpoint = net.JoinHostPort(addr, fmt.Sprint(S3Port))
	if err := s.waitReady(ctx, l.Wait.withDefaults()); err != nil {
		return nil, fmt.Errorf("lab %s: s3 server %s: %w", l.Name, s.Endpoint, err)
	}
	rep.printf("lab %s: S3 server answers at %s", l.Name, s.URL())
	return s, nil
}

func s3ContainerSpec(l *Lab, name, image string, creds s3Creds) client.ContainerCreateOptions {
	return client.ContainerCreateOptions{
		Name: name,
		Config: &container.Config{
			Image:    image,
			Hostname: "s3",
			Env:      []string{"ROOT_ACCESS_KEY_ID=" + creds.AccessKey, "ROOT_SECRET_ACCESS_KEY=" + creds.SecretKey, "VGW_REGION=" + S3Region},
			// Metadata in a sidecar directory: no extended attributes needed
			// from whatever file system holds the container.
			Cmd: []string{"--port", fmt.Sprintf(":%d", S3Port), "--quiet", "posix", "--sidecar", "/meta", "/data"},
			Labels: map[string]string{
				LabelLab:     l.Name,
				LabelService: "s3",
				LabelDir:     l.Dir,
			},
		},
		HostConfig: &container.HostConfig{
			NetworkMode: container.NetworkMode(l.Network),
			Tmpfs:       map[string]string{"/meta": "", "/data": ""},
		},
		NetworkingConfig: &network.NetworkingConfig{
			EndpointsConfig: map[string]*network.EndpointSettings{l.Network: {}},
		},
	}
}

func envHas(c *container.Config, kv string) bool {
	if c == nil {
		return false
	}
	for _, e := range c.Env {
		if e == kv {
			return true
		}
	}
	return false
}

type s3Creds struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// s3Credentials reads the lab's S3 credentials from dir, generating them
// the first time.
func s3Credentials(dir string) (s3Creds, error) {
	path := filepath.Join(dir, s3StateFile)
	var c s3Creds
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &c); err != nil || c.AccessKey == "" || c.SecretKey == "" {
			return c, fmt.Errorf("%s: unreadable credentials (remove it to generate new ones)", path)
		}
		return c, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return c, err
	}
	c = s3Creds{AccessKey: "shoal" + randomHex(6), SecretKey: randomHex(20)}
	b, _ := json.Marshal(c)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return c, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return c, fmt.Errorf("save s3 credentials: %w", err)
	}
	return c, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Client is an S3 client for the server.
func (s S3) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Secure: false,
		Region: s.Region,
	})
}

// EnsureBucket creates bucket unless it exists.
func (s S3) EnsureBucket(ctx context.Context, bucket string) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	ok, err := c.BucketExists(ctx, bucket)
	if err != nil {
		return fmt.Errorf("s3 %s: bucket %s: %w", s.Endpoint, bucket, err)
	}
	if ok {
		return nil
	}
	if err := c.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: s.Region}); err != nil {
		return fmt.Errorf("s3 %s: create bucket %s: %w", s.Endpoint, bucket, err)
	}
	return nil
}

// waitReady polls until the server answers an authenticated request.
func (s S3) waitReady(ctx context.Context, w Wait) error {
	c, err := s.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		_, last = c.ListBuckets(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		if err := sleep(ctx, w.Poll); err != nil {
			return fmt.Errorf("not answering: %w", last)
		}
	}
}
