package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and parses the inventory file at path. It does not validate:
// call Validate on the result.
func Load(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return Parse(path, data)
}

// Parse parses an inventory read from path (used in errors and to resolve
// relative paths; it is not read). Unknown fields, malformed YAML, values
// of the wrong type, an empty document and a document without nodes are
// errors: one *FieldError per problem, joined with errors.Join, each
// naming the file and line.
//
// Parse expands a leading ~/ in ssh.identity_file and ssh.known_hosts to
// $HOME, resolves those paths relative to the directory of path when they
// are relative, records each node's line and fills in defaults (see
// SetDefaults). It does not validate: call Validate on the result.
func Parse(path string, data []byte) (*Inventory, error) {
	root, err := parseTree(path, data)
	if err != nil {
		return nil, err
	}
	idx := newIndex(root)

	inv := &Inventory{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(inv); err != nil {
		return nil, idx.convert(path, data, err)
	}
	inv.Path = path
	inv.lines = idx.lines
	for i := range inv.Nodes {
		inv.Nodes[i].Line = idx.lines[nodePath(i)]
		if len(inv.Nodes[i].Labels) == 0 {
			inv.Nodes[i].Labels = nil
		}
	}
	if len(inv.Nodes) == 0 {
		return nil, &FieldError{File: path, Line: idx.lines["nodes"], Field: "nodes", Msg: "no nodes: list at least one manager"}
	}
	if err := inv.resolvePaths(); err != nil {
		return nil, err
	}
	inv.SetDefaults()
	return inv, nil
}

// parseTree reads data as a YAML node tree, turning syntax errors, an
// empty document and extra documents into *FieldError.
func parseTree(path string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	err := dec.Decode(&root)
	if errors.Is(err, io.EOF) || (err == nil && isEmpty(&root)) {
		return nil, &FieldError{File: path, Msg: "empty inventory: want a mapping with cluster, ssh and nodes"}
	}
	if err != nil {
		return nil, syntaxError(path, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(path, data, err)
	case !isEmpty(&next):
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		return nil, &FieldError{File: path, Line: line, Msg: "more than one yaml document: an inventory is a single document"}
	}
	return &root, nil
}

func isEmpty(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return true
		}
		n = n.Content[0]
	}
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// syntaxError turns a yaml.v3 parser error ("yaml: line 3: mapping values
// are not allowed in this context") into a *FieldError with its line.
func syntaxError(path string, data []byte, err error) error {
	line, msg := splitLine(strings.TrimPrefix(err.Error(), "yaml: "))
	msg = "invalid yaml: " + msg
	if line > 0 && strings.Contains(lineText(data, line), "\t") {
		msg += " (yaml does not allow tabs for indentation; use spaces)"
	}
	return &FieldError{File: path, Line: line, Msg: msg}
}

// splitLine splits "line N: rest" into N and rest; without that prefix it
// returns 0 and s.
func splitLine(s string) (int, string) {
	rest, ok := strings.CutPrefix(s, "line ")
	if !ok {
		return 0, s
	}
	num, msg, ok := strings.Cut(rest, ": ")
	if !ok {
		return 0, s
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return 0, s
	}
	return n, msg
}

func lineText(data []byte, line int) string {
	lines := strings.Split(string(data), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	return lines[line-1]
}

// entry is one value of the YAML tree: a mapping value under its key, or a
// sequence item.
type entry struct {
	path    string // YAML path: "cluster.name", "nodes[2].role", "nodes[0]"
	key     string // mapping key; "" for a sequence item
	keyLine int    // line of the key (of the item for sequence items)
	line    int    // line of the value
	value   string // the value when it is a scalar
	kind    yaml.Kind
}

// index maps the YAML tree to paths and lines, so errors can say where.
type index struct {
	entries []entry
	lines   map[string]int    // path -> line of its key (or item)
	values  map[string]string // path -> scalar value
}

func newIndex(root *yaml.Node) *index {
	x := &index{lines: map[string]int{}, values: map[string]string{}}
	x.walk(root, "")
	return x
}

func (x *index) walk(n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			x.walk(c, path)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			x.add(entry{path: p, key: k.Value, keyLine: k.Line, line: v.Line, value: scalar(v), kind: v.Kind})
			x.walk(v, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			x.add(entry{path: p, keyLine: c.Line, line: c.Line, value: scalar(c), kind: c.Kind})
			x.walk(c, p)
		}
	}
}

func (x *index) add(e entry) {
	x.entries = append(x.entries, e)
	if _, seen := x.lines[e.path]; !seen { // a duplicate key keeps the first line
		x.lines[e.path] = e.keyLine
		x.values[e.path] = e.value
	}
}

func scalar(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

// nodeName returns the name of the node a path such as "nodes[2].role"
// lies in, or "".
func (x *index) nodeName(path string) string {
	i, ok := nodeIndex(path)
	if !ok {
		return ""
	}
	return x.values[nodePath(i)+".name"]
}

func nodePath(i int) string { return "nodes[" + strconv.Itoa(i) + "]" }

// nodeIndex returns i for a path starting with "nodes[i]".
func nodeIndex(path string) (int, bool) {
	rest, ok := strings.CutPrefix(path, "nodes[")
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "]")
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(num)
	return i, err == nil
}

// convert turns an error of the typed decode into joined *FieldError
// values. yaml.v3 reports type problems as a *yaml.TypeError whose lines
// read "line N: field x not found in type T", "line N: cannot unmarshal
// !!str `x` into int" or "line N: mapping key "x" already defined at line
// M"; each becomes one *FieldError naming path, node and line.
func (x *index) convert(path string, data []byte, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return syntaxError(path, data, err)
	}
	errs := make([]error, 0, len(te.Errors))
	for _, s := range te.Errors {
		errs = append(errs, x.typeError(path, s))
	}
	return errors.Join(errs...)
}

func (x *index) typeError(path, s string) *FieldError {
	line, msg := splitLine(s)
	fe := &FieldError{File: path, Line: line, Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "field "); ok {
		if name, typ, ok := strings.Cut(rest, " not found in type "); ok {
			fe.Field = x.keyPath(line, name)
			fe.Msg = "unknown field"
			if known := knownFields(typ); len(known) > 0 {
				fe.Msg += "; known fields: " + strings.Join(known, ", ")
			}
		}
	} else if rest, ok := strings.CutPrefix(msg, "cannot unmarshal "); ok {
		if got, want, ok := cutLast(rest, " into "); ok {
			tag, val, _ := strings.Cut(got, " ")
			val = strings.Trim(val, "`")
			fe.Field = x.valuePath(line, tag, val)
			fe.Msg = fmt.Sprintf("want %s, got %s", describeType(want), describeValue(tag, val))
		}
	} else if rest, ok := strings.CutPrefix(msg, "mapping key "); ok {
		if key, first, ok := strings.Cut(rest, " already defined at line "); ok {
			if k, err := strconv.Unquote(key); err == nil {
				key = k
			}
			fe.Field = x.keyPath(line, key)
			fe.Msg = "duplicate key, first set at line " + first
		}
	}
	fe.Node = x.nodeName(fe.Field)
	return fe
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// keyPath returns the path of the mapping key named key on line.
func (x *index) keyPath(line int, key string) string {
	for _, e := range x.entries {
		if e.keyLine == line && e.key == key {
			return e.path
		}
	}
	return key
}

// valuePath returns the path of the value of tag on line: a list or a
// mapping for !!seq and !!map, else the scalar that matches val (which
// yaml.v3 cuts to 7 characters and "..."). It returns "" when no value
// fits, as for the document itself.
func (x *index) valuePath(line int, tag, val string) string {
	kind, prefix := yaml.ScalarNode, strings.TrimSuffix(val, "...")
	switch tag {
	case "!!seq":
		kind = yaml.SequenceNode
	case "!!map":
		kind = yaml.MappingNode
	}
	for _, e := range x.entries {
		if e.line != line || e.kind != kind {
			continue
		}
		if kind != yaml.ScalarNode || e.value == val || strings.HasPrefix(e.value, prefix) {
			return e.path
		}
	}
	return ""
}

// knownFields lists the YAML keys of the inventory type yaml.v3 names in
// its errors ("inventory.Node").
func knownFields(typ string) []string {
	var t reflect.Type
	switch typ {
	case "inventory.Inventory":
		t = reflect.TypeFor[Inventory]()
	case "inventory.Cluster":
		t = reflect.TypeFor[Cluster]()
	case "inventory.SSH":
		t = reflect.TypeFor[SSH]()
	case "inventory.Node":
		t = reflect.TypeFor[Node]()
	default:
		return nil
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// describeType says in words what a Go type named by yaml.v3 wants.
func describeType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "uint"):
		return "a whole number of 0 or more"
	case strings.HasPrefix(goType, "int"):
		return "a whole number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	default: // maps and inventory structs
		return "a mapping"
	}
}

// describeValue says in words what a YAML value of tag is.
func describeValue(tag, val string) string {
	switch tag {
	case "!!map":
		return "a mapping"
	case "!!seq":
		return "a list"
	case "!!null":
		return "nothing"
	case "!!str":
		return strconv.Quote(val)
	default:
		return val
	}
}

// resolvePaths expands ~/ and resolves relative paths in the ssh section.
func (inv *Inventory) resolvePaths() error {
	dir := filepath.Dir(inv.Path)
	var errs []error
	for _, f := range []struct {
		field string
		p     *string
	}{
		{"ssh.identity_file", &inv.SSH.IdentityFile},
		{"ssh.known_hosts", &inv.SSH.KnownHosts},
	} {
		p, err := resolvePath(dir, *f.p)
		if err != nil {
			errs = append(errs, &FieldError{File: inv.Path, Line: inv.lines[f.field], Field: f.field, Msg: err.Error()})
			continue
		}
		*f.p = p
	}
	return errors.Join(errs...)
}

// resolvePath expands a leading ~/ to $HOME and makes a relative path
// relative to dir. Empty stays empty.
func resolvePath(dir, p string) (string, error) {
	switch {
	case p == "" || filepath.IsAbs(p):
		return p, nil
	case p == "~" || strings.HasPrefix(p, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot expand %q: %w", p, err)
		}
		return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
	case strings.HasPrefix(p, "~"):
		return "", fmt.Errorf("cannot expand %q: only ~/ (your $HOME) is expanded; write the full path", p)
	default:
		return filepath.Join(dir, p), nil
	}
}
