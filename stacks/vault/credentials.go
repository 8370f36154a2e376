package vault

import (
	"errors"
	"fmt"
	"strings"
)

// Credentials are how the client logs in: a token, or an AppRole role ID and
// secret ID. They come from the environment or files (CredentialsFromEnv),
// never from command-line arguments. String never shows a secret.
type Credentials struct {
	Token string

	RoleID, SecretID string
	AppRoleMount     string // auth mount of the AppRole method; "" means "approle"
}

// Method names the login method: "token", "approle" or "" when empty.
func (c Credentials) Method() string {
	switch {
	case c.Token != "":
		return "token"
	case c.RoleID != "" || c.SecretID != "":
		return "approle"
	}
	return ""
}

func (c Credentials) String() string {
	switch c.Method() {
	case "token":
		return "vault token <redacted>"
	case "approle":
		return fmt.Sprintf("vault approle at auth/%s (role_id and secret_id <redacted>)", c.appRoleMount())
	}
	return "no vault credentials"
}

// GoString keeps %#v from printing the secrets.
func (c Credentials) GoString() string { return "vault.Credentials{" + c.String() + "}" }

func (c Credentials) appRoleMount() string {
	if m := strings.Trim(c.AppRoleMount, "/"); m != "" {
		return m
	}
	return "approle"
}

// Validate checks that exactly one method is complete.
func (c Credentials) Validate() error {
	switch {
	case c.Token != "" && (c.RoleID != "" || c.SecretID != ""):
		return errors.New("vault credentials: both a token and an AppRole are set; set only one")
	case c.Token != "":
		return nil
	case c.RoleID == "" && c.SecretID == "":
		return errors.New("no vault credentials: set VAULT_TOKEN or VAULT_TOKEN_FILE, or VAULT_ROLE_ID(_FILE) and VAULT_SECRET_ID(_FILE)")
	case c.RoleID == "":
		return errors.New("vault approle: secret_id is set but role_id is not (VAULT_ROLE_ID or VAULT_ROLE_ID_FILE)")
	case c.SecretID == "":
		return errors.New("vault approle: role_id is set but secret_id is not (VAULT_SECRET_ID or VAULT_SECRET_ID_FILE)")
	}
	return nil
}

// CredentialsFromEnv reads credentials through getenv and readFile (pass
// os.Getenv and os.ReadFile; tests pass maps). Each value comes from NAME or
// from the file named by NAME_FILE, never both; file contents are trimmed.
// A token (VAULT_TOKEN) wins over an AppRole (VAULT_ROLE_ID, VAULT_SECRET_ID,
// auth mount VAULT_APPROLE_MOUNT, default "approle"): when a token is set the
// AppRole variables are ignored.
func CredentialsFromEnv(getenv func(string) string, readFile func(string) ([]byte, error)) (Credentials, error) {
	get := func(name string) (string, error) {
		v, file := getenv(name), getenv(name+"_FILE")
		switch {
		case v != "" && file != "":
			return "", fmt.Errorf("both %s and %s_FILE are set; set only one", name, name)
		case file != "":
			b, err := readFile(file)
			if err != nil {
				return "", fmt.Errorf("read %s_FILE: %w", name, err)
			}
			s := strings.TrimSpace(string(b))
			if s == "" {
				return "", fmt.Errorf("%s_FILE %s is empty", name, file)
			}
			return s, nil
		}
		return v, nil
	}
	var c Credentials
	var err error
	if c.Token, err = get("VAULT_TOKEN"); err != nil {
		return Credentials{}, err
	}
	if c.Token != "" {
		return c, nil
	}
	if c.RoleID, err = get("VAULT_ROLE_ID"); err != nil {
		return Credentials{}, err
	}
	if c.SecretID, err = get("VAULT_SECRET_ID"); err != nil {
		return Credentials{}, err
	}
	c.AppRoleMount = getenv("VAULT_APPROLE_MOUNT")
	return c, c.Validate()
}
