package lab

import (
	"slices"
	"strings"
	"testing"

	"github.com/shoalops/shoal/bootstrap/host"
)

func TestRecipeTag(t *testing.T) {
	const mirror, sources = "http://deb.debian.org/debian", "deb http://deb.debian.org/debian bookworm main\n"
	docker := newRecipe(VariantDocker, mirror, sources)
	fresh := newRecipe(VariantFresh, mirror, sources)

	t.Run("the same recipe gives the same tag", func(t *testing.T) {
		if a, b := docker.Tag(), newRecipe(VariantDocker, mirror, sources).Tag(); a != b {
			t.Errorf("%s != %s", a, b)
		}
	})
	t.Run("tags name the variant and 10 hex digits of the hash", func(t *testing.T) {
		tag := docker.Tag()
		if !strings.HasPrefix(tag, "shoal-lab/vps:docker-") || len(tag) != len("shoal-lab/vps:docker-")+10 {
			t.Errorf("tag %q", tag)
		}
	})
	t.Run("only the docker variant installs docker.io", func(t *testing.T) {
		if !slices.Contains(docker.Packages, "docker.io") || slices.Contains(fresh.Packages, "docker.io") {
			t.Errorf("docker %v, fresh %v", docker.Packages, fresh.Packages)
		}
		for _, p := range []string{"openssh-server", "iproute2", "ca-certificates", "iptables", "procps", "tini", "curl", "gnupg"} {
			if !slices.Contains(fresh.Packages, p) {
				t.Errorf("fresh lacks %s", p)
			}
		}
	})
	changed := func(f func(r *recipe)) string {
		r := newRecipe(VariantDocker, mirror, sources)
		r.Files = slices.Clone(r.Files)
		r.Packages = slices.Clone(r.Packages)
		f(&r)
		return r.Tag()
	}
	for _, tc := range []struct {
		name   string
		change func(r *recipe)
	}{
		{"another package changes the tag", func(r *recipe) { r.Packages = append(r.Packages, "vim") }},
		{"another init script changes the tag", func(r *recipe) { r.Files[0].Content += "# more\n" }},
		{"another file mode changes the tag", func(r *recipe) { r.Files[0].Mode = 0o700 }},
		{"another mirror changes the tag", func(r *recipe) { r.Mirror = "http://mirror.example/debian" }},
		{"another image change changes the tag", func(r *recipe) { r.Changes = append(r.Changes, "EXPOSE 22") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if changed(tc.change) == docker.Tag() {
				t.Error("tag did not change")
			}
		})
	}
	t.Run("the debootstrap command line", func(t *testing.T) {
		got := strings.Join(fresh.DebootstrapArgs("/tmp/r"), " ")
		want := "debootstrap --variant=minbase --include=ca-certificates,curl,gnupg,iproute2,iptables,openssh-server,procps,tini bookworm /tmp/r http://deb.debian.org/debian"
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

func TestAptConfig(t *testing.T) {
	const deb822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
`
	for _, tc := range []struct {
		name        string
		cfg         aptConfig
		wantMirror  string
		wantSources string
	}{
		{
			name:       "debian.sources gives the mirror and every deb line for bookworm",
			cfg:        aptConfig{DebianSources: deb822, SourcesList: "deb http://other.example/debian bookworm main\n"},
			wantMirror: "http://deb.debian.org/debian",
			wantSources: "deb http://deb.debian.org/debian bookworm main\n" +
				"deb http://deb.debian.org/debian bookworm-updates main\n" +
				"deb http://deb.debian.org/debian-security bookworm-security main contrib\n",
		},
		{
			name:        "sources.list is the fallback, options in brackets dropped",
			cfg:         aptConfig{SourcesList: "# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main\ndeb-src http://x bookworm main\n"},
			wantMirror:  "http://mirror.example/debian",
			wantSources: "deb http://mirror.example/debian bookworm main\n",
		},
		{
			name:        "without either, deb.debian.org",
			cfg:         aptConfig{},
			wantMirror:  "http://deb.debian.org/debian",
			wantSources: "deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.cfg.mirror()
			if m != tc.wantMirror {
				t.Errorf("mirror %q, want %q", m, tc.wantMirror)
			}
			if s := tc.cfg.sourcesList(m); s != tc.wantSources {
				t.Errorf("sources\n%s\nwant\n%s", s, tc.wantSources)
			}
		})
	}
}

// The docker variant's engine is shoal's own install: its daemon.json
// already holds what bootstrap asks for, so a first bootstrap leaves no
// restart pending. The foreign and fresh variants keep the bare file.
func TestDockerVariantStartsWithBootstrapsDaemonConfig(t *testing.T) {
	for _, tt := range []struct {
		variant  Variant
		prepared bool
	}{{VariantDocker, true}, {VariantForeign, false}, {VariantFresh, false}} {
		var content string
		for _, f := range newRecipe(tt.variant, "http://mirror", "deb x y z\n").Files {
			if f.Path == "/etc/docker/daemon.json" {
				content = f.Content
			}
		}
		_, changed, err := host.MergeDaemonConfig(content)
		if err != nil {
			t.Fatalf("%s: %v", tt.variant, err)
		}
		if changed == tt.prepared {
			t.Errorf("%s: daemon.json %q: bootstrap would change it: %v, want %v", tt.variant, content, changed, !tt.prepared)
		}
		if !strings.Contains(content, `"storage-driver"`) {
			t.Errorf("%s: daemon.json %q lost the storage driver", tt.variant, content)
		}
	}
}
