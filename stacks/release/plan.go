package release

import (
	"fmt"
	"sort"
	"strings"

	"github.com/moby/moby/api/types/swarm"
)

// Change is what a run does to one service.
type Change struct {
	Service string // full swarm name, e.g. shop-dev_web
	Short   string // name within the stack, e.g. web
	ID      string
	Repo    string // repository with its registry host
	OldTag  string // the tag of the image the service ran
	Tag     string // the tag asked for
	Old     string // the image reference the service ran (the rollback target)
	New     string // repo:tag@digest
	Force   bool   // restart although the digest runs already
	// Skip is set when the digest already runs and nothing is forced.
	Skip bool
}

// OldDigest and NewDigest are the digests of Old and New.
func (c Change) OldDigest() string { return Digest(c.Old) }
func (c Change) NewDigest() string { return Digest(c.New) }

// ShortName is a service's name within its stack: "web" for "shop-dev_web".
func ShortName(stack, name string) string {
	if strings.HasPrefix(name, stack+"_") {
		return name[len(stack)+1:]
	}
	return name
}

// InputError is bad input found before anything changed: an unknown
// stack or service, a tag the registry does not have. The CLI exits 2.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Select picks the services of a stack by short name (none: all, sorted by
// name). An unknown name is an *InputError listing the stack's services.
func Select(stack string, svcs []swarm.Service, names []string) ([]swarm.Service, error) {
	if len(svcs) == 0 {
		return nil, &InputError{Msg: fmt.Sprintf("stack %s has no services on the swarm (is the project or environment misspelt, or the stack not deployed yet?)", stack)}
	}
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Spec.Name < svcs[j].Spec.Name })
	if len(names) == 0 {
		return svcs, nil
	}
	by := map[string]swarm.Service{}
	var known []string
	for _, s := range svcs {
		by[ShortName(stack, s.Spec.Name)] = s
		known = append(known, ShortName(stack, s.Spec.Name))
	}
	var out []swarm.Service
	seen := map[string]bool{}
	for _, n := range names {
		s, ok := by[ShortName(stack, n)]
		if !ok {
			return nil, &InputError{Msg: fmt.Sprintf("stack %s has no service %q (services: %s)", stack, n, strings.Join(known, ", "))}
		}
		if !seen[s.ID] {
			out = append(out, s)
			seen[s.ID] = true
		}
	}
	return out, nil
}

// PlanChange decides what to do with one service, given the digest the tag
// resolved to and whether the service already runs it everywhere (running:
// Judge against the service's own image said Done).
func PlanChange(stack string, svc swarm.Service, repo, oldTag, tag, digest string, running, force bool) Change {
	ch := Change{
		Service: svc.Spec.Name, Short: ShortName(stack, svc.Spec.Name), ID: svc.ID,
		Repo: repo, OldTag: oldTag, Tag: tag, Old: specImage(svc),
		New: repo + ":" + tag + "@" + digest, Force: force,
	}
	ch.Skip = !force && running && Digest(ch.Old) == digest
	return ch
}
