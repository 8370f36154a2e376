package inventory

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// ReplaceNode returns data, an inventory file read from path, with the
// entry of node old replaced by n and every other byte as it was
// (comments, order, blank lines, quoting). n is written in the style of the
// entry it replaces: a one-line flow mapping, or block lines at its
// indentation. It refuses, changing nothing, when it cannot keep that
// promise: no such entry, a flow-style node list, comments or multi-line
// text inside the old entry, or a result that does not read back as the
// same inventory with n in old's place.
func ReplaceNode(path string, data []byte, old string, n Node) ([]byte, error) {
	refuse := func(format string, args ...any) error {
		return fmt.Errorf("edit %s: %s; nothing was written: replace the entry of %s by hand", path, fmt.Sprintf(format, args...), old)
	}
	before, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	root, err := parseTree(path, data)
	if err != nil {
		return nil, err
	}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	var nodes *yaml.Node
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "nodes" {
			nodes = doc.Content[i+1]
		}
	}
	if nodes == nil || nodes.Kind != yaml.SequenceNode {
		return nil, refuse("no list of nodes")
	}
	if nodes.Style&yaml.FlowStyle != 0 {
		return nil, refuse("the node list is written in flow style ([...])")
	}
	at := -1
	for i, item := range nodes.Content {
		for j := 0; item.Kind == yaml.MappingNode && j+1 < len(item.Content); j += 2 {
			if item.Content[j].Value == "name" && item.Content[j+1].Value == old {
				at = i
			}
		}
	}
	if at < 0 {
		return nil, refuse("no node named %s", old)
	}
	item := nodes.Content[at]
	first, last := item.Line, lastLine(item)
	lines := strings.SplitAfter(string(data), "\n")
	if last > len(lines) {
		return nil, refuse("the entry of %s ends past the file", old)
	}
	for _, l := range lines[first-1 : last] {
		if strings.Contains(l, "#") {
			return nil, refuse("the entry of %s holds a comment (or a #), which the edit would lose", old)
		}
	}
	if at+1 < len(nodes.Content) && nodes.Content[at+1].Line <= last {
		return nil, refuse("the entry of %s shares a line with the next one", old)
	}
	prefix := lines[first-1][:item.Column-1]
	entry, err := renderNode(n, item.Style&yaml.FlowStyle != 0, prefix)
	if err != nil {
		return nil, refuse("%v", err)
	}
	var out bytes.Buffer
	for _, l := range lines[:first-1] {
		out.WriteString(l)
	}
	out.WriteString(entry)
	for _, l := range lines[last:] {
		out.WriteString(l)
	}
	after, err := Parse(path, out.Bytes())
	if err != nil {
		return nil, refuse("the edited file does not read back: %v", err)
	}
	want := *before
	want.Nodes = nil
	for _, e := range before.Nodes {
		if e.Name == old {
			e = n
		}
		want.Nodes = append(want.Nodes, e)
	}
	if !sameInventory(&want, after) {
		return nil, refuse("the edited file does not read back as the inventory with %s in %s's place", n.Name, old)
	}
	return out.Bytes(), nil
}

// lastLine is the last line any part of y is on.
func lastLine(y *yaml.Node) int {
	l := y.Line
	for _, c := range y.Content {
		l = max(l, lastLine(c))
	}
	if y.Kind == yaml.ScalarNode && strings.Contains(y.Value, "\n") {
		l += strings.Count(y.Value, "\n") // never reached by a valid inventory, refused by the read-back
	}
	return l
}

// renderNode writes n as a list entry starting with prefix ("  - "): one
// flow-style line, or block lines indented under the prefix.
func renderNode(n Node, flow bool, prefix string) (string, error) {
	var y yaml.Node
	if err := y.Encode(n); err != nil {
		return "", err
	}
	if flow {
		y.Style = yaml.FlowStyle
		for _, c := range y.Content {
			if c.Kind == yaml.MappingNode {
				c.Style = yaml.FlowStyle
			}
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&y); err != nil {
		return "", err
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	pad := strings.Repeat(" ", len(prefix))
	var out strings.Builder
	for i, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
		if i == 0 {
			out.WriteString(prefix + l + "\n")
		} else {
			out.WriteString(pad + l + "\n")
		}
	}
	return out.String(), nil
}

func sameInventory(a, b *Inventory) bool {
	if a.Cluster != b.Cluster || a.SSH != b.SSH || len(a.Nodes) != len(b.Nodes) {
		return false
	}
	for i := range a.Nodes {
		x, y := a.Nodes[i], b.Nodes[i]
		x.Line, y.Line = 0, 0
		if len(x.Labels) == 0 {
			x.Labels = nil
		}
		if len(y.Labels) == 0 {
			y.Labels = nil
		}
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}
