package stacks

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"testing/fstest"

	"gopkg.in/yaml.v3"

	"github.com/shoalops/shoal/lab"
	"github.com/shoalops/shoal/stacks/deploy"
)

// HealStackName is the stack `shoal up` runs heal in on the cluster it
// heals (ADR 0026).
const HealStackName = "shoal-heal"

// Where the heal image keeps things. The image is FROM scratch: the shoal
// binary at /shoal (its entrypoint) and the Pulumi CLI under /pulumi.
const (
	HealPulumiDir = "/pulumi"
	// HealSecretsDir is where swarm mounts the service's secrets; the
	// project's files are among them, so `--dir` points here.
	HealSecretsDir = "/run/secrets"
)

// Environment variables naming secret files: heal reads the file each
// names into the variable without the _FILE suffix (or, for the SSH key,
// uses the file as the stack's key). No secret is ever a literal in the
// service's environment or arguments.
const (
	EnvBackendFile    = "PULUMI_BACKEND_URL_FILE"
	EnvPassphraseFile = "PULUMI_CONFIG_PASSPHRASE_FILE"
	EnvAWSKeyIDFile   = "AWS_ACCESS_KEY_ID_FILE"
	EnvAWSSecretFile  = "AWS_SECRET_ACCESS_KEY_FILE"
	EnvSSHKeyFile     = "SHOAL_SSH_KEY_FILE"
	// EnvLocalSuffix carries the suffix of a local stack's lab name
	// (lab.HomeID of the operator's $SHOAL_HOME): not a secret.
	EnvLocalSuffix = "SHOAL_LOCAL_SUFFIX"
	// EnvNodeID is the swarm node ID of the node the task runs on (a
	// service template): a scheduled backup never stops its own engine.
	EnvNodeID = "SHOAL_NODE_ID"
)

// HealConfig is what the heal stack is rendered from. Every secret field
// becomes a swarm secret named after its content, so a change (a new
// passphrase, an edited stack file) is a new secret and a service update,
// and an unchanged one is no change at all.
type HealConfig struct {
	// Stack is the Pulumi stack heal replaces servers of.
	Stack string
	// Image is the heal image (shoal:heal.image, else the built one).
	Image string
	// Project and StackFile are Pulumi.yaml and Pulumi.<Stack>.yaml as
	// `shoal up` read them (the stack file's secrets are encrypted with
	// the passphrase).
	Project, StackFile []byte
	// Backend is the state backend URL; it must be reachable from the
	// cluster (CheckHealBackend).
	Backend    string
	Passphrase string
	// AWSAccessKeyID and AWSSecretAccessKey reach an S3 backend; empty
	// when the backend URL needs none.
	AWSAccessKeyID, AWSSecretAccessKey string
	// SSHKey is the stack's generated private key (stacks of local pools
	// that set none); nil when shoal:sshPrivateKey is in the stack file.
	SSHKey []byte
	// LocalSuffix is the lab name suffix of local pools ("" otherwise).
	LocalSuffix string
	// LabEngine is the lab's outer Docker Engine socket on its machine
	// (lab.EngineSocket), for stacks with local pools: the local hoster's
	// API. The service mounts it from lab.EngineSocketInNode; "" mounts
	// nothing.
	LabEngine string
}

// NotSharedBackendError is returned for a state backend heal cannot reach
// from inside the cluster.
type NotSharedBackendError struct {
	Backend string
}

func (e *NotSharedBackendError) Error() string {
	return fmt.Sprintf("shoal:heal.enabled runs heal on the cluster, which cannot reach the state backend %s (a file on this machine): "+
		"keep the state in an S3-compatible bucket (`--backend 's3://BUCKET?endpoint=https://...&region=...'`, credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; "+
		"`pulumi stack export | pulumi stack import` moves a stack), or set shoal:heal.enabled to false and run `shoal heal` where the state is", e.Backend)
}

// CheckHealBackend refuses a backend heal on the cluster cannot use: a
// local file backend (or none given, which is one). Only S3-compatible
// backends are supported: heal gets their credentials as secrets.
func CheckHealBackend(backend string) error {
	u, err := url.Parse(backend)
	if err != nil || backend == "" {
		return &NotSharedBackendError{Backend: backend}
	}
	switch u.Scheme {
	case "s3":
		if u.Host == "" {
			return fmt.Errorf("state backend %s: no bucket", backend)
		}
		return nil
	case "file", "":
		return &NotSharedBackendError{Backend: backend}
	default:
		return fmt.Errorf("shoal:heal.enabled: state backend %s: heal on the cluster supports S3-compatible backends (s3://) only, whose credentials it gets as swarm secrets", u.Redacted())
	}
}

// healSecret is one secret of the heal stack: its key in the compose file,
// its file under /run/secrets and its content.
type healSecret struct {
	key, target string
	data        []byte
}

// BackupStackName is the stack `shoal up` runs scheduled backups in when
// shoal:backup.schedule is set and heal does not run on the cluster (with
// heal on, the heal service backs up: ADR 0033).
const BackupStackName = "shoal-backup"

// Heal renders the heal stack: one replica of `shoal heal` on a manager
// (the lease makes more safe), restarted whatever the exit, with every
// secret as a swarm secret and only file paths in its environment.
func Heal(c HealConfig) (Rendered, error) {
	return render(c, HealStackName, "heal", []string{"heal", "--stack", c.Stack, "--dir", HealSecretsDir, "--in-cluster"})
}

// Backup renders the scheduled backup stack: the heal image running
// `shoal backup --schedule --in-cluster` with the same secrets as heal (it
// opens the stack to export its state, reads shoal:backup from the stack
// file and reaches the backup bucket with the S3 keys), one replica on a
// manager; it takes the heal lease around each backup.
func Backup(c HealConfig) (Rendered, error) {
	return render(c, BackupStackName, "backup", []string{"backup", "--schedule", "--stack", c.Stack, "--dir", HealSecretsDir, "--in-cluster"})
}

func render(c HealConfig, stackName, service string, command []string) (Rendered, error) {
	var errs []error
	need := func(ok bool, what string) {
		if !ok {
			errs = append(errs, errors.New(what))
		}
	}
	need(c.Stack != "", "the Pulumi stack")
	need(c.Image != "", "the heal image")
	need(len(c.Project) > 0, "the project file (Pulumi.yaml)")
	need(len(c.StackFile) > 0, "the stack file")
	need(c.Passphrase != "", "the secrets passphrase")
	need((c.AWSAccessKeyID == "") == (c.AWSSecretAccessKey == ""), "both S3 credentials or neither")
	if err := CheckHealBackend(c.Backend); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return Rendered{}, fmt.Errorf("%s stack: %w", service, errors.Join(errs...))
	}

	secrets := []healSecret{
		{"project", "Pulumi.yaml", c.Project},
		{"stackfile", "Pulumi." + c.Stack + ".yaml", c.StackFile},
		{"backend", "backend-url", []byte(c.Backend)},
		{"passphrase", "pulumi-passphrase", []byte(c.Passphrase)},
	}
	env := map[string]string{
		"SHOAL_HOME":       "/tmp/shoal",
		"HOME":             "/tmp",
		"TMPDIR":           "/tmp",
		"SHOAL_PULUMI_DIR": HealPulumiDir,
		EnvBackendFile:     HealSecretsDir + "/backend-url",
		EnvPassphraseFile:  HealSecretsDir + "/pulumi-passphrase",
		// A service template: the node the task runs on.
		EnvNodeID: "{{.Node.ID}}",
	}
	if c.AWSAccessKeyID != "" {
		secrets = append(secrets,
			healSecret{"aws_key_id", "aws-access-key-id", []byte(c.AWSAccessKeyID)},
			healSecret{"aws_secret", "aws-secret-access-key", []byte(c.AWSSecretAccessKey)})
		env[EnvAWSKeyIDFile] = HealSecretsDir + "/aws-access-key-id"
		env[EnvAWSSecretFile] = HealSecretsDir + "/aws-secret-access-key"
	}
	if len(c.SSHKey) > 0 {
		secrets = append(secrets, healSecret{"ssh_key", "ssh-key", c.SSHKey})
		env[EnvSSHKeyFile] = HealSecretsDir + "/ssh-key"
	}
	if c.LocalSuffix != "" {
		env[EnvLocalSuffix] = c.LocalSuffix
	}
	mounts := []any{map[string]any{"type": "tmpfs", "target": "/tmp", "tmpfs": map[string]any{"size": 256 << 20}}}
	if c.LabEngine != "" {
		env["DOCKER_HOST"] = "unix://" + lab.EngineSocketInNode
		env[lab.EnvEngineSocket] = c.LabEngine // where new lab nodes mount it from
		mounts = append(mounts, map[string]any{"type": "bind", "source": lab.EngineSocketInNode, "target": lab.EngineSocketInNode})
	}

	files := fstest.MapFS{}
	var refs []any
	defs := map[string]any{}
	for _, s := range secrets {
		files[s.target] = &fstest.MapFile{Data: s.data, Mode: 0o600}
		refs = append(refs, map[string]any{"source": s.key, "target": s.target, "mode": 0o400})
		defs[s.key] = map[string]any{
			// Named after the content: swarm secrets cannot change, a
			// changed one is a new secret (the old one is pruned).
			"name": fmt.Sprintf("%s_%s_%s", stackName, s.key, version(string(s.data))),
			"file": "./" + s.target,
		}
	}
	doc := map[string]any{
		"version": "3.8",
		"services": map[string]any{
			service: map[string]any{
				"image": c.Image,
				// The metrics port stays inside the task: nothing is published.
				"command":     command,
				"environment": sortedEnv(env),
				"secrets":     refs,
				"volumes":     mounts,
				"deploy": map[string]any{
					"replicas":  1,
					"labels":    map[string]string{"shoal." + service + ".stack": c.Stack},
					"placement": map[string]any{"constraints": []string{"node.role == manager"}},
					// Heal must come back whatever ended it; the lease and
					// the records make a restart safe.
					"restart_policy": map[string]any{"condition": "any", "delay": "5s"},
					"update_config":  map[string]any{"parallelism": 1, "order": "stop-first"},
					// Idle heal needs ~30 MB; an up runs the Pulumi CLI and
					// the provider beside it.
					"resources": map[string]any{
						"limits":       map[string]any{"memory": "1G"},
						"reservations": map[string]any{"memory": "64M"},
					},
				},
			},
		},
		"secrets": defs,
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return Rendered{}, fmt.Errorf("%s stack: %w", service, err)
	}
	return Rendered{Stack: deploy.Stack{Name: stackName, Compose: b, Files: files}}, nil
}

// sortedEnv is env as a sorted KEY=VALUE list (a stable file).
func sortedEnv(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// HealSecretFiles maps each *_FILE variable heal reads to the variable it
// sets from the file (the SSH key is used as a file).
var HealSecretFiles = map[string]string{
	EnvBackendFile:    "PULUMI_BACKEND_URL",
	EnvPassphraseFile: "PULUMI_CONFIG_PASSPHRASE",
	EnvAWSKeyIDFile:   "AWS_ACCESS_KEY_ID",
	EnvAWSSecretFile:  "AWS_SECRET_ACCESS_KEY",
}
