package ci

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func spec(method string) Spec {
	return Spec{Project: "shop", Cluster: "prod", Registry: "registry.acme.example", VaultAddr: "https://vault.acme.example",
		VaultMethod: method, PortainerURL: "https://portainer.acme.example",
		Services: []Service{
			{Name: "web", Image: "registry.acme.example/shop/web", Context: "web"},
			{Name: "worker", Image: "registry.acme.example/shop/worker", Context: ".", Dockerfile: "worker.Dockerfile"},
		}}
}

// actionlintVersion is the linter the generated files must pass.
const actionlintVersion = "v1.7.12"

// actionlintBin builds github.com/rhysd/actionlint at actionlintVersion
// once per machine into the cache (its module needs go.yaml.in/yaml/v4
// rc.3, shoal's Pulumi dependency rc.4, so it cannot be linked into this
// module's test binary) and returns its path.
func actionlintBin(t *testing.T) string {
	t.Helper()
	base := os.Getenv("SHOAL_CACHE")
	if base == "" {
		c, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		base = filepath.Join(c, "shoal")
	}
	dir := filepath.Join(base, "actionlint", actionlintVersion)
	bin := filepath.Join(dir, "actionlint")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	cmd := exec.Command("go", "install", "github.com/rhysd/actionlint/cmd/actionlint@"+actionlintVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go install actionlint %s: %v\n%s", actionlintVersion, err, out)
	}
	return bin
}

// finding is one actionlint error as its JSON format prints it.
type finding struct {
	Message  string `json:"message"`
	Filepath string `json:"filepath"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Kind     string `json:"kind"`
}

// lint writes files into a fresh repository and runs actionlint on it, as
// in a checkout (shellcheck and pyflakes off: they are not installed here).
func lint(t *testing.T, files map[string][]byte) []finding {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	for p, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(actionlintBin(t), "-format", "{{json .}}", "-shellcheck=", "-pyflakes=")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		t.Fatalf("actionlint: %v\n%s", err, stderr.String())
	}
	var fs []finding
	if len(bytes.TrimSpace(out)) > 0 {
		if err := json.Unmarshal(out, &fs); err != nil {
			t.Fatalf("actionlint output: %v\n%s", err, out)
		}
	}
	if err != nil && len(fs) == 0 {
		t.Fatalf("actionlint exited 1 without findings: %s", stderr.String())
	}
	return fs
}

func TestGeneratedWorkflowsPassActionlint(t *testing.T) {
	for _, method := range []string{"jwt", "approle"} {
		t.Run(method, func(t *testing.T) {
			files, err := GitHub(spec(method))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != 3 {
				t.Fatalf("want the reusable workflow and 2 callers, got %d files", len(files))
			}
			for _, e := range lint(t, files) {
				t.Errorf("actionlint: %s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
			}
			r := string(files[ReusableWorkflow])
			for _, want := range []string{
				"hashicorp/vault-action@v3", "method: " + method, "secret/data/prod/platform/registry/shoal password | REGISTRY_PASSWORD",
				"${{ inputs.image }}:${{ github.sha }}", "${{ inputs.image }}:${{ steps.env.outputs.tag }}",
				`--tag "$GITHUB_SHA" --via portainer`, "github.event.repository.default_branch", "exportToken: true",
			} {
				if !strings.Contains(r, want) {
					t.Errorf("reusable workflow lacks %q", want)
				}
			}
			c := string(files[CallerWorkflow("worker")])
			for _, want := range []string{"workflow_dispatch", "- DEV", "- PROD", "uses: ./.github/workflows/shoal-deploy.yml", `dockerfile: "worker.Dockerfile"`, `image: "registry.acme.example/shop/worker"`} {
				if !strings.Contains(c, want) {
					t.Errorf("caller lacks %q:\n%s", want, c)
				}
			}
		})
	}
}

// The linter is real: a broken workflow is reported.
func TestActionlintCatchesABrokenWorkflow(t *testing.T) {
	files, err := GitHub(spec("jwt"))
	if err != nil {
		t.Fatal(err)
	}
	files[CallerWorkflow("web")] = []byte(strings.Replace(string(files[CallerWorkflow("web")]), "environment: ${{ inputs.environment }}", "environmnt: ${{ inputs.environment }}", 1))
	if errs := lint(t, files); len(errs) == 0 {
		t.Fatal("actionlint found nothing wrong with a misspelt input")
	}
}

func TestSpecChecks(t *testing.T) {
	s := spec("jwt")
	s.Cluster = ""
	if _, err := GitHub(s); err == nil || !strings.Contains(err.Error(), "cluster") {
		t.Errorf("no cluster: %v", err)
	}
	s = spec("oidc")
	if _, err := GitHub(s); err == nil || !strings.Contains(err.Error(), "jwt or approle") {
		t.Errorf("bad method: %v", err)
	}
}
