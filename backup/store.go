package backup

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Location is where backups are kept: a local directory or a prefix of an
// S3-compatible bucket.
type Location struct {
	Dir string // a local directory ("" for S3)

	Bucket, Prefix string
	// Endpoint is host:port of the S3 API; Secure says https.
	Endpoint string
	Secure   bool
	Region   string
}

// String renders the location as a URL (no credentials: they come from
// the environment).
func (l Location) String() string {
	if l.Dir != "" {
		return l.Dir
	}
	u := "s3://" + l.Bucket
	if l.Prefix != "" {
		u += "/" + l.Prefix
	}
	return u
}

// Env is what ParseLocation reads from the environment (os.Getenv in the
// CLI; tests pass a map).
type Env func(string) string

// ParseLocation reads --to: a directory (a plain path or file://PATH) or
// s3://BUCKET[/PREFIX][?endpoint=URL&region=R]. The S3 endpoint is the
// endpoint query parameter, else $AWS_ENDPOINT_URL, else AWS; the region
// the region parameter, else $AWS_REGION, else us-east-1. Credentials are
// never in the URL: $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY.
func ParseLocation(s string, env Env) (Location, error) {
	if s == "" {
		return Location{}, errors.New("no backup location: pass --to DIR or --to s3://BUCKET/PREFIX")
	}
	if !strings.Contains(s, "://") {
		return Location{Dir: filepath.Clean(s)}, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return Location{}, fmt.Errorf("backup location %q: %w", s, err)
	}
	switch u.Scheme {
	case "file":
		p := u.Path
		if u.Host != "" {
			p = u.Host + p // file://relative/dir
		}
		if p == "" {
			return Location{}, fmt.Errorf("backup location %q names no directory", s)
		}
		return Location{Dir: filepath.Clean(p)}, nil
	case "s3":
	default:
		return Location{}, fmt.Errorf("backup location %q: scheme %q: want a directory, file://DIR or s3://BUCKET/PREFIX", s, u.Scheme)
	}
	if u.User != nil {
		return Location{}, fmt.Errorf("backup location %q: credentials do not belong in the URL (they would show in process lists and logs): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", u.Redacted())
	}
	if u.Host == "" {
		return Location{}, fmt.Errorf("backup location %q names no bucket", s)
	}
	l := Location{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	q := u.Query()
	for k := range q {
		if k != "endpoint" && k != "region" {
			return Location{}, fmt.Errorf("backup location %q: unknown parameter %q (known: endpoint, region)", s, k)
		}
	}
	ep := cmp.Or(q.Get("endpoint"), env("AWS_ENDPOINT_URL"), "https://s3.amazonaws.com")
	eu, err := url.Parse(ep)
	if err != nil || eu.Host == "" || (eu.Scheme != "http" && eu.Scheme != "https") {
		return Location{}, fmt.Errorf("backup location %q: endpoint %q: want http(s)://HOST[:PORT]", s, ep)
	}
	l.Endpoint, l.Secure = eu.Host, eu.Scheme == "https"
	l.Region = cmp.Or(q.Get("region"), env("AWS_REGION"), "us-east-1")
	return l, nil
}

// SplitObject reads a backup's address (verify, restore): a file path,
// file://PATH or s3://BUCKET/KEY[?...]; it returns the location and the
// object's name in it.
func SplitObject(s string, env Env) (Location, string, error) {
	if !strings.HasPrefix(s, "s3://") {
		l, err := ParseLocation(s, env)
		if err != nil {
			return l, "", err
		}
		return Location{Dir: filepath.Dir(l.Dir)}, filepath.Base(l.Dir), nil
	}
	l, err := ParseLocation(s, env)
	if err != nil {
		return l, "", err
	}
	if l.Prefix == "" {
		return l, "", fmt.Errorf("backup %q names a bucket, not an object: s3://BUCKET/KEY", s)
	}
	dir, name := path.Split(l.Prefix)
	l.Prefix = strings.Trim(dir, "/")
	return l, name, nil
}

// Store keeps backups; Put never overwrites one. List names the objects
// directly in the location (not below it); Delete removes one, and one
// already gone is no error.
type Store interface {
	Put(ctx context.Context, name string, b []byte) (string, error)
	Get(ctx context.Context, name string) ([]byte, error)
	List(ctx context.Context) ([]string, error)
	Delete(ctx context.Context, name string) error
}

var (
	_ Store = dirStore{}
	_ Store = s3Store{}
)

// Open opens the store at l; S3 credentials come from env.
func (l Location) Open(env Env) (Store, error) {
	if l.Dir != "" {
		return dirStore{dir: l.Dir}, nil
	}
	id, secret := env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return nil, fmt.Errorf("%s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the S3 endpoint %s", l, l.Endpoint)
	}
	c, err := minio.New(l.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(id, secret, env("AWS_SESSION_TOKEN")), Secure: l.Secure, Region: l.Region})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l, err)
	}
	return s3Store{c: c, l: l}, nil
}

type dirStore struct{ dir string }

func (d dirStore) Put(_ context.Context, name string, b []byte) (string, error) {
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return "", fmt.Errorf("backup directory %s: %w", d.dir, err)
	}
	p := filepath.Join(d.dir, name)
	if _, err := os.Stat(p); err == nil {
		return "", fmt.Errorf("%s exists: a backup is never overwritten", p)
	}
	tmp := p + ".part"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("write %s: %w", p, err)
	}
	return p, nil
}

func (d dirStore) Get(_ context.Context, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(d.dir, name))
	if err != nil {
		return nil, fmt.Errorf("read the backup: %w", err)
	}
	return b, nil
}

func (d dirStore) List(_ context.Context) ([]string, error) {
	es, err := os.ReadDir(d.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backup directory %s: %w", d.dir, err)
	}
	var out []string
	for _, e := range es {
		if e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (d dirStore) Delete(_ context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(d.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", filepath.Join(d.dir, name), err)
	}
	return nil
}

// checkName refuses a name that is not one object of the location.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("backup name %q: not the name of one backup", name)
	}
	return nil
}

type s3Store struct {
	c *minio.Client
	l Location
}

func (s s3Store) key(name string) string {
	if s.l.Prefix == "" {
		return name
	}
	return s.l.Prefix + "/" + name
}

func (s s3Store) Put(ctx context.Context, name string, b []byte) (string, error) {
	key := s.key(name)
	if _, err := s.c.StatObject(ctx, s.l.Bucket, key, minio.StatObjectOptions{}); err == nil {
		return "", fmt.Errorf("s3://%s/%s exists: a backup is never overwritten", s.l.Bucket, key)
	}
	if _, err := s.c.PutObject(ctx, s.l.Bucket, key, bytes.NewReader(b), int64(len(b)), minio.PutObjectOptions{ContentType: "application/octet-stream"}); err != nil {
		return "", fmt.Errorf("upload s3://%s/%s to %s: %w", s.l.Bucket, key, s.l.Endpoint, err)
	}
	return "s3://" + s.l.Bucket + "/" + key, nil
}

func (s s3Store) Get(ctx context.Context, name string) ([]byte, error) {
	key := s.key(name)
	o, err := s.c.GetObject(ctx, s.l.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("download s3://%s/%s from %s: %w", s.l.Bucket, key, s.l.Endpoint, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		return nil, fmt.Errorf("download s3://%s/%s from %s: %w", s.l.Bucket, key, s.l.Endpoint, err)
	}
	return b, nil
}

func (s s3Store) List(ctx context.Context) ([]string, error) {
	prefix := ""
	if s.l.Prefix != "" {
		prefix = s.l.Prefix + "/"
	}
	var out []string
	for o := range s.c.ListObjects(ctx, s.l.Bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list s3://%s/%s at %s: %w", s.l.Bucket, prefix, s.l.Endpoint, o.Err)
		}
		name := strings.TrimPrefix(o.Key, prefix)
		if name == "" || strings.Contains(name, "/") {
			continue // a "directory" below the prefix
		}
		out = append(out, name)
	}
	return out, nil
}

func (s s3Store) Delete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	key := s.key(name)
	if err := s.c.RemoveObject(ctx, s.l.Bucket, key, minio.RemoveObjectOptions{}); err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil
		}
		return fmt.Errorf("delete s3://%s/%s at %s: %w", s.l.Bucket, key, s.l.Endpoint, err)
	}
	return nil
}
