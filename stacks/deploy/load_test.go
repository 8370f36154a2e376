package deploy

import (
	"strings"
	"testing"
)

func TestLoad(t *testing.T) {
	base := `version: "3.8"
services:
  web:
    image: ${IMAGE}:${TAG:-dev}
    deploy:
      replicas: 2
`
	cases := []struct {
		name      string
		stack     Stack
		wantImage string
		wantWarn  string
		wantErr   string
	}{
		{name: "variables come from Env and defaults apply", stack: Stack{Name: "app-dev", Compose: []byte(base), Env: map[string]string{"IMAGE": "reg.example/app"}},
			wantImage: "reg.example/app:dev"},
		{name: "a variable set empty takes the default of ${VAR:-default}", stack: Stack{Name: "app-dev", Compose: []byte(base), Env: map[string]string{"IMAGE": "app", "TAG": ""}},
			wantImage: "app:dev"},
		{name: "an unset variable becomes empty, here breaking the image", stack: Stack{Name: "app-dev", Compose: []byte("version: \"3.8\"\nservices:\n  web:\n    image: app:${TAG}\n")},
			wantErr: "invalid image reference"},
		{name: "a required variable that is unset is an error", stack: Stack{Name: "app-dev", Compose: []byte("version: \"3.8\"\nservices:\n  web:\n    image: app:${TAG:?set TAG}\n")},
			wantErr: "set TAG"},
		{name: "an unset variable without default is named in a warning", stack: Stack{Name: "s", Compose: []byte("version: \"3.8\"\nservices:\n  web:\n    image: app\n    environment:\n      X: ${NOPE}\n")},
			wantImage: "app", wantWarn: "variable NOPE is not set"},
		{name: "an override is merged over the base", stack: Stack{Name: "s", Compose: []byte(base), Env: map[string]string{"IMAGE": "app"},
			Overrides: [][]byte{[]byte("version: \"3.8\"\nservices:\n  web:\n    image: other:1\n")}}, wantImage: "other:1"},
		{name: "a bad stack name is refused", stack: Stack{Name: "Bad Name", Compose: []byte(base)}, wantErr: "invalid stack name"},
		{name: "no compose file is refused", stack: Stack{Name: "s"}, wantErr: "no compose file"},
		{name: "a service without image is refused", stack: Stack{Name: "s", Compose: []byte("version: \"3.8\"\nservices:\n  web:\n    command: x\n")}, wantErr: "service web: no image"},
		{name: "options a swarm ignores are warned about", stack: Stack{Name: "s", Compose: []byte("version: \"3.8\"\nservices:\n  web:\n    image: app\n    build: .\n")},
			wantImage: "app", wantWarn: "ignoring options a swarm does not support: build"},
		{name: "a schema violation is an error", stack: Stack{Name: "s", Compose: []byte("version: \"3.8\"\nservices:\n  web:\n    image: app\n    replicas: 2\n")}, wantErr: "replicas"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, warnings, err := Load(c.stack)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Services[0].Image; got != c.wantImage {
				t.Errorf("image = %q, want %q", got, c.wantImage)
			}
			joined := strings.Join(warnings, "\n")
			if c.wantWarn != "" && !strings.Contains(joined, c.wantWarn) {
				t.Errorf("warnings = %q, want %q", joined, c.wantWarn)
			}
			if c.wantWarn == "" && joined != "" {
				t.Errorf("unexpected warnings %q", joined)
			}
		})
	}
}
