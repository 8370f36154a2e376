package images

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseLdd(t *testing.T) {
	for _, c := range []struct {
		name, out string
		want      []string
	}{
		{"a static binary needs nothing", "\tnot a dynamic executable\n", nil},
		{"a static-pie binary needs nothing", "\tstatically linked\n", nil},
		{"a cgo binary needs libc and the loader, not the vDSO", "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\tlibresolv.so.2 => /lib/x86_64-linux-gnu/libresolv.so.2 (0x7f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n",
			[]string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib/x86_64-linux-gnu/libresolv.so.2", "/lib64/ld-linux-x86-64.so.2"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := ParseLdd(c.out); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestHealDockerfile(t *testing.T) {
	df := HealDockerfile(map[string]string{HealShoalPath: "f0", HealPulumiPath: "f1", "/lib64/ld-linux-x86-64.so.2": "f2"})
	for _, want := range []string{"FROM scratch\n", "COPY f0 /shoal\n", "COPY f1 /pulumi/bin/pulumi\n", "COPY f2 /lib64/ld-linux-x86-64.so.2\n", "COPY passwd /etc/passwd\n", `ENTRYPOINT ["/shoal"]`} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q:\n%s", want, df)
		}
	}
	if strings.Index(df, "FROM") != 0 || strings.Count(df, "FROM") != 1 {
		t.Errorf("not a single FROM scratch stage:\n%s", df)
	}
}
