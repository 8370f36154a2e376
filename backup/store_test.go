package backup

import (
	"context"
	"strings"
	"testing"
)

func TestParseLocationReadsDirectoriesAndBuckets(t *testing.T) {
	env := func(m map[string]string) Env { return func(k string) string { return m[k] } }
	none := env(nil)
	tests := []struct {
		name, in string
		env      Env
		want     Location
		wantErr  string
	}{
		{name: "a plain path is a directory", in: "backups/", env: none, want: Location{Dir: "backups"}},
		{name: "file:// is a directory", in: "file:///var/backups/shoal", env: none, want: Location{Dir: "/var/backups/shoal"}},
		{name: "s3 with the endpoint in the URL", in: "s3://bk/prod/daily?endpoint=http://10.0.0.5:7070&region=eu-1", env: none,
			want: Location{Bucket: "bk", Prefix: "prod/daily", Endpoint: "10.0.0.5:7070", Region: "eu-1"}},
		{name: "s3 with the endpoint from the environment", in: "s3://bk", env: env(map[string]string{"AWS_ENDPOINT_URL": "https://s3.example.net", "AWS_REGION": "fr-par"}),
			want: Location{Bucket: "bk", Endpoint: "s3.example.net", Secure: true, Region: "fr-par"}},
		{name: "s3 defaults to AWS", in: "s3://bk/p", env: none, want: Location{Bucket: "bk", Prefix: "p", Endpoint: "s3.amazonaws.com", Secure: true, Region: "us-east-1"}},
		{name: "credentials in the URL are refused", in: "s3://key:secret@bk/p", env: none, wantErr: "do not belong in the URL"},
		{name: "an unknown parameter is refused", in: "s3://bk?endpint=x", env: none, wantErr: `unknown parameter "endpint"`},
		{name: "another scheme is refused", in: "gs://bk", env: none, wantErr: `scheme "gs"`},
		{name: "nothing is refused", in: "", env: none, wantErr: "--to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLocation(tt.in, tt.env)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") && tt.in == "s3://key:secret@bk/p" {
					t.Errorf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestSplitObjectAndDirStore(t *testing.T) {
	l, name, err := SplitObject("s3://bk/prod/x.age?endpoint=http://h:1", func(string) string { return "" })
	if err != nil || l.Bucket != "bk" || l.Prefix != "prod" || name != "x.age" {
		t.Errorf("split s3 = %+v %q %v", l, name, err)
	}
	dir := t.TempDir()
	st, err := Location{Dir: dir}.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Put(context.Background(), "a.age", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(context.Background(), "a.age", []byte("y")); err == nil || !strings.Contains(err.Error(), "never overwritten") {
		t.Errorf("a second put of a.age: %v", err)
	}
	l, name, err = SplitObject(p, nil)
	if err != nil || l.Dir != dir || name != "a.age" {
		t.Errorf("split %s = %+v %q %v", p, l, name, err)
	}
	st2, _ := l.Open(nil)
	if b, err := st2.Get(context.Background(), name); err != nil || string(b) != "x" {
		t.Errorf("get = %q %v", b, err)
	}
}

func TestDirStoreListsAndDeletes(t *testing.T) {
	ctx := context.Background()
	missing, _ := Location{Dir: t.TempDir() + "/none"}.Open(nil)
	if names, err := missing.List(ctx); err != nil || len(names) != 0 {
		t.Errorf("list of a missing directory = %v, %v; want nothing", names, err)
	}
	st, _ := Location{Dir: t.TempDir()}.Open(nil)
	for _, n := range []string{"a.age", "b.age"} {
		if _, err := st.Put(ctx, n, []byte(n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete(ctx, "a.age"); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, "a.age"); err != nil {
		t.Errorf("deleting one already gone: %v", err)
	}
	if err := st.Delete(ctx, "../b.age"); err == nil {
		t.Errorf("a name with a path was deleted")
	}
	names, err := st.List(ctx)
	if err != nil || strings.Join(names, ",") != "b.age" {
		t.Errorf("list = %v, %v; want b.age", names, err)
	}
}
