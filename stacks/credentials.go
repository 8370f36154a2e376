package stacks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// Credential is a login shoal generates (or is given back from Vault) for
// one of its stacks. Password is a secret: never log it, never put it in a
// command line; hand it to Vault or to Pulumi as a secret output.
type Credential struct {
	Stack    string `json:"stack"`
	Purpose  string `json:"purpose"`
	Username string `json:"username"`
	Password string `json:"-"`
}

// String never shows the password.
func (c Credential) String() string {
	return fmt.Sprintf("%s %s (user %s)", c.Stack, c.Purpose, c.Username)
}

// GoString keeps %#v from printing the password too.
func (c Credential) GoString() string { return "stacks.Credential{" + c.String() + "}" }

// Empty reports whether the credential has no password yet.
func (c Credential) Empty() bool { return c.Password == "" }

// randomPassword returns 32 random URL-safe characters (192 bits).
func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ensure fills in a random password when c has none.
func (c Credential) ensure(stack, purpose, user string) (Credential, error) {
	c.Stack, c.Purpose = stack, purpose
	if c.Username == "" {
		c.Username = user
	}
	if c.Password != "" {
		return c, nil
	}
	p, err := randomPassword()
	if err != nil {
		return c, err
	}
	c.Password = p
	return c, nil
}

// htpasswd renders "user:bcrypt-hash\n" (bcrypt is what Traefik's basicauth
// and distribution's htpasswd auth both accept).
func htpasswd(c Credential) ([]byte, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(c.Password), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("bcrypt: %w", err)
	}
	return []byte(c.Username + ":" + string(h) + "\n"), nil
}

// version names a generation of a credential for secret names: the same
// user and password give the same version, so a redeploy changes nothing,
// although bcrypt salts make every htpasswd file differ.
func version(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}
