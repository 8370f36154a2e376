package stacks

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
)

func healConfig() HealConfig {
	return HealConfig{
		Stack: "prod", Image: "registry.example/shoal-heal:1",
		Project: []byte("name: shoal\n"), StackFile: []byte("config:\n  shoal:heal: {enabled: true}\n"),
		Backend: "s3://state?endpoint=http://10.0.0.5:7070&region=us-east-1&s3ForcePathStyle=true", Passphrase: "very-secret-passphrase",
		AWSAccessKeyID: "AKIDEXAMPLE", AWSSecretAccessKey: "very-secret-key",
	}
}

func TestHealStack(t *testing.T) {
	lab := healConfig()
	lab.SSHKey, lab.LocalSuffix, lab.LabEngine = []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nk\n"), "3fa2c1", "/var/run/docker.sock"
	noS3 := healConfig()
	noS3.AWSAccessKeyID, noS3.AWSSecretAccessKey = "", ""
	for _, c := range []struct {
		name        string
		in          HealConfig
		wantSecrets []string // targets under /run/secrets
		wantEnv     []string
		wantMounts  []string // "type:source->target"
	}{
		{"a hoster stack with an S3 backend gets its files, backend, passphrase and S3 keys as secrets", healConfig(),
			[]string{"Pulumi.yaml", "Pulumi.prod.yaml", "backend-url", "pulumi-passphrase", "aws-access-key-id", "aws-secret-access-key"},
			[]string{"PULUMI_BACKEND_URL_FILE=/run/secrets/backend-url", "PULUMI_CONFIG_PASSPHRASE_FILE=/run/secrets/pulumi-passphrase",
				"AWS_ACCESS_KEY_ID_FILE=/run/secrets/aws-access-key-id", "AWS_SECRET_ACCESS_KEY_FILE=/run/secrets/aws-secret-access-key", "SHOAL_PULUMI_DIR=/pulumi"},
			[]string{"tmpfs:->/tmp"}},
		{"a backend URL that carries its own access gets no S3 keys", noS3,
			[]string{"Pulumi.yaml", "Pulumi.prod.yaml", "backend-url", "pulumi-passphrase"},
			[]string{"PULUMI_BACKEND_URL_FILE=/run/secrets/backend-url"},
			[]string{"tmpfs:->/tmp"}},
		{"a local stack gets its generated key, its lab suffix and the lab's outer engine", lab,
			[]string{"Pulumi.yaml", "Pulumi.prod.yaml", "backend-url", "pulumi-passphrase", "aws-access-key-id", "aws-secret-access-key", "ssh-key"},
			[]string{"SHOAL_SSH_KEY_FILE=/run/secrets/ssh-key", "SHOAL_LOCAL_SUFFIX=3fa2c1", "DOCKER_HOST=unix:///shoal-lab/docker.sock", "SHOAL_LAB_ENGINE_SOCKET=/var/run/docker.sock"},
			[]string{"tmpfs:->/tmp", "bind:/shoal-lab/docker.sock->/shoal-lab/docker.sock"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := Heal(c.in)
			if err != nil {
				t.Fatal(err)
			}
			svcs, objs := specs(t, r)
			if len(svcs) != 1 {
				t.Fatalf("services = %v", svcs)
			}
			spec := svcs["heal"]
			if spec.Name != "shoal-heal_heal" {
				t.Errorf("name = %s", spec.Name)
			}
			cs := spec.TaskTemplate.ContainerSpec
			if cs.Image != c.in.Image {
				t.Errorf("image = %s", cs.Image)
			}
			if got := strings.Join(cs.Args, " "); got != "heal --stack prod --dir /run/secrets --in-cluster" {
				t.Errorf("args = %s", got)
			}
			if spec.Mode.Replicated == nil || *spec.Mode.Replicated.Replicas != 1 {
				t.Errorf("mode = %+v", spec.Mode)
			}
			if p := spec.TaskTemplate.Placement; p == nil || strings.Join(p.Constraints, ",") != "node.role == manager" {
				t.Errorf("placement = %+v", p)
			}
			rp := spec.TaskTemplate.RestartPolicy
			if rp == nil || rp.Condition != swarm.RestartPolicyConditionAny || rp.Delay == nil || *rp.Delay != 5*time.Second || rp.MaxAttempts != nil {
				t.Errorf("restart policy = %+v", rp)
			}
			res := spec.TaskTemplate.Resources
			if res == nil || res.Limits == nil || res.Limits.MemoryBytes != 1<<30 || res.Reservations == nil || res.Reservations.MemoryBytes != 64<<20 {
				t.Errorf("resources = %+v", res)
			}
			if spec.Labels["shoal.heal.stack"] != "prod" {
				t.Errorf("labels = %v", spec.Labels)
			}
			targets := map[string]bool{}
			for _, ref := range cs.Secrets {
				targets[ref.File.Name] = true
				if ref.File.Mode != 0o400 {
					t.Errorf("secret %s mode %o", ref.File.Name, ref.File.Mode)
				}
			}
			for _, want := range c.wantSecrets {
				if !targets[want] {
					t.Errorf("no secret %s among %v", want, targets)
				}
			}
			if len(targets) != len(c.wantSecrets) || len(objs.Secrets) != len(c.wantSecrets) {
				t.Errorf("secrets = %v (%d objects), want %v", targets, len(objs.Secrets), c.wantSecrets)
			}
			env := strings.Join(cs.Env, "\n")
			for _, want := range c.wantEnv {
				if !strings.Contains(env, want) {
					t.Errorf("env lacks %s:\n%s", want, env)
				}
			}
			// No secret is a literal in the environment, the arguments or
			// the compose file.
			for _, s := range []string{c.in.Passphrase, c.in.AWSSecretAccessKey, "s3://state", "OPENSSH"} {
				if s == "" {
					continue
				}
				for where, text := range map[string]string{"env": env, "args": strings.Join(cs.Args, " "), "compose": string(r.Stack.Compose)} {
					if strings.Contains(text, s) {
						t.Errorf("%s carries a secret (%.8s...)", where, s)
					}
				}
			}
			var mounts []string
			for _, m := range cs.Mounts {
				mounts = append(mounts, string(m.Type)+":"+m.Source+"->"+m.Target)
				if m.Type == mount.TypeTmpfs && (m.TmpfsOptions == nil || m.TmpfsOptions.SizeBytes != 256<<20) {
					t.Errorf("tmpfs = %+v", m.TmpfsOptions)
				}
			}
			if strings.Join(mounts, ",") != strings.Join(c.wantMounts, ",") {
				t.Errorf("mounts = %v, want %v", mounts, c.wantMounts)
			}
		})
	}
}

func TestHealStackSecretsAreNamedByContent(t *testing.T) {
	names := func(c HealConfig) map[string]bool {
		r, err := Heal(c)
		if err != nil {
			t.Fatal(err)
		}
		_, objs := specs(t, r)
		out := map[string]bool{}
		for _, s := range objs.Secrets {
			out[s.Name] = true
		}
		return out
	}
	a, b := names(healConfig()), names(healConfig())
	for n := range a {
		if !b[n] {
			t.Errorf("rendering twice renamed %s: a second shoal up would not be a no-op", n)
		}
	}
	c := healConfig()
	c.StackFile = append(c.StackFile, "# edited\n"...)
	changed := 0
	for n := range names(c) {
		if !a[n] {
			changed++
			if !strings.HasPrefix(n, "shoal-heal_stackfile_") {
				t.Errorf("an edited stack file renamed %s", n)
			}
		}
	}
	if changed != 1 {
		t.Errorf("an edited stack file renamed %d secrets, want 1", changed)
	}
}

func TestHealStackRefusesWhatCannotWork(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*HealConfig)
		want string
	}{
		{"a file backend cannot be reached from the cluster", func(c *HealConfig) { c.Backend = "file:///home/me/.shoal/pulumi/state" }, "cannot reach the state backend"},
		{"no backend is the default file backend", func(c *HealConfig) { c.Backend = "" }, "cannot reach the state backend"},
		{"no image", func(c *HealConfig) { c.Image = "" }, "the heal image"},
		{"half the S3 credentials", func(c *HealConfig) { c.AWSSecretAccessKey = "" }, "both S3 credentials or neither"},
		{"no passphrase", func(c *HealConfig) { c.Passphrase = "" }, "the secrets passphrase"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := healConfig()
			c.edit(&in)
			if _, err := Heal(in); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestCheckHealBackend(t *testing.T) {
	for _, c := range []struct {
		backend string
		shared  bool // nil error
		file    bool // a *NotSharedBackendError
	}{
		{"s3://state?endpoint=http://10.0.0.5:7070&region=us-east-1", true, false},
		{"s3://bucket/prefix", true, false},
		{"file:///root/.shoal/pulumi/state", false, true},
		{"file://~", false, true},
		{"", false, true},
		{"/var/state", false, true},
		{"https://api.pulumi.com", false, false},
		{"gs://bucket", false, false},
		{"s3://", false, false},
	} {
		err := CheckHealBackend(c.backend)
		if (err == nil) != c.shared {
			t.Errorf("%q: err = %v", c.backend, err)
		}
		var nse *NotSharedBackendError
		if errors.As(err, &nse) != c.file {
			t.Errorf("%q: %v is a file-backend refusal: %v, want %v", c.backend, err, errors.As(err, &nse), c.file)
		}
		if c.file && !strings.Contains(err.Error(), "--backend 's3://") {
			t.Errorf("%q: %v does not say what to use instead", c.backend, err)
		}
	}
}

// The scheduled backup service (shoal:backup.schedule with heal off) is
// the heal image with heal's secrets, running `shoal backup --schedule`;
// both know the node their task runs on (a service template), so a backup
// never stops its own engine.
func TestBackupStackIsTheHealImageRunningTheSchedule(t *testing.T) {
	r, err := Backup(healConfig())
	if err != nil {
		t.Fatal(err)
	}
	if r.Stack.Name != BackupStackName {
		t.Errorf("stack = %s", r.Stack.Name)
	}
	svcs, objs := specs(t, r)
	spec, ok := svcs["backup"]
	if !ok || len(svcs) != 1 || spec.Name != "shoal-backup_backup" {
		t.Fatalf("services = %v", svcs)
	}
	cs := spec.TaskTemplate.ContainerSpec
	if got := strings.Join(cs.Args, " "); got != "backup --schedule --stack prod --dir /run/secrets --in-cluster" {
		t.Errorf("args = %s", got)
	}
	if *spec.Mode.Replicated.Replicas != 1 || strings.Join(spec.TaskTemplate.Placement.Constraints, ",") != "node.role == manager" {
		t.Errorf("mode %+v placement %+v", spec.Mode, spec.TaskTemplate.Placement)
	}
	env := strings.Join(cs.Env, "\n")
	for _, want := range []string{"SHOAL_NODE_ID={{.Node.ID}}", "AWS_SECRET_ACCESS_KEY_FILE=/run/secrets/aws-secret-access-key"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	for _, s := range objs.Secrets {
		if !strings.HasPrefix(s.Name, "shoal-backup_") {
			t.Errorf("secret %s is not the backup stack's", s.Name)
		}
	}
	for _, secret := range []string{"very-secret-key", "very-secret-passphrase"} {
		if strings.Contains(env+strings.Join(cs.Args, " ")+string(r.Stack.Compose), secret) {
			t.Errorf("a secret is a literal in the spec")
		}
	}
	h, _ := Heal(healConfig())
	hs, _ := specs(t, h)
	if !strings.Contains(strings.Join(hs["heal"].TaskTemplate.ContainerSpec.Env, "\n"), "SHOAL_NODE_ID={{.Node.ID}}") {
		t.Errorf("the heal service does not know its node")
	}
}
