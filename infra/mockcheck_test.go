package infra

import (
	"errors"
	"fmt"
	"go/ast"
	goparser "go/parser"
	"go/token"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	vultr "github.com/dirien/pulumi-vultr/sdk/v2/go/vultr"
	"github.com/pulumi/pulumi-hcloud/sdk/go/hcloud"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	scaleway "github.com/pulumiverse/pulumi-scaleway/sdk/go/scaleway"
	"github.com/pulumiverse/pulumi-scaleway/sdk/go/scaleway/iam"
	"github.com/pulumiverse/pulumi-scaleway/sdk/go/scaleway/instance"
)

// elementTyper is what every args type of a Pulumi SDK has: the plain
// struct its inputs resolve to, with the property names as `pulumi` tags.
type elementTyper interface{ ElementType() reflect.Type }

// hosterArgs maps the type token of every hoster resource shoal registers
// to the args type of the provider's own SDK: the argument check reads
// property names, Go types and required fields from it.
var hosterArgs = map[string]elementTyper{
	"pulumi:providers:hcloud":                                 hcloud.ProviderArgs{},
	"hcloud:index/server:Server":                              hcloud.ServerArgs{},
	"hcloud:index/sshKey:SshKey":                              hcloud.SshKeyArgs{},
	"hcloud:index/placementGroup:PlacementGroup":              hcloud.PlacementGroupArgs{},
	"hcloud:index/firewall:Firewall":                          hcloud.FirewallArgs{},
	"hcloud:index/firewallAttachment:FirewallAttachment":      hcloud.FirewallAttachmentArgs{},
	"pulumi:providers:vultr":                                  vultr.ProviderArgs{},
	"vultr:index/sSHKey:SSHKey":                               vultr.SSHKeyArgs{},
	"vultr:index/firewallGroup:FirewallGroup":                 vultr.FirewallGroupArgs{},
	"vultr:index/firewallRule:FirewallRule":                   vultr.FirewallRuleArgs{},
	"vultr:index/instance:Instance":                           vultr.InstanceArgs{},
	"pulumi:providers:scaleway":                               scaleway.ProviderArgs{},
	"scaleway:iam/sshKey:SshKey":                              iam.SshKeyArgs{},
	"scaleway:instance/placementGroup:PlacementGroup":         instance.PlacementGroupArgs{},
	"scaleway:instance/securityGroup:SecurityGroup":           instance.SecurityGroupArgs{},
	"scaleway:instance/securityGroupRules:SecurityGroupRules": instance.SecurityGroupRulesArgs{},
	"scaleway:instance/ip:Ip":                                 instance.IpArgs{},
	"scaleway:instance/server:Server":                         instance.ServerArgs{},
}

// hosterRequired lists top-level arguments each resource needs (the SDKs
// check only some of them; the APIs refuse the rest at apply time).
var hosterRequired = map[string][]string{
	"hcloud:index/server:Server":                              {"name", "serverType", "image", "location"},
	"hcloud:index/sshKey:SshKey":                              {"name", "publicKey"},
	"hcloud:index/placementGroup:PlacementGroup":              {"name", "type"},
	"hcloud:index/firewall:Firewall":                          {"name"},
	"vultr:index/sSHKey:SSHKey":                               {"name", "sshKey"},
	"vultr:index/instance:Instance":                           {"plan", "region", "osId"},
	"vultr:index/firewallRule:FirewallRule":                   {"firewallGroupId", "protocol", "ipType", "subnet", "subnetSize"},
	"scaleway:iam/sshKey:SshKey":                              {"name", "publicKey"},
	"scaleway:instance/server:Server":                         {"type", "image", "zone"},
	"scaleway:instance/securityGroupRules:SecurityGroupRules": {"securityGroupId"},
}

// hosterEnums are the values the APIs accept, by type token and property
// path ("rules[].protocol"), as the SDKs' documentation lists them.
var hosterEnums = map[string]map[string][]string{
	"hcloud:index/firewall:Firewall": {
		"rules[].direction": {"in", "out"},
		"rules[].protocol":  {"tcp", "udp", "icmp", "gre", "esp"},
	},
	"hcloud:index/placementGroup:PlacementGroup": {"type": {"spread"}},
	"vultr:index/firewallRule:FirewallRule": {
		"protocol": {"icmp", "tcp", "udp", "gre", "esp", "ah"},
		"ipType":   {"v4", "v6"},
	},
	"vultr:index/instance:Instance":                   {"backups": {"enabled", "disabled"}},
	"scaleway:instance/placementGroup:PlacementGroup": {"policyType": {"max_availability", "low_latency"}},
	"scaleway:instance/securityGroup:SecurityGroup": {
		"inboundDefaultPolicy":  {"accept", "drop"},
		"outboundDefaultPolicy": {"accept", "drop"},
	},
	"scaleway:instance/securityGroupRules:SecurityGroupRules": {
		"inboundRules[].action":   {"accept", "drop"},
		"inboundRules[].protocol": {"TCP", "UDP", "ICMP", "ANY"},
	},
	"scaleway:instance/ip:Ip": {"type": {"routed_ipv4", "routed_ipv6", "nat"}},
}

// checkArgs checks the inputs of a registration against the provider's
// SDK and API: known property names only, the Go type of each (an id
// string where an integer id belongs fails), nested required fields,
// required top-level arguments, enum values, deprecated arguments, and
// rules the APIs add (hcloud: a port exactly on tcp and udp rules; one
// target per applyTo). Resources of shoal's own provider are checked
// against its GetSchema (checkOwnArgs); components pass.
func checkArgs(typ string, inputs resource.PropertyMap) error {
	if strings.HasPrefix(typ, "shoal:") && !strings.HasPrefix(typ, "shoal:infra:") {
		return checkOwnArgs(typ, inputs) // shoal's own provider: its GetSchema
	}
	et, ok := hosterArgs[typ]
	if !ok {
		if strings.HasPrefix(typ, "hcloud:") || strings.HasPrefix(typ, "vultr:") || strings.HasPrefix(typ, "scaleway:") {
			return fmt.Errorf("%s: no argument check for this type; add it to hosterArgs", typ)
		}
		return nil
	}
	c := &argChecker{typ: typ, enums: hosterEnums[typ]}
	st := et.ElementType()
	props := resource.NewObjectProperty(inputs.Copy())
	if strings.HasPrefix(typ, "pulumi:providers:") {
		delete(props.ObjectValue(), "version") // the SDK adds the plugin version to a provider's inputs
	}
	c.value("", props, st)
	for _, k := range hosterRequired[typ] {
		if v, ok := inputs[resource.PropertyKey(k)]; !ok || v.IsNull() {
			c.errf(k, "is required")
		}
	}
	for _, k := range deprecated(typ, st) {
		if _, ok := inputs[resource.PropertyKey(k)]; ok {
			c.errf(k, "is deprecated in the SDK")
		}
	}
	c.apiRules(inputs)
	return errors.Join(c.errs...)
}

type argChecker struct {
	typ   string
	enums map[string][]string
	errs  []error
}

func (c *argChecker) errf(path, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s %s", c.typ, path, fmt.Sprintf(format, args...)))
}

// value checks v against Go type t of the SDK at path ("rules[].port").
func (c *argChecker) value(path string, v resource.PropertyValue, t reflect.Type) {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsComputed() || v.IsOutput() || v.IsNull() {
		return // unknown during preview, or left out
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if allowed, ok := c.enums[path]; ok && v.IsString() && !slices.Contains(allowed, v.StringValue()) {
		c.errf(path, "is %q, want one of %q", v.StringValue(), allowed)
	}
	switch t.Kind() {
	case reflect.String:
		if !v.IsString() {
			c.errf(path, "is %s, want a string", v.TypeString())
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		if !v.IsNumber() || v.NumberValue() != math.Trunc(v.NumberValue()) {
			c.errf(path, "is %s %v, want an integer", v.TypeString(), v)
		}
	case reflect.Float64:
		if !v.IsNumber() {
			c.errf(path, "is %s, want a number", v.TypeString())
		}
	case reflect.Bool:
		if !v.IsBool() {
			c.errf(path, "is %s, want a bool", v.TypeString())
		}
	case reflect.Slice:
		if !v.IsArray() {
			c.errf(path, "is %s, want an array", v.TypeString())
			return
		}
		for _, e := range v.ArrayValue() {
			c.value(path+"[]", e, t.Elem())
		}
	case reflect.Map:
		if !v.IsObject() {
			c.errf(path, "is %s, want a map", v.TypeString())
			return
		}
		for k, e := range v.ObjectValue() {
			c.value(join(path, string(k)), e, t.Elem())
		}
	case reflect.Struct:
		if !v.IsObject() {
			c.errf(path, "is %s, want an object", v.TypeString())
			return
		}
		fields := map[string]reflect.StructField{}
		for i := range t.NumField() {
			f := t.Field(i)
			if name := f.Tag.Get("pulumi"); name != "" {
				fields[name] = f
			}
		}
		obj := v.ObjectValue()
		for _, k := range obj.StableKeys() {
			f, ok := fields[string(k)]
			if !ok {
				c.errf(join(path, string(k)), "is no argument of the SDK (arguments: %q)", sortedKeys(fields))
				continue
			}
			c.value(join(path, string(k)), obj[k], f.Type)
		}
		if path == "" {
			return // top-level args are all pointers; hosterRequired lists the required ones
		}
		for name, f := range fields {
			if _, ok := obj[resource.PropertyKey(name)]; !ok && f.Type.Kind() != reflect.Pointer && f.Type.Kind() != reflect.Slice && f.Type.Kind() != reflect.Map {
				c.errf(join(path, name), "is required")
			}
		}
	case reflect.Interface:
	default:
		c.errf(path, "has SDK type %s the check does not know", t)
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// apiRules are what the APIs refuse that the SDK types cannot say.
func (c *argChecker) apiRules(in resource.PropertyMap) {
	switch c.typ {
	case "hcloud:index/firewall:Firewall":
		for i, r := range arrayOf(in["rules"]) {
			o := r.ObjectValue()
			proto, port := textOf(o["protocol"]), o["port"]
			hasPort := !port.IsNull() && port.HasValue()
			if (proto == "tcp" || proto == "udp") != hasPort {
				c.errf(fmt.Sprintf("rules[%d].port", i), "set %v for protocol %q: hcloud wants a port on tcp and udp rules only", hasPort, proto)
			}
			if textOf(o["direction"]) == "in" && len(arrayOf(o["sourceIps"])) == 0 && !o["sourceIps"].IsComputed() {
				c.errf(fmt.Sprintf("rules[%d].sourceIps", i), "is empty on an inbound rule")
			}
		}
		for i, a := range arrayOf(in["applyTos"]) {
			o := a.ObjectValue()
			_, sel := o["labelSelector"]
			_, srv := o["server"]
			if sel == srv {
				c.errf(fmt.Sprintf("applyTos[%d]", i), "names %d targets, want exactly one of labelSelector and server", len(o))
			}
		}
	case "vultr:index/firewallRule:FirewallRule":
		proto := textOf(in["protocol"])
		if _, hasPort := in["port"]; (proto == "tcp" || proto == "udp") != hasPort {
			c.errf("port", "set %v for protocol %q: vultr wants a port on tcp and udp rules only", hasPort, proto)
		}
	}
}

func arrayOf(v resource.PropertyValue) []resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if !v.IsArray() {
		return nil
	}
	return v.ArrayValue()
}

func textOf(v resource.PropertyValue) string {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// deprecated returns the properties of args struct t that the SDK's
// source marks "Deprecated:", read from the SDK's file of the resource
// (the token's middle part: "instance/placementGroup" ->
// placementGroup.go; providers: provider.go) in the module cache.
func deprecated(typ string, t reflect.Type) []string {
	deprecatedOnce.Do(func() { deprecatedProps = map[string][]string{} })
	deprecatedMu.Lock()
	defer deprecatedMu.Unlock()
	k := t.PkgPath() + "." + t.Name()
	if d, ok := deprecatedProps[k]; ok {
		return d
	}
	deprecatedProps[k] = nil
	fn, ok := sdkFuncs[t.PkgPath()]
	if !ok {
		panic("argument check: no function of SDK package " + t.PkgPath() + " in sdkFuncs")
	}
	src, _ := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).FileLine(reflect.ValueOf(fn).Pointer())
	pkg := struct{ Dir string }{filepath.Dir(src)}
	file := "provider.go"
	if parts := strings.Split(typ, ":"); len(parts) == 3 && parts[0] != "pulumi" {
		file = parts[1][strings.LastIndex(parts[1], "/")+1:] + ".go"
	}
	entries, _ := os.ReadDir(pkg.Dir)
	for _, e := range entries {
		if strings.EqualFold(e.Name(), file) {
			file = e.Name()
		}
	}
	f, err := goparser.ParseFile(token.NewFileSet(), filepath.Join(pkg.Dir, file), nil, goparser.ParseComments)
	if err != nil {
		panic(fmt.Sprintf("argument check: read the SDK source of %s: %v", typ, err))
	}
	{
		{
			ast.Inspect(f, func(n ast.Node) bool {
				ts, ok := n.(*ast.TypeSpec)
				if !ok || ts.Name.Name != t.Name() {
					return true
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					return false
				}
				for _, fld := range st.Fields.List {
					if fld.Doc == nil || !strings.Contains(fld.Doc.Text(), "Deprecated:") || fld.Tag == nil {
						continue
					}
					tag := reflect.StructTag(strings.Trim(fld.Tag.Value, "`")).Get("pulumi")
					deprecatedProps[k] = append(deprecatedProps[k], tag)
				}
				return false
			})
		}
	}
	sort.Strings(deprecatedProps[k])
	return deprecatedProps[k]
}

// sdkFuncs holds a function of each SDK package, whose source file tells
// where the package's source is.
var sdkFuncs = map[string]any{
	reflect.TypeFor[hcloud.Server]().PkgPath():     hcloud.NewServer,
	reflect.TypeFor[vultr.Instance]().PkgPath():    vultr.NewInstance,
	reflect.TypeFor[scaleway.Provider]().PkgPath(): scaleway.NewProvider,
	reflect.TypeFor[iam.SshKey]().PkgPath():        iam.NewSshKey,
	reflect.TypeFor[instance.Server]().PkgPath():   instance.NewServer,
}

var (
	deprecatedOnce  sync.Once
	deprecatedMu    sync.Mutex
	deprecatedProps map[string][]string
)
