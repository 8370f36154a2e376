package release

import (
	"context"
	"fmt"

	"github.com/moby/moby/api/types/swarm"

	"github.com/shoalops/shoal/stacks/registry"
)

// PlanRollback decides, from the history, where each selected service goes
// back to: PreviousGood of its current digest. A service with nothing to go
// back to is an *InputError; nothing has changed then.
func PlanRollback(ctx context.Context, sw Swarm, hist History, req Request) ([]Change, map[string]swarm.Service, error) {
	stack := Stack(req.Project, req.Env)
	all, err := sw.Services(ctx, stack)
	if err != nil {
		return nil, nil, err
	}
	sel, err := Select(stack, all, req.Services)
	if err != nil {
		return nil, nil, err
	}
	svcs := map[string]swarm.Service{}
	var changes []Change
	for _, s := range sel {
		short := ShortName(stack, s.Spec.Name)
		recs, err := hist.List(ctx, req.Project, req.Env, short)
		if err != nil {
			return nil, nil, err
		}
		cur := specImage(s)
		target, ok := PreviousGood(recs, short, Digest(cur))
		if !ok {
			return nil, nil, &InputError{Msg: fmt.Sprintf("service %s: the release history has no earlier good digest than %s to go back to; nothing was changed", short, short2(Digest(cur)))}
		}
		repo, oldTag, _, err := registry.Split(cur)
		if err != nil {
			return nil, nil, err
		}
		img := target.NewImage
		if Digest(img) == "" {
			img = repo + "@" + target.NewDigest
		}
		changes = append(changes, Change{Service: s.Spec.Name, Short: short, ID: s.ID, Repo: repo, OldTag: oldTag, Tag: target.Tag, Old: cur, New: img})
		svcs[s.ID] = s
	}
	return changes, svcs, nil
}

func short2(d string) string {
	if d == "" {
		return "its image (no digest)"
	}
	return d
}

// SetImageUpdater applies a change by setting the image through a Swarm:
// how a rollback reaches an exact digest on either path (a webhook can only
// name a tag).
type SetImageUpdater struct {
	Swarm Swarm
	Path  string // "ssh" or "portainer"
}

var _ Updater = (*SetImageUpdater)(nil)

func (u *SetImageUpdater) Apply(ctx context.Context, svc swarm.Service, ch Change) error {
	return u.Swarm.SetImage(ctx, svc, ch.New, ch.Force)
}

func (u *SetImageUpdater) Via() string { return u.Path }
