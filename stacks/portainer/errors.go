package portainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// APIError is an answer of Portainer that is not the expected success, with
// Portainer's own message and details ({"message", "details"}).
type APIError struct {
	Method, Path string // the request; secrets in the path are redacted
	Status       int
	Message      string // Portainer's summary, e.g. "A webhook for this resource already exists"
	Details      string // the underlying error, e.g. a Docker daemon's error text
	// RedirectReason is Portainer's Redirect-Reason header; "AdminInitTimeout"
	// means the instance disabled itself and must be restarted.
	RedirectReason string
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "portainer %s %s: %d", e.Method, e.Path, e.Status)
	if e.Message != "" {
		b.WriteString(" " + e.Message)
	} else {
		b.WriteString(" " + http.StatusText(e.Status))
	}
	if e.Details != "" && e.Details != e.Message {
		b.WriteString(": " + e.Details)
	}
	return b.String()
}

// AdminInitTimedOut reports Portainer's 303 with Redirect-Reason
// AdminInitTimeout: no administrator was created within 5 minutes of its
// start, and every API call fails until it is restarted.
func (e *APIError) AdminInitTimedOut() bool {
	return e.Status == http.StatusSeeOther && e.RedirectReason == "AdminInitTimeout"
}

// ErrAdminInitTimeout is matched (errors.Is) by an *APIError for which
// AdminInitTimedOut is true.
var ErrAdminInitTimeout = errors.New("portainer disabled itself: no administrator was created within 5 minutes of its start; restart it")

// ErrAlreadyInitialised is matched (errors.Is) by the 409 of a second
// administrator initialisation.
var ErrAlreadyInitialised = errors.New("portainer's administrator already exists")

// Is lets errors.Is match the sentinel errors above.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrAdminInitTimeout:
		return e.AdminInitTimedOut()
	case ErrAlreadyInitialised:
		return e.Status == http.StatusConflict && e.Path == pathAdminInit
	}
	return false
}

func newAPIError(method, path string, resp *http.Response, body []byte) *APIError {
	e := &APIError{Method: method, Path: path, Status: resp.StatusCode, RedirectReason: resp.Header.Get("Redirect-Reason")}
	var m struct {
		Message string `json:"message"`
		Details string `json:"details"`
	}
	if json.Unmarshal(body, &m) == nil {
		e.Message, e.Details = m.Message, m.Details
	} else if s := strings.TrimSpace(string(body)); s != "" && len(s) < 512 {
		e.Details = s
	}
	return e
}

// IsStatus reports whether err is an *APIError with that status.
func IsStatus(err error, status int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == status
}
