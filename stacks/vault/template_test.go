package vault

import (
	"errors"
	"strings"
	"testing"
)

func TestTemplatePath(t *testing.T) {
	tests := []struct {
		name                  string
		template              string
		project, env, service string
		wantPath, wantDir     string
		wantErr               string // substring; "" means no error
	}{
		{name: "the default template places an entry at project/env/service",
			template: "", project: "acme", env: "dev", service: "web",
			wantPath: "acme/dev/web", wantDir: "acme/dev"},
		{name: "a fixed prefix and a combined segment are allowed",
			template: "ci/{project}-{env}/{service}", project: "acme", env: "prod", service: "api_v2",
			wantPath: "ci/acme-prod/api_v2", wantDir: "ci/acme-prod"},
		{name: "a template of only the service puts entries at the mount's top",
			template: "{service}", project: "acme", env: "dev", service: "web",
			wantPath: "web", wantDir: ""},
		{name: "a value with a slash is refused",
			template: "", project: "acme", env: "dev", service: "a/b", wantErr: `vault service "a/b"`},
		{name: "a value of dot-dot is refused",
			template: "", project: "..", env: "dev", service: "web", wantErr: `vault project ".."`},
		{name: "an empty environment is refused",
			template: "", project: "acme", env: "", service: "web", wantErr: `vault env "": must not be empty`},
		{name: "a glob character in a value is refused",
			template: "", project: "acme", env: "dev", service: "*", wantErr: `character '*'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tt.template)
			if err != nil {
				t.Fatalf("ParseTemplate(%q): %v", tt.template, err)
			}
			got, err := tmpl.Path(tt.project, tt.env, tt.service)
			if tt.wantErr != "" {
				var pe *PathError
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.As(err, &pe) {
					t.Fatalf("Path = %q, %v; want *PathError containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.wantPath {
				t.Fatalf("Path = %q, %v; want %q", got, err, tt.wantPath)
			}
			dir, err := tmpl.Dir(tt.project, tt.env)
			if err != nil || dir != tt.wantDir {
				t.Fatalf("Dir = %q, %v; want %q", dir, err, tt.wantDir)
			}
		})
	}
}

func TestParseTemplateRefusesBadTemplates(t *testing.T) {
	tests := []struct {
		name, template, want string
	}{
		{"an unknown placeholder is named", "{project}/{stage}/{service}", "unknown placeholder {stage}"},
		{"an empty segment from a double slash is refused", "{project}//{service}", "empty path segment"},
		{"a leading slash is refused", "/{project}/{service}", "empty path segment"},
		{"a trailing slash is refused", "{project}/{service}/", "empty path segment"},
		{"a dot-dot segment is refused", "{project}/../{service}", `segment ".." is not allowed`},
		{"a dot segment is refused", "./{service}", `segment "." is not allowed`},
		{"a template without service is refused", "{project}/{env}", "the last segment must be {service}"},
		{"service not last is refused", "{service}/{env}", "{service} must be the whole last segment"},
		{"service inside a segment is refused", "{project}/x-{service}", "{service} must be the whole last segment"},
		{"an unclosed brace is refused", "{project/{service}", "unbalanced '{'"},
		{"a stray closing brace is refused", "project}/{service}", "unbalanced '}'"},
		{"a glob in literal text is refused", "ci*/{service}", "character '*'"},
		{"a space in literal text is refused", "my ci/{service}", "character ' '"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTemplate(tt.template)
			var pe *PathError
			if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseTemplate(%q) = %v; want *PathError containing %q", tt.template, err, tt.want)
			}
		})
	}
}

func TestCleanMount(t *testing.T) {
	tests := []struct{ name, in, want, wantErr string }{
		{name: "empty means secret", in: "", want: "secret"},
		{name: "surrounding slashes are dropped", in: "/kv/", want: "kv"},
		{name: "a nested mount is kept", in: "kv/shoal", want: "kv/shoal"},
		{name: "dot-dot is refused", in: "kv/..", wantErr: "not a valid path segment"},
		{name: "a double slash is refused", in: "kv//x", wantErr: "must not be empty"},
		{name: "a quote is refused", in: `kv"`, wantErr: "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cleanMount(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("cleanMount(%q) = %q, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("cleanMount(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}
