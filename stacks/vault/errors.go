package vault

import (
	"errors"
	"fmt"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
)

// APIError is an error answer of the Vault server. Callers branch on Status
// (403 permission denied or bad token, 400 bad request or check-and-set
// mismatch, 503 sealed). It never carries a token: Vault does not echo
// request bodies, and the messages are scrubbed of every secret the client
// knows anyway.
type APIError struct {
	Op     string   // "read", "write", "list", "delete", "login"
	Path   string   // API path below /v1/, e.g. "secret/data/acme/dev/web"
	Status int      // HTTP status
	Errors []string // Vault's "errors" array, as sent
}

func (e *APIError) Error() string {
	msgs := make([]string, 0, len(e.Errors))
	for _, m := range e.Errors {
		if m = cleanMessage(m); m != "" {
			msgs = append(msgs, m)
		}
	}
	detail := strings.Join(msgs, "; ")
	if detail == "" {
		detail = statusText(e.Status)
	}
	return fmt.Sprintf("vault %s %s: %d %s", e.Op, e.Path, e.Status, detail)
}

// Forbidden reports a 403: no token, a bad token, or a policy that does not allow the call.
func (e *APIError) Forbidden() bool { return e.Status == 403 }

// cleanMessage unwraps go-multierror's rendering
// ("1 error occurred:\n\t* permission denied\n\n") into "permission denied".
func cleanMessage(m string) string {
	m = strings.TrimSpace(m)
	if i := strings.Index(m, "occurred:"); i >= 0 && strings.Contains(m, "\n\t* ") {
		var parts []string
		for _, line := range strings.Split(m[i+len("occurred:"):], "\n") {
			if line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "*")); line != "" {
				parts = append(parts, line)
			}
		}
		return strings.Join(parts, ", ")
	}
	return m
}

func statusText(status int) string {
	switch status {
	case 400:
		return "bad request"
	case 403:
		return "permission denied"
	case 404:
		return "not found"
	case 503:
		return "vault is sealed or unavailable"
	}
	return "error"
}

// wrapErr turns an error of the api package into *APIError when the server
// answered, and otherwise into a plain error naming the operation and path.
// Every secret in secrets is replaced by <redacted> in the result.
func wrapErr(op, path string, err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		msgs := make([]string, len(re.Errors))
		for i, m := range re.Errors {
			msgs[i] = redact(m, secrets...)
		}
		return &APIError{Op: op, Path: path, Status: re.StatusCode, Errors: msgs}
	}
	return &transportError{msg: redact(fmt.Sprintf("vault %s %s: %v", op, path, err), secrets...), err: err}
}

// transportError is a failure without an answer (connection refused, timeout,
// cancelled). Unwrap gives the cause for errors.Is(err, context.Canceled).
type transportError struct {
	msg string
	err error
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.err }

func redact(s string, secrets ...string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	return s
}
