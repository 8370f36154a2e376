package release

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shoalops/shoal/stacks/vault"
)

// Record is one service's line in the release history.
type Record struct {
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"` // deploy or rollback
	Service   string    `json:"service"`
	Who       string    `json:"who"`
	Via       string    `json:"via"` // ssh or portainer
	RunURL    string    `json:"run_url,omitempty"`
	Tag       string    `json:"tag,omitempty"`
	OldImage  string    `json:"old_image"`
	NewImage  string    `json:"new_image"`
	OldDigest string    `json:"old_digest"`
	NewDigest string    `json:"new_digest"`
	Verdict   Verdict   `json:"verdict"`
	Error     string    `json:"error,omitempty"`
	Seconds   float64   `json:"seconds"`
}

// Records turns a report into history records: one per service that the
// run changed (or tried to); already-running services are not recorded.
func Records(rep Report, who, runURL string) []Record {
	var out []Record
	for _, s := range rep.Services {
		if s.Verdict == AlreadyRunning || s.Verdict == Untouched {
			continue
		}
		out = append(out, Record{At: rep.Started.UTC(), Kind: rep.Kind, Service: s.Service, Who: who, Via: rep.Via, RunURL: runURL,
			Tag: s.Tag, OldImage: s.OldImage, NewImage: s.NewImage, OldDigest: s.OldDigest, NewDigest: s.NewDigest,
			Verdict: s.Verdict, Error: s.Error, Seconds: rep.Duration.Round(time.Millisecond).Seconds()})
	}
	return out
}

// History stores release records where the team reads them back.
type History interface {
	Add(ctx context.Context, project, env string, recs []Record) error
	// List returns a service's records, newest first; service "" lists
	// every service of the project and environment.
	List(ctx context.Context, project, env, service string) ([]Record, error)
}

// HistoryFolder is the sub-folder of a project's environment folder in
// Vault that holds the history, one entry per service.
const HistoryFolder = ".releases"

// historyKey is the entry's key holding the records (JSON, newest first).
const historyKey = "releases"

// historyLimit bounds the records kept per service (older ones stay in
// the entry's earlier KV versions).
const historyLimit = 100

// VaultHistory keeps the history in Vault KV v2 at
// <mount>/<project folder>/.releases/<service> (secret/acme/dev/.releases/web
// with the default template), next to the webhook tokens: the CI policy
// that reads those can append here too, and `vault kv get` reads it.
type VaultHistory struct {
	Vault *vault.Client
}

var _ History = (*VaultHistory)(nil)

// Folder is the history folder below the mount ("acme/dev/.releases").
func (h *VaultHistory) Folder(project, env string) (string, error) {
	dir, err := h.Vault.Template().Dir(project, env)
	if err != nil {
		return "", err
	}
	if dir == "" {
		return HistoryFolder, nil
	}
	return dir + "/" + HistoryFolder, nil
}

// Add appends records, each to its service's entry, with check-and-set.
func (h *VaultHistory) Add(ctx context.Context, project, env string, recs []Record) error {
	dir, err := h.Folder(project, env)
	if err != nil {
		return err
	}
	by := map[string][]Record{}
	for _, r := range recs {
		by[r.Service] = append(by[r.Service], r)
	}
	for _, svc := range sortedKeys(by) {
		_, err := h.Vault.UpdateSecret(ctx, dir+"/"+svc, func(cur map[string]string) (map[string]string, error) {
			var old []Record
			if raw := cur[historyKey]; raw != "" {
				if err := json.Unmarshal([]byte(raw), &old); err != nil {
					return nil, fmt.Errorf("release history of %s is not shoal's JSON: %w", svc, err)
				}
			}
			all := append(append([]Record(nil), by[svc]...), old...)
			if len(all) > historyLimit {
				all = all[:historyLimit]
			}
			b, err := json.Marshal(all)
			if err != nil {
				return nil, err
			}
			return map[string]string{historyKey: string(b)}, nil
		})
		if err != nil {
			return fmt.Errorf("record the release of %s: %w", svc, err)
		}
	}
	return nil
}

// List reads the records of one service, or of all ("").
func (h *VaultHistory) List(ctx context.Context, project, env, service string) ([]Record, error) {
	dir, err := h.Folder(project, env)
	if err != nil {
		return nil, err
	}
	services := []string{service}
	if service == "" {
		if services, err = h.Vault.ListKeys(ctx, dir); err != nil {
			return nil, err
		}
	}
	var out []Record
	for _, svc := range services {
		s, ok, err := h.Vault.ReadSecret(ctx, dir+"/"+svc)
		if err != nil {
			return nil, err
		}
		if !ok || s.Data[historyKey] == "" {
			continue
		}
		var recs []Record
		if err := json.Unmarshal([]byte(s.Data[historyKey]), &recs); err != nil {
			return nil, fmt.Errorf("release history %s/%s: %w", dir, svc, err)
		}
		out = append(out, recs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

// PreviousGood is the image a rollback of a service goes back to: what
// the deploy that brought the current digest replaced (so rolling back
// twice walks further back, not to and fro), else the most recent
// successful release of another digest. recs are newest first; ok is false
// when the history knows nothing to go back to.
func PreviousGood(recs []Record, service, current string) (Record, bool) {
	for _, r := range recs {
		if r.Service == service && r.Kind == "deploy" && r.Verdict == Deployed && r.NewDigest == current && r.OldDigest != "" && r.OldDigest != current {
			return Record{Service: service, NewImage: r.OldImage, NewDigest: r.OldDigest, Tag: tagOf(r.OldImage)}, true
		}
	}
	for _, r := range recs {
		if r.Service == service && r.Verdict == Deployed && r.NewDigest != "" && r.NewDigest != current {
			return r, true
		}
	}
	return Record{}, false
}

func tagOf(image string) string {
	s := image
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
		return s[i+1:]
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
