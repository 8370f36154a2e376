package node

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Protocols of firewall rules, lower case as hcloud and vultr spell them.
const (
	TCP = "tcp"
	UDP = "udp"
	ESP = "esp"
)

// Rule lets one kind of inbound traffic in: from the CIDRs in Public, or,
// when Peers is set, from the cluster's other nodes (Firewall.Peers).
type Rule struct {
	Protocol string
	Port     int      // 0 for ESP
	Public   []string // source CIDRs, for public rules
	Peers    bool     // from the peers' addresses only
	Why      string   // description for the hoster's console
}

// PortString is the rule's port as hcloud and vultr take it, "" for ESP.
func (r Rule) PortString() string {
	if r.Port == 0 {
		return ""
	}
	return strconv.Itoa(r.Port)
}

// Name is the part of a resource name that identifies the rule:
// "tcp-2377", "esp".
func (r Rule) Name() string {
	if r.Port == 0 {
		return r.Protocol
	}
	return r.Protocol + "-" + strconv.Itoa(r.Port)
}

// Peer is another node a hoster's firewall lets in.
type Peer struct {
	Name string              // node name
	CIDR pulumi.StringOutput // its address as a one-host CIDR
}

// Firewall is what a hoster applies in front of its servers.
type Firewall struct {
	Rules   []Rule
	Peers   []Peer   // empty: the peer rules are left out
	Servers []Server // the servers of this hoster it protects
}

// HostCIDR turns an address into a one-host CIDR: "203.0.113.7/32",
// "2001:db8::1/128". Anything that is no IP address is returned as is (the
// hoster will refuse it, naming it).
func HostCIDR(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	return netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()).String()
}

// SplitCIDR splits a CIDR into address and prefix length, and names its
// family ("v4" or "v6") as vultr wants them. ok is false for anything that
// is no CIDR.
func SplitCIDR(cidr string) (addr string, bits int, family string, ok bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", 0, "", false
	}
	family = "v4"
	if p.Addr().Is6() {
		family = "v6"
	}
	return p.Addr().String(), p.Bits(), family, true
}

// SourceName turns a CIDR into a part of a resource name:
// "0.0.0.0/0" -> "0-0-0-0-0", "::/0" -> "v6-0".
func SourceName(cidr string) string {
	addr, bits, family, ok := SplitCIDR(cidr)
	if !ok {
		addr, bits, family = cidr, 0, ""
	}
	s := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(addr)+"-"+strconv.Itoa(bits))
	s = strings.Trim(s, "-")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	if family == "v6" {
		s = "v6-" + s
	}
	return s
}
