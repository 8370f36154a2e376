package vault

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestCredentialsFromEnv(t *testing.T) {
	files := map[string]string{"/run/token": "hvs.file\n", "/run/role": " role-1 ", "/run/secret": "secret-1\n", "/run/empty": "\n"}
	readFile := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, fs.ErrNotExist
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    Credentials
		wantErr string
	}{
		{name: "a token from the environment is used",
			env: map[string]string{"VAULT_TOKEN": "hvs.env"}, want: Credentials{Token: "hvs.env"}},
		{name: "a token from a file is trimmed",
			env: map[string]string{"VAULT_TOKEN_FILE": "/run/token"}, want: Credentials{Token: "hvs.file"}},
		{name: "a token wins over an approle",
			env:  map[string]string{"VAULT_TOKEN": "hvs.env", "VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s"},
			want: Credentials{Token: "hvs.env"}},
		{name: "an approle from files with a custom mount",
			env:  map[string]string{"VAULT_ROLE_ID_FILE": "/run/role", "VAULT_SECRET_ID_FILE": "/run/secret", "VAULT_APPROLE_MOUNT": "ci"},
			want: Credentials{RoleID: "role-1", SecretID: "secret-1", AppRoleMount: "ci"}},
		{name: "an approle from the environment",
			env: map[string]string{"VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s"}, want: Credentials{RoleID: "r", SecretID: "s"}},
		{name: "nothing set says which variables to set",
			env: map[string]string{}, wantErr: "set VAULT_TOKEN or VAULT_TOKEN_FILE"},
		{name: "a role id without a secret id is refused",
			env: map[string]string{"VAULT_ROLE_ID": "r"}, wantErr: "secret_id is not"},
		{name: "a variable and its file together are refused",
			env: map[string]string{"VAULT_TOKEN": "a", "VAULT_TOKEN_FILE": "/run/token"}, wantErr: "both VAULT_TOKEN and VAULT_TOKEN_FILE"},
		{name: "a missing file is an error naming the variable",
			env: map[string]string{"VAULT_SECRET_ID_FILE": "/nope", "VAULT_ROLE_ID": "r"}, wantErr: "read VAULT_SECRET_ID_FILE"},
		{name: "an empty file is refused",
			env: map[string]string{"VAULT_TOKEN_FILE": "/run/empty"}, wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CredentialsFromEnv(func(k string) string { return tt.env[k] }, readFile)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
			if got.Token == "" && got.appRoleMount() == "" {
				t.Fatal("no approle mount")
			}
		})
	}
	if _, err := CredentialsFromEnv(func(k string) string { return map[string]string{"VAULT_TOKEN_FILE": "/nope"}[k] }, readFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing token file should wrap fs.ErrNotExist, got %v", err)
	}
}

func TestAPIErrorMessages(t *testing.T) {
	tests := []struct {
		name string
		err  *APIError
		want string
	}{
		{name: "a multierror rendering is flattened",
			err:  &APIError{Op: "write", Path: "secret/data/acme/dev/web", Status: 403, Errors: []string{"1 error occurred:\n\t* permission denied\n\n"}},
			want: "vault write secret/data/acme/dev/web: 403 permission denied"},
		{name: "two errors are joined",
			err:  &APIError{Op: "read", Path: "secret/data/x", Status: 403, Errors: []string{"2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"}},
			want: "vault read secret/data/x: 403 permission denied, invalid token"},
		{name: "an empty errors array falls back to the status",
			err:  &APIError{Op: "read", Path: "secret/data/x", Status: 404, Errors: []string{}},
			want: "vault read secret/data/x: 404 not found"},
		{name: "a plain message is kept",
			err:  &APIError{Op: "login", Path: "auth/approle/login", Status: 400, Errors: []string{"invalid role or secret ID"}},
			want: "vault login auth/approle/login: 400 invalid role or secret ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q; want %q", got, tt.want)
			}
		})
	}
}
