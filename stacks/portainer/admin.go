package portainer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

const pathAdminInit = "/api/users/admin/init"

// MinPasswordLength is Portainer's default RequiredPasswordLength: a shorter
// administrator password is refused.
const MinPasswordLength = 12

// Status is GET /api/system/status.
type Status struct {
	Version    string `json:"Version"`
	InstanceID string `json:"InstanceID"`
}

// Status returns the instance's version and id (public).
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.do(ctx, call{method: http.MethodGet, path: "/api/system/status", public: true}, &s)
	return s, err
}

// AdminExists reports whether the administrator was created
// (GET /api/users/admin/check: 204 yes, 404 not yet).
func (c *Client) AdminExists(ctx context.Context) (bool, error) {
	err := c.do(ctx, call{method: http.MethodGet, path: "/api/users/admin/check", public: true, want: []int{http.StatusNoContent}}, nil)
	if IsStatus(err, http.StatusNotFound) {
		return false, nil
	}
	return err == nil, err
}

// User is Portainer's user object, without the password hash.
type User struct {
	ID       int    `json:"Id"`
	Username string `json:"Username"`
	Role     int    `json:"Role"`
}

// AdminInit creates the administrator. It must run within 5 minutes of
// Portainer's start: afterwards the error matches ErrAdminInitTimeout. A
// second call fails with an error matching ErrAlreadyInitialised.
func (c *Client) AdminInit(ctx context.Context, username string, password Secret) (User, error) {
	if len(password.Reveal()) < MinPasswordLength {
		return User{}, fmt.Errorf("portainer admin init: the password must have at least %d characters", MinPasswordLength)
	}
	var u User
	err := c.do(ctx, call{method: http.MethodPost, path: pathAdminInit, public: true,
		body: credentials{Username: username, Password: password.Reveal()}}, &u)
	return u, err
}

// EnsureAdmin creates the administrator unless it exists; created says
// whether this call did. An instance that timed out is an error matching
// ErrAdminInitTimeout.
func (c *Client) EnsureAdmin(ctx context.Context, username string, password Secret) (created bool, err error) {
	exists, err := c.AdminExists(ctx)
	if err != nil {
		return false, err
	}
	if exists {
		return false, nil
	}
	if _, err := c.AdminInit(ctx, username, password); err != nil {
		if errors.Is(err, ErrAlreadyInitialised) {
			return false, nil // someone else was quicker
		}
		return false, err
	}
	return true, nil
}

type credentials struct {
	Username string `json:"Username"`
	Password string `json:"Password"`
}

// Login authenticates and returns a copy of the client that sends the JWT
// (valid 8 hours). Wrong credentials are Portainer's 422.
func (c *Client) Login(ctx context.Context, username string, password Secret) (*Client, error) {
	var out struct {
		JWT Secret `json:"jwt"`
	}
	if err := c.do(ctx, call{method: http.MethodPost, path: "/api/auth", public: true,
		body: credentials{Username: username, Password: password.Reveal()}}, &out); err != nil {
		return nil, err
	}
	if out.JWT == "" {
		return nil, errors.New("portainer POST /api/auth: answer has no jwt")
	}
	return c.with(WithJWT(out.JWT), WithAPIKey("")), nil
}

// APIKey is a created API key; Raw is shown only once, at creation.
type APIKey struct {
	ID          int    `json:"id"`
	UserID      int    `json:"userId"`
	Description string `json:"description"`
	Prefix      string `json:"prefix"`
	Raw         Secret `json:"-"`
}

// CreateAPIKey creates an API key for user userID. Portainer requires a JWT
// (not an API key) and the user's current password.
func (c *Client) CreateAPIKey(ctx context.Context, userID int, description string, password Secret) (APIKey, error) {
	var out struct {
		Raw Secret `json:"rawAPIKey"`
		Key APIKey `json:"apiKey"`
	}
	body := struct {
		Description string `json:"description"`
		Password    string `json:"password"`
	}{description, password.Reveal()}
	err := c.do(ctx, call{method: http.MethodPost, path: "/api/users/" + strconv.Itoa(userID) + "/tokens",
		body: body, want: []int{http.StatusCreated}}, &out)
	out.Key.Raw = out.Raw
	return out.Key, err
}
