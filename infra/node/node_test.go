package node

import (
	"strings"
	"testing"
)

func TestHostCIDR(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"an ipv4 address becomes a /32", "203.0.113.7", "203.0.113.7/32"},
		{"an ipv6 address becomes a /128", "2001:db8::1", "2001:db8::1/128"},
		{"an ipv4-mapped ipv6 address becomes the ipv4 /32", "::ffff:10.0.0.1", "10.0.0.1/32"},
		{"a host name is returned as is", "m1.example.com", "m1.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := HostCIDR(tt.in); got != tt.want {
				t.Errorf("HostCIDR(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplitCIDR(t *testing.T) {
	tests := []struct {
		name, in string
		addr     string
		bits     int
		family   string
		ok       bool
	}{
		{"the ipv4 world is v4 0.0.0.0 size 0", "0.0.0.0/0", "0.0.0.0", 0, "v4", true},
		{"the ipv6 world is v6 :: size 0", "::/0", "::", 0, "v6", true},
		{"a host is size 32", "198.51.100.7/32", "198.51.100.7", 32, "v4", true},
		{"a bare address is no CIDR", "198.51.100.7", "", 0, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, bits, family, ok := SplitCIDR(tt.in)
			if addr != tt.addr || bits != tt.bits || family != tt.family || ok != tt.ok {
				t.Errorf("SplitCIDR(%q) = %q %d %q %v, want %q %d %q %v", tt.in, addr, bits, family, ok, tt.addr, tt.bits, tt.family, tt.ok)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct{ name, got, want string }{
		{"a tcp rule is named by protocol and port", Rule{Protocol: TCP, Port: 2377}.Name(), "tcp-2377"},
		{"an esp rule is named by its protocol", Rule{Protocol: ESP}.Name(), "esp"},
		{"an esp rule has no port", Rule{Protocol: ESP}.PortString(), ""},
		{"the ipv4 world makes a name", SourceName("0.0.0.0/0"), "0-0-0-0-0"},
		{"the ipv6 world makes a distinct name", SourceName("::/0"), "v6-0"},
		{"an ipv6 network keeps its digits", SourceName("2001:db8::/32"), "v6-2001-db8-32"},
		{"a hoster component is cluster dash hoster", Hoster{Cluster: "acme", Name: "hetzner"}.ResourceName(), "acme-hetzner"},
		{"a node component is cluster dash node", Spec{Cluster: "acme", Name: "hz-1"}.ResourceName(), "acme-hz-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestCloudInitTurnsPasswordsOffAndCreatesNothingElse(t *testing.T) {
	got := CloudInit(Spec{Cluster: "acme", Name: "hz-1", Role: RoleManager})
	for _, want := range []string{"#cloud-config\n", "ssh_pwauth: false\n", "PasswordAuthentication no", "disable_root: false\n", "node hz-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("cloud-init lacks %q:\n%s", want, got)
		}
	}
	for _, never := range []string{"packages:", "docker", "users:", "ssh_authorized_keys"} {
		if strings.Contains(got, never) {
			t.Errorf("cloud-init does bootstrap's or the key resource's work (%q):\n%s", never, got)
		}
	}
	if !strings.HasPrefix(got, "#cloud-config\n") {
		t.Errorf("cloud-init must start with #cloud-config:\n%s", got)
	}
}
