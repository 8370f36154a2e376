package portainertest

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// minPasswordLength is Portainer's RequiredPasswordLength.
const minPasswordLength = 12

// jwtLifetime is how long a JWT from /api/auth is valid.
const jwtLifetime = 8 * time.Hour

type user struct {
	ID       int
	Username string
	Hash     string // bcrypt
}

// userJSON is the user object of POST /api/users/admin/init.
type userJSON struct {
	ID                      int               `json:"Id"`
	Username                string            `json:"Username"`
	Password                string            `json:"Password"`
	Role                    int               `json:"Role"`
	TokenIssueAt            int64             `json:"TokenIssueAt"`
	ThemeSettings           map[string]string `json:"ThemeSettings"`
	UseCache                bool              `json:"UseCache"`
	PortainerAuthorizations map[string]bool   `json:"PortainerAuthorizations"`
	EndpointAuthorizations  map[string]any    `json:"EndpointAuthorizations"`
}

type credentials struct {
	Username string `json:"Username"`
	Password string `json:"Password"`
}

func (c credentials) validate() error {
	if c.Username == "" {
		return errors.New("invalid username")
	}
	if c.Password == "" {
		return errors.New("invalid password")
	}
	return nil
}

func (s *Server) handleAdminCheck(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	s.mu.Lock()
	n := len(s.users)
	s.mu.Unlock()
	if n == 0 {
		writeError(w, http.StatusNotFound, "No administrator account found inside the database", "Object not found inside the database")
		return
	}
	writeEmpty(w)
}

func (s *Server) handleAdminInit(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	var c credentials
	if !decodePayload(w, r, &c) {
		return
	}
	if err := c.validate(); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid request payload", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.users) > 0 {
		writeError(w, http.StatusConflict, "Unable to create administrator user", "An administrator user already exists")
		return
	}
	if len(c.Password) < minPasswordLength {
		writeError(w, http.StatusBadRequest, "Password does not meet the requirements", "Password does not meet the requirements")
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(c.Password), bcrypt.DefaultCost)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "Unable to hash user password", err.Error())
		return
	}
	u := &user{ID: s.seq("user"), Username: c.Username, Hash: string(hash)}
	s.users = append(s.users, u)
	writeJSON(w, http.StatusOK, userJSON{
		ID: u.ID, Username: u.Username, Password: u.Hash, Role: 1,
		ThemeSettings: map[string]string{"color": ""},
	})
}

func (s *Server) userByName(name string) *user {
	for _, u := range s.users {
		if u.Username == name {
			return u
		}
	}
	return nil
}

func (s *Server) userByID(id int) *user {
	for _, u := range s.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func (s *Server) handleAuth(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	var c credentials
	if !decodePayload(w, r, &c) {
		return
	}
	if err := c.validate(); err != nil {
		writeError(w, http.StatusBadRequest, "Invalid request payload", err.Error())
		return
	}
	s.mu.Lock()
	u := s.userByName(c.Username)
	s.mu.Unlock()
	if u == nil || bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(c.Password)) != nil {
		writeError(w, http.StatusUnprocessableEntity, "Invalid credentials", "Unauthorized")
		return
	}
	now := s.now()
	token := s.signJWT(u, now)
	exp := now.Add(jwtLifetime)
	http.SetCookie(w, &http.Cookie{Name: "portainer_api_key", Value: token, Path: "/", Expires: exp, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{"jwt": token})
}

type jwtClaims struct {
	ID                  int    `json:"id"`
	Username            string `json:"username"`
	Role                int    `json:"role"`
	Scope               string `json:"scope"`
	ForceChangePassword bool   `json:"forceChangePassword"`
	Exp                 int64  `json:"exp"`
	Iat                 int64  `json:"iat"`
	Jti                 string `json:"jti"`
}

var b64 = base64.RawURLEncoding

func (s *Server) signJWT(u *user, now time.Time) string {
	header := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(jwtClaims{
		ID: u.ID, Username: u.Username, Role: 1, Scope: "default",
		Exp: now.Add(jwtLifetime).Unix(), Iat: now.Unix(), Jti: uuid4(),
	})
	signing := header + "." + b64.EncodeToString(claims)
	return signing + "." + b64.EncodeToString(s.mac(signing))
}

func (s *Server) mac(data string) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// parseJWT returns the user a valid, unexpired JWT names.
func (s *Server) parseJWT(token string) (*user, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, false
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.mac(parts[0]+"."+parts[1])) {
		return nil, false
	}
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, false
	}
	var c jwtClaims
	if json.Unmarshal(raw, &c) != nil || s.now().Unix() >= c.Exp {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByID(c.ID)
	return u, u != nil
}

// authKind says how a request authenticated.
type authKind int

const (
	authJWT authKind = iota + 1
	authAPIKey
)

type authedHandler func(w http.ResponseWriter, r *http.Request, p map[string]string, u *user, kind authKind)

// authed wraps a handler that needs a JWT (Bearer or cookie) or an API key.
func (s *Server) authed(h authedHandler) func(http.ResponseWriter, *http.Request, map[string]string) {
	return func(w http.ResponseWriter, r *http.Request, p map[string]string) {
		if key := r.Header.Get("X-API-Key"); key != "" {
			u, ok := s.useAPIKey(key)
			if !ok {
				writeError(w, http.StatusUnauthorized, "Invalid JWT token", "Unauthorized")
				return
			}
			h(w, r, p, u, authAPIKey)
			return
		}
		token := ""
		if a := r.Header.Get("Authorization"); a != "" {
			token = strings.TrimPrefix(a, "Bearer ")
		} else if c, err := r.Cookie("portainer_api_key"); err == nil {
			token = c.Value
		}
		if token == "" {
			writeError(w, http.StatusUnauthorized, "A valid authorization token is missing", "Unauthorized")
			return
		}
		u, ok := s.parseJWT(token)
		if !ok {
			writeError(w, http.StatusUnauthorized, "Invalid JWT token", "Unauthorized")
			return
		}
		h(w, r, p, u, authJWT)
	}
}

type apiKey struct {
	ID          int    `json:"id"`
	UserID      int    `json:"userId"`
	Description string `json:"description"`
	Prefix      string `json:"prefix"`
	DateCreated int64  `json:"dateCreated"`
	LastUsed    int64  `json:"lastUsed"`
	Digest      string `json:"digest,omitempty"`
}

func digestKey(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// useAPIKey finds the key's user and records its use.
func (s *Server) useAPIKey(raw string) (*user, bool) {
	d := digestKey(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.apiKeys {
		if subtle.ConstantTimeCompare([]byte(k.Digest), []byte(d)) == 1 {
			k.LastUsed = s.now().Unix()
			u := s.userByID(k.UserID)
			return u, u != nil
		}
	}
	return nil, false
}

func (s *Server) handleAPIKeyCreate(w http.ResponseWriter, r *http.Request, p map[string]string, u *user, kind authKind) {
	if kind != authJWT {
		writeError(w, http.StatusUnauthorized, "Auth not supported", "Authentication required")
		return
	}
	id, err := strconv.Atoi(p["id"])
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid user identifier route variable", err.Error())
		return
	}
	var body struct {
		Description string `json:"description"`
		Password    string `json:"password"`
	}
	if !decodePayload(w, r, &body) {
		return
	}
	if body.Description == "" {
		writeError(w, http.StatusBadRequest, "Invalid request payload", "invalid description: cannot be empty")
		return
	}
	if body.Password == "" {
		writeError(w, http.StatusBadRequest, "Invalid request payload", "invalid password: cannot be empty")
		return
	}
	if id != u.ID {
		writeError(w, http.StatusForbidden, "Permission denied to create user access token", "Unauthorized")
		return
	}
	if bcrypt.CompareHashAndPassword([]byte(u.Hash), []byte(body.Password)) != nil {
		writeError(w, http.StatusForbidden, "Current password doesn't match", "Current password does not match the password provided. Please try again")
		return
	}
	raw := "ptr_" + base64.StdEncoding.EncodeToString(randomBytes(32))
	s.mu.Lock()
	k := &apiKey{ID: s.seq("apikey"), UserID: u.ID, Description: body.Description, Prefix: raw[:7], DateCreated: s.now().Unix(), Digest: digestKey(raw)}
	s.apiKeys = append(s.apiKeys, k)
	out := *k
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, struct {
		RawAPIKey string `json:"rawAPIKey"`
		APIKey    apiKey `json:"apiKey"`
	}{raw, out})
}

func (s *Server) handleAPIKeyList(w http.ResponseWriter, _ *http.Request, p map[string]string, u *user, _ authKind) {
	id, err := strconv.Atoi(p["id"])
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid user identifier route variable", err.Error())
		return
	}
	if id != u.ID {
		writeError(w, http.StatusForbidden, "Permission denied to get user access tokens", "Unauthorized")
		return
	}
	s.mu.Lock()
	out := []apiKey{}
	for _, k := range s.apiKeys {
		if k.UserID == id {
			c := *k
			c.Digest = ""
			out = append(out, c)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
