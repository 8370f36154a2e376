package inventory

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// FieldError is one problem of an inventory: where it is (file, line,
// node, YAML path of the field) and what is wrong. Parse and Validate
// return all their problems as *FieldError values joined with errors.Join;
// FieldErrors takes them apart again.
type FieldError struct {
	File  string // inventory file; "" when built in code
	Line  int    // 1-based line; 0 when unknown
	Node  string // node name; "" for cluster-wide problems
	Field string // YAML path: "nodes[2].role", "cluster.data_path_port", "ssh.port"
	Msg   string
}

// Error renders the problem as
// `inventory.yaml:12: node "m2": field "nodes[1].role": must be ...`,
// leaving out the parts that are empty.
func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Node != "" {
		fmt.Fprintf(&b, "node %q: ", e.Node)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %q: ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// FieldErrors returns every *FieldError in err's tree, in order: the
// problems of a joined error from Parse or Validate.
func FieldErrors(err error) []*FieldError { return ErrorsOf[*FieldError](err) }

// ErrorsOf returns every error of type T in err's tree (joined and wrapped
// errors included), in order, without descending into a match. Validation
// that reports all problems at once (here and in infra's config checks)
// hands them back this way.
func ErrorsOf[T error](err error) []T {
	var out []T
	var walk func(error)
	walk = func(err error) {
		if t, ok := err.(T); ok {
			out = append(out, t)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// Limits the validation enforces.
const (
	maxLabelLen      = 63
	minDataPathPort  = 1024 // docker refuses data path ports outside 1024..49151
	maxDataPathPort  = 49151
	minOverlayMTU    = 1280 // the IPv6 minimum
	maxOverlayMTU    = 9000 // jumbo frames
	maxInterfaceLen  = 15   // IFNAMSIZ-1 on Linux
	maxFastManagers  = 7
	maxHostnameLen   = 253
	managerCountPath = "nodes[].role"
	hosterPath       = "nodes[].hoster"
)

// Validate checks the whole inventory and returns every problem, never
// only the first: err joins one *FieldError per problem (nil when there
// is none). Warnings are layouts shoal accepts but advises against, such
// as a single manager. Empty fields that have defaults are checked with
// their defaults. Validate is pure: it touches no host and no file.
func (inv *Inventory) Validate() (warnings []string, err error) {
	if inv == nil {
		return nil, &FieldError{Msg: "no inventory"}
	}
	v := &validator{inv: inv, eff: *inv}
	v.eff.SetDefaults()
	v.cluster()
	v.ssh()
	v.nodes()
	v.managers()
	return v.warnings, errors.Join(v.errs...)
}

type validator struct {
	inv      *Inventory
	eff      Inventory // inv with defaults filled in
	errs     []error
	warnings []string
}

// fail records a problem of a cluster or ssh field.
func (v *validator) fail(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{File: v.inv.Path, Line: v.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// failNode records a problem of field (e.g. "role") of the i-th node.
// at is the path the line is looked up under when it differs from the
// field (a label key below "labels").
func (v *validator) failNode(i int, field, at, format string, args ...any) {
	n := v.inv.Nodes[i]
	path := nodePath(i) + "." + field
	if at == "" {
		at = path
	}
	line := n.Line
	// The recorded lines follow node positions in the file; use them only
	// while the node still sits at the position it was read from.
	if l, ok := v.inv.lines[nodePath(i)]; ok && l == n.Line {
		line = v.line(at)
	}
	v.errs = append(v.errs, &FieldError{File: v.inv.Path, Line: line, Node: n.Name, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line path was read from, or that of its closest
// parent; 0 when unknown.
func (v *validator) line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := v.inv.lines[p]; ok {
			return l
		}
	}
	return 0
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func (v *validator) cluster() {
	c := v.eff.Cluster
	if msg := labelProblem(c.Name); msg != "" {
		v.fail("cluster.name", "%s", msg)
	}
	if c.DataPathPort < minDataPathPort || c.DataPathPort > maxDataPathPort {
		v.fail("cluster.data_path_port", "must be between %d and %d (docker's rule for the data path port), got %d", minDataPathPort, maxDataPathPort, c.DataPathPort)
	}
	if c.OverlayMTU != 0 && (c.OverlayMTU < minOverlayMTU || c.OverlayMTU > maxOverlayMTU) {
		v.fail("cluster.overlay_mtu", "must be 0 (auto) or between %d and %d, got %d", minOverlayMTU, maxOverlayMTU, c.OverlayMTU)
	}
	if ifc := c.AdvertiseInterface; ifc != "" {
		if _, err := netip.ParseAddr(ifc); err == nil {
			v.fail("cluster.advertise_interface", "must be a network interface name such as eth1, got the address %q; set addresses with a node's advertise_address", ifc)
		} else if len(ifc) > maxInterfaceLen || strings.ContainsAny(ifc, " \t\r\n/") {
			v.fail("cluster.advertise_interface", "must be a network interface name such as eth1 (at most %d characters, no spaces or '/'), got %q", maxInterfaceLen, ifc)
		}
	}
}

func (v *validator) ssh() {
	s := v.eff.SSH
	if s.Port < 1 || s.Port > 65535 {
		v.fail("ssh.port", "must be between 1 and 65535, got %d", s.Port)
	}
	if msg := userProblem(s.User); msg != "" {
		v.fail("ssh.user", "%s", msg)
	}
}

func (v *validator) nodes() {
	if len(v.inv.Nodes) == 0 {
		v.fail("nodes", "no nodes: list at least one manager")
		return
	}
	names := map[string]int{}
	endpoints := map[string]int{}
	advertised := map[string]int{}
	for i, n := range v.inv.Nodes {
		switch {
		case n.Name == "":
			v.failNode(i, "name", "", "is required")
		case labelProblem(n.Name) != "":
			v.failNode(i, "name", "", "%s", labelProblem(n.Name))
		}
		if j, dup := names[n.Name]; dup && n.Name != "" {
			v.failNode(i, "name", "", "is also used by %s", v.where(j))
		} else {
			names[n.Name] = i
		}

		if n.Address == "" {
			v.failNode(i, "address", "", "is required: the IP address or host name SSH reaches")
		} else if msg := hostProblem(n.Address); msg != "" {
			v.failNode(i, "address", "", "%s", msg)
		} else {
			port := v.inv.PortFor(n)
			key := canonicalHost(n.Address) + " " + strconv.Itoa(port)
			if j, dup := endpoints[key]; dup {
				v.failNode(i, "address", "", "%s port %d is also used by %s: each node needs its own host or ssh port", n.Address, port, v.where(j))
			} else {
				endpoints[key] = i
			}
		}

		if n.Port != 0 && (n.Port < 1 || n.Port > 65535) {
			v.failNode(i, "port", "", "must be between 1 and 65535, got %d", n.Port)
		}
		if n.User != "" {
			if msg := userProblem(n.User); msg != "" {
				v.failNode(i, "user", "", "%s", msg)
			}
		}

		switch n.Role {
		case RoleManager, RoleWorker:
		case "":
			v.failNode(i, "role", "", "is required: %q or %q", RoleManager, RoleWorker)
		default:
			v.failNode(i, "role", "", "must be %q or %q, got %q", RoleManager, RoleWorker, n.Role)
		}

		if n.Hoster == "" {
			v.failNode(i, "hoster", "", "is required: the provider or site the node runs at, such as hcloud")
		} else if msg := labelProblem(n.Hoster); msg != "" {
			v.failNode(i, "hoster", "", "%s", msg)
		}
		if n.Region != "" {
			if msg := labelValueProblem(n.Region); msg != "" {
				v.failNode(i, "region", "", "%s", msg)
			}
		}

		if a := n.AdvertiseAddress; a != "" {
			if ip, err := netip.ParseAddr(a); err != nil {
				v.failNode(i, "advertise_address", "", "must be an IP address, got %q", a)
			} else if j, dup := advertised[ip.Unmap().String()]; dup {
				v.failNode(i, "advertise_address", "", "%s is also advertised by %s: swarm nodes need distinct addresses", a, v.where(j))
			} else {
				advertised[ip.Unmap().String()] = i
			}
		}

		v.labels(i, n)
	}
}

func (v *validator) labels(i int, n Node) {
	keys := make([]string, 0, len(n.Labels))
	for k := range n.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		at := nodePath(i) + ".labels." + k
		switch {
		case k == "":
			v.failNode(i, "labels", at, "label keys must not be empty")
		case strings.ContainsAny(k, " \t\r\n="):
			v.failNode(i, "labels", at, "label key %q must not contain spaces or '='", k)
		case strings.HasPrefix(k, ReservedLabelPrefix):
			v.failNode(i, "labels", at, "label key %q is reserved: shoal sets %s and %s itself", k, LabelHoster, LabelRegion)
		}
		val := n.Labels[k]
		switch {
		case val == "":
			v.failNode(i, "labels", at, "label %q has an empty value", k)
		case strings.ContainsAny(val, " \t\r\n="):
			v.failNode(i, "labels", at, "label %q: value %q must not contain spaces or '='", k, val)
		}
	}
}

// where names the j-th node for "also used by" messages.
func (v *validator) where(j int) string {
	n := v.inv.Nodes[j]
	s := nodePath(j)
	if n.Name != "" {
		s = fmt.Sprintf("node %q", n.Name)
	}
	if n.Line > 0 {
		s += fmt.Sprintf(" (line %d)", n.Line)
	}
	return s
}

// managers checks the manager count and that no hoster's outage alone
// loses quorum (CheckManagers), pointing each problem at the lines of the
// file.
func (v *validator) managers() {
	if len(v.inv.Nodes) == 0 {
		return // reported as "no nodes"
	}
	managers := v.inv.Managers()
	layout := ManagerLayout{AllowSingleHosterQuorum: v.inv.Cluster.AllowSingleHosterQuorum, AllowKey: "cluster.allow_single_hoster_quorum"}
	firstLine := map[string]int{}
	for _, n := range managers {
		layout.Hosters = append(layout.Hosters, n.Hoster)
		if _, ok := firstLine[n.Hoster]; !ok {
			firstLine[n.Hoster] = n.Line
		}
	}
	warnings, problems := CheckManagers(layout)
	v.warnings = append(v.warnings, warnings...)
	for _, p := range problems {
		if p.Hoster == "" {
			v.fail(managerCountPath, "%s", p.Msg)
			continue
		}
		v.errs = append(v.errs, &FieldError{File: v.inv.Path, Line: firstLine[p.Hoster], Field: hosterPath, Msg: p.Msg})
	}
}

// labelProblem checks a DNS-label-like name (node, hoster, cluster): "" if
// fine, else what is wrong.
func labelProblem(s string) string {
	switch {
	case s == "":
		return "must not be empty"
	case len(s) > maxLabelLen:
		return fmt.Sprintf("must be at most %d characters, got %d", maxLabelLen, len(s))
	case s[0] < 'a' || s[0] > 'z':
		return fmt.Sprintf("must start with a lowercase letter, got %q", s)
	case strings.IndexFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) >= 0:
		return fmt.Sprintf("may only contain lowercase letters, digits and '-', got %q", s)
	case strings.HasSuffix(s, "-"):
		return fmt.Sprintf("must not end with '-', got %q", s)
	}
	return ""
}

// labelValueProblem checks a value that ends up in a node label.
func labelValueProblem(s string) string {
	if strings.ContainsAny(s, " \t\r\n=") {
		return fmt.Sprintf("must not contain spaces or '=', got %q", s)
	}
	return ""
}

// userProblem checks an SSH user name.
func userProblem(u string) string {
	switch {
	case strings.TrimSpace(u) == "":
		return "must not be empty"
	case strings.ContainsAny(u, " \t\r\n"):
		return fmt.Sprintf("must not contain spaces, got %q", u)
	case strings.HasPrefix(u, "-"):
		return fmt.Sprintf("must not start with '-', got %q", u)
	case strings.ContainsAny(u, "@:"):
		return fmt.Sprintf("must be a plain user name without '@' or ':', got %q", u)
	}
	return ""
}

// hostProblem checks a node address: an IP address or a host name, with no
// user or port.
func hostProblem(a string) string {
	if strings.ContainsAny(a, " \t\r\n") {
		return fmt.Sprintf("must not contain spaces, got %q", a)
	}
	if strings.Contains(a, "@") {
		return fmt.Sprintf("must be an IP address or host name, got %q; set the user with user", a)
	}
	if _, err := netip.ParseAddr(a); err == nil {
		return ""
	}
	if strings.Contains(a, ":") {
		return fmt.Sprintf("must be an IP address or host name without a port, got %q; set the port with port", a)
	}
	host := strings.TrimSuffix(a, ".")
	bad := len(host) == 0 || len(host) > maxHostnameLen
	for _, part := range strings.Split(host, ".") {
		if bad {
			break
		}
		bad = len(part) == 0 || len(part) > maxLabelLen || strings.HasPrefix(part, "-") || strings.HasSuffix(part, "-") ||
			strings.IndexFunc(part, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
			}) >= 0
	}
	if bad {
		return fmt.Sprintf("must be an IP address or host name, got %q", a)
	}
	return ""
}

// canonicalHost returns the form of an address two nodes are compared by.
func canonicalHost(a string) string {
	if ip, err := netip.ParseAddr(a); err == nil {
		return ip.Unmap().String()
	}
	return strings.ToLower(strings.TrimSuffix(a, "."))
}
