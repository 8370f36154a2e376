package testlanghost

import (
	"slices"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestProgramEnvCarriesWhatTheEngineSaid(t *testing.T) {
	req := &pulumirpc.RunRequest{
		Project: "shoal", Stack: "local", Organization: "organization",
		Config:           map[string]string{"shoal:cluster": "c1"},
		ConfigSecretKeys: []string{"shoal:sshPrivateKey"},
		DryRun:           true, Parallel: 16, MonitorAddress: "127.0.0.1:4001",
		Info: &pulumirpc.ProgramInfo{RootDirectory: "/p", ProgramDirectory: "/p/cmd/shoal-program"},
	}
	env := ProgramEnv([]string{"HOME=/root", "PULUMI_STACK=stale"}, req, "127.0.0.1:4000")
	for _, want := range []string{
		"HOME=/root",
		"PULUMI_PROJECT=shoal", "PULUMI_STACK=local", "PULUMI_ORGANIZATION=organization",
		"PULUMI_ROOT_DIRECTORY=/p", `PULUMI_CONFIG={"shoal:cluster":"c1"}`,
		`PULUMI_CONFIG_SECRET_KEYS=["shoal:sshPrivateKey"]`, "PULUMI_DRY_RUN=true",
		"PULUMI_PARALLEL=16", "PULUMI_MONITOR=127.0.0.1:4001", "PULUMI_ENGINE=127.0.0.1:4000",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %s: %q", want, env)
		}
	}
	// The engine's value comes after the inherited one: exec keeps the last.
	if slices.Index(env, "PULUMI_STACK=local") < slices.Index(env, "PULUMI_STACK=stale") {
		t.Errorf("the inherited PULUMI_STACK wins: %q", env)
	}

	// Nothing said, nothing set; secret keys always a JSON list.
	env = ProgramEnv(nil, &pulumirpc.RunRequest{}, "e:1")
	if want := []string{"PULUMI_CONFIG_SECRET_KEYS=[]", "PULUMI_DRY_RUN=false", "PULUMI_PARALLEL=0", "PULUMI_ENGINE=e:1"}; !slices.Equal(env, want) {
		t.Errorf("empty request: %q, want %q", env, want)
	}
}

func TestParseArgsTakesTheEngineAddressAfterTheFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		err  bool
	}{
		{args: []string{"127.0.0.1:4000"}, want: "127.0.0.1:4000"},
		{args: []string{"--logtostderr", "-v=9", "--tracing", "http://t", "127.0.0.1:4000"}, want: "127.0.0.1:4000"},
		{args: nil, want: ""},
		{args: []string{"--unknown", "a"}, err: true},
		{args: []string{"a", "b"}, err: true},
	} {
		got, err := parseArgs(tc.args)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseArgs(%q) = %q, %v; want %q, error %v", tc.args, got, err, tc.want, tc.err)
		}
	}
}
