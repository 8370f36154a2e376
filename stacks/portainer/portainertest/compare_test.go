package portainertest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// placeholderPatterns say what a placeholder of the fixtures' README may
// stand for. Placeholders whose value the test knows (service ids, the
// registry host) are substituted before comparing instead.
var placeholderPatterns = map[string]string{
	"<jwt>":            `[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`,
	"<api-key>":        `ptr_[A-Za-z0-9+/]{43}=`,
	"<api-key-prefix>": `ptr_[A-Za-z0-9+/]{3}`,
	"<api-key-digest>": `[A-Za-z0-9+/]+=*`,
	"<token>":          `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`,
	"<uuid>":           `[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`,
	"<bcrypt-hash>":    `\$2a\$10\$[./A-Za-z0-9]{53}`,
	"<swarm-id>":       `[a-z0-9]{25}`,
	"<node-id>":        `[a-z0-9]{25}`,
	"<cluster-id>":     `[a-z0-9]{25}`,
	"<service-id>":     `[a-z0-9]{25}`,
	"<service-id-2>":   `[a-z0-9]{25}`,
	"<id>":             `[0-9a-f]{64}`,
	"<digest>":         `sha256:[0-9a-f]{64}`,
	"<timestamp>":      `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`,
	"<registry-host>":  `[A-Za-z0-9.-]+(:\d+)?`,
	"<engine-id>":      `.+`,
	"<hostname>":       `.+`,
	"<kernel-version>": `.+`,
	"<pem>":            `(?s).+`,
	"<base64>":         `[A-Za-z0-9+/=]+`,
	"<repo>":           `.+`,
	"<tag>":            `.+`,
	"<dns-server>":     `.+`,
	"<http-date>":      `.+`,
	"<boundary>":       `.+`,
}

var placeholderRE = regexp.MustCompile(`<[a-z0-9-]+>`)

// patternOf turns a fixture string with placeholders into an anchored
// regular expression; ok is false when it has none.
func patternOf(s string) (*regexp.Regexp, bool) {
	locs := placeholderRE.FindAllStringIndex(s, -1)
	var b strings.Builder
	n := 0
	for _, l := range locs {
		p, known := placeholderPatterns[s[l[0]:l[1]]]
		if !known {
			continue
		}
		b.WriteString(regexp.QuoteMeta(s[n:l[0]]))
		b.WriteString("(?:" + p + ")")
		n = l[1]
	}
	if n == 0 {
		return nil, false
	}
	b.WriteString(regexp.QuoteMeta(s[n:]))
	return regexp.MustCompile("^" + b.String() + "$"), true
}

// sampleKeys hold integers the README calls sample values (unix seconds,
// Version.Index): compared by type.
var sampleKeys = map[string]bool{"Time": true, "Created": true, "dateCreated": true, "lastUsed": true, "Index": true}

// hostKeys mark subtrees of engine data that depend on the host (the
// environment snapshot): there field names are compared, values by type,
// and null stands for an empty value.
var hostKeys = map[string]bool{"Snapshots": true}

// mapKeys are objects whose keys are data (labels, options, network names),
// inside host data.
var mapKeys = map[string]bool{"Labels": true, "Options": true, "Networks": true, "Runtimes": true,
	"IndexConfigs": true, "Details": true, "DriverOpts": true, "Containers": true}

// optionalHostKeys are fields of engine data that the engine itself leaves
// out when empty (Docker's IPAMConfig: Subnet, IPRange, Gateway and
// AuxiliaryAddresses are all `json:",omitempty"`): whether they are there
// depends on the host, not on Portainer. Docker 20.10 reports the default
// bridge's IPAM config without a Gateway until the daemon is restarted, for
// example, while the recording's ingress network has one.
var optionalHostKeys = map[string]bool{"Subnet": true, "IPRange": true, "Gateway": true, "AuxiliaryAddresses": true}

// comparer compares an actual JSON value with a fixture's. capture receives
// the actual strings of whole-string placeholders (the new token, jwt, key).
type comparer struct {
	capture func(placeholder, value string)
	diffs   []string
}

func (c *comparer) errorf(path, format string, a ...any) {
	c.diffs = append(c.diffs, path+": "+fmt.Sprintf(format, a...))
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case json.Number, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func (c *comparer) compare(path, key string, want, got any, host bool) {
	if hostKeys[key] {
		host = true
	}
	if host && (want == nil || got == nil) {
		return
	}
	if kind(want) != kind(got) {
		c.errorf(path, "want %s %s, got %s %s", kind(want), short(want), kind(got), short(got))
		return
	}
	switch w := want.(type) {
	case string:
		g := got.(string)
		if host {
			return
		}
		if re, ok := patternOf(w); ok {
			if !re.MatchString(g) {
				c.errorf(path, "%q does not match %q", g, w)
			} else if placeholderRE.MatchString(w) && placeholderRE.FindString(w) == w && c.capture != nil {
				c.capture(w, g)
			}
			return
		}
		if w != g {
			c.errorf(path, "want %q, got %q", w, g)
		}
	case json.Number:
		if !host && !sampleKeys[key] && w.String() != got.(json.Number).String() {
			c.errorf(path, "want %s, got %s", w, got)
		}
	case bool:
		if !host && w != got.(bool) {
			c.errorf(path, "want %v, got %v", w, got)
		}
	case []any:
		g := got.([]any)
		if host {
			// Host data has its own lengths, but a recorded snapshot must
			// be there.
			if len(w) > 0 && len(g) == 0 && hostKeys[key] {
				c.errorf(path, "want a non-empty array, got []")
			}
			if len(w) == 0 {
				return
			}
			for i, x := range g {
				c.compare(fmt.Sprintf("%s[%d]", path, i), "[]", w[min(i, len(w)-1)], x, host)
			}
			return
		}
		if len(w) != len(g) {
			c.errorf(path, "want %d elements, got %d: %s", len(w), len(g), short(g))
			return
		}
		for i := range w {
			c.compare(fmt.Sprintf("%s[%d]", path, i), "[]", w[i], g[i], host)
		}
	case map[string]any:
		g := got.(map[string]any)
		if host && mapKeys[key] {
			var first any
			for _, k := range sortedKeys(w) {
				first = w[k]
				break
			}
			if first == nil {
				return
			}
			for _, k := range sortedKeys(g) {
				c.compare(path+"."+k, k, first, g[k], host)
			}
			return
		}
		for _, k := range sortedKeys(w) {
			gv, ok := g[k]
			if !ok && host && optionalHostKeys[k] {
				continue
			}
			if !ok {
				c.errorf(path+"."+k, "missing")
				continue
			}
			c.compare(path+"."+k, k, w[k], gv, host)
		}
		for _, k := range sortedKeys(g) {
			if _, ok := w[k]; !ok {
				c.errorf(path+"."+k, "unexpected field (value %s)", short(g[k]))
			}
		}
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:117]) + "..."
	}
	return string(b)
}

// decodeJSON parses b keeping numbers exact.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
