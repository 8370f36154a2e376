package vault

import (
	"fmt"
	"strings"
)

// DefaultPathTemplate places an entry at <project>/<env>/<service> under the mount.
const DefaultPathTemplate = "{project}/{env}/{service}"

// DefaultMount is the KV v2 mount a `vault server -dev` and most installs have.
const DefaultMount = "secret"

// Template is a validated path template. Placeholders: {project}, {env} and
// {service}; {service} must be the whole last segment, so that the entries
// of one project and environment are the keys of one folder (List, and the
// policy's glob). The zero value is not valid; use ParseTemplate.
type Template struct {
	raw    string
	prefix []string // segments before {service}, placeholders unexpanded
}

// PathError reports an invalid template, mount or value. It never carries a secret.
type PathError struct {
	What   string // "template", "mount", "project", "env", "service"
	Value  string
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("invalid vault %s %q: %s", e.What, e.Value, e.Reason)
}

var placeholders = map[string]bool{"project": true, "env": true, "service": true}

// ParseTemplate validates a path template: only known placeholders, no empty
// segment, no "." or ".." segment, no leading or trailing slash, literal text
// of letters, digits, '.', '_' and '-' only, and {service} exactly once as the
// last segment. An empty string means DefaultPathTemplate.
func ParseTemplate(s string) (Template, error) {
	if s == "" {
		s = DefaultPathTemplate
	}
	bad := func(reason string) (Template, error) {
		return Template{}, &PathError{What: "template", Value: s, Reason: reason}
	}
	segs := strings.Split(s, "/")
	for _, seg := range segs {
		if seg == "" {
			return bad("empty path segment (leading, trailing or double slash)")
		}
		if seg == "." || seg == ".." {
			return bad(fmt.Sprintf("segment %q is not allowed", seg))
		}
	}
	for i, seg := range segs {
		names, literal, err := splitPlaceholders(seg)
		if err != nil {
			return bad(err.Error())
		}
		if err := checkLiteral(literal); err != nil {
			return bad(err.Error())
		}
		for _, n := range names {
			if !placeholders[n] {
				return bad(fmt.Sprintf("unknown placeholder {%s} (known: {project}, {env}, {service})", n))
			}
			if n == "service" && (i != len(segs)-1 || seg != "{service}") {
				return bad("{service} must be the whole last segment")
			}
		}
	}
	if segs[len(segs)-1] != "{service}" {
		return bad("the last segment must be {service}")
	}
	return Template{raw: s, prefix: segs[:len(segs)-1]}, nil
}

// MustTemplate is ParseTemplate for constants known to be valid; it panics otherwise.
func MustTemplate(s string) Template {
	t, err := ParseTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// Path is the entry's path below the mount, e.g. "acme/dev/web".
func (t Template) Path(project, env, service string) (string, error) {
	dir, err := t.Dir(project, env)
	if err != nil {
		return "", err
	}
	if err := checkValue("service", service); err != nil {
		return "", err
	}
	if dir == "" {
		return service, nil
	}
	return dir + "/" + service, nil
}

// Dir is the folder below the mount that holds the entries of one project
// and environment, e.g. "acme/dev" ("" when the template is just {service}).
func (t Template) Dir(project, env string) (string, error) {
	if t.raw == "" {
		return "", &PathError{What: "template", Value: "", Reason: "not parsed (use ParseTemplate)"}
	}
	if err := checkValue("project", project); err != nil {
		return "", err
	}
	if err := checkValue("env", env); err != nil {
		return "", err
	}
	r := strings.NewReplacer("{project}", project, "{env}", env)
	out := make([]string, len(t.prefix))
	for i, seg := range t.prefix {
		out[i] = r.Replace(seg)
	}
	return strings.Join(out, "/"), nil
}

// splitPlaceholders returns the placeholder names of a segment and its
// literal text with the placeholders removed.
func splitPlaceholders(seg string) (names []string, literal string, err error) {
	var lit strings.Builder
	for rest := seg; rest != ""; {
		open := strings.IndexByte(rest, '{')
		closing := strings.IndexByte(rest, '}')
		switch {
		case open < 0 && closing < 0:
			lit.WriteString(rest)
			rest = ""
		case open < 0 || (closing >= 0 && closing < open):
			return nil, "", fmt.Errorf("unbalanced '}' in segment %q", seg)
		case closing < 0:
			return nil, "", fmt.Errorf("unbalanced '{' in segment %q", seg)
		default:
			lit.WriteString(rest[:open])
			name := rest[open+1 : closing]
			if strings.ContainsAny(name, "{") {
				return nil, "", fmt.Errorf("nested '{' in segment %q", seg)
			}
			names = append(names, name)
			rest = rest[closing+1:]
		}
	}
	return names, lit.String(), nil
}

func checkLiteral(s string) error {
	for _, r := range s {
		if !safeRune(r) {
			return fmt.Errorf("character %q is not allowed (letters, digits, '.', '_', '-')", r)
		}
	}
	return nil
}

// checkValue validates what replaces a placeholder: one safe path segment.
func checkValue(what, v string) error {
	switch {
	case v == "":
		return &PathError{What: what, Value: v, Reason: "must not be empty"}
	case v == "." || v == "..":
		return &PathError{What: what, Value: v, Reason: "is not a valid path segment"}
	}
	for _, r := range v {
		if !safeRune(r) {
			return &PathError{What: what, Value: v, Reason: fmt.Sprintf("character %q is not allowed (letters, digits, '.', '_', '-')", r)}
		}
	}
	return nil
}

func safeRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
}

// cleanMount validates a mount path ("secret", "kv/shoal"); surrounding
// slashes are dropped and "" means DefaultMount.
func cleanMount(m string) (string, error) {
	m = strings.Trim(m, "/")
	if m == "" {
		return DefaultMount, nil
	}
	for _, seg := range strings.Split(m, "/") {
		if err := checkValue("mount", seg); err != nil {
			return "", &PathError{What: "mount", Value: m, Reason: err.(*PathError).Reason}
		}
	}
	return m, nil
}
