package host

import (
	"context"
	"fmt"

	"github.com/shoalops/shoal/bootstrap/remote"
)

// Report says what Prepare found and did on one host.
type Report struct {
	Facts     Facts
	Done      []Action
	Reconnect bool // the SSH session must be reopened (new group membership)
}

// Prepare gathers facts, plans and applies the plan on one host. With dryRun
// it only plans. It is idempotent: on a prepared host Done is empty.
func Prepare(ctx context.Context, r remote.Runner, dryRun bool) (Report, error) {
	f, err := Gather(ctx, r)
	if err != nil {
		return Report{}, err
	}
	acts, err := Plan(f)
	if err != nil {
		return Report{Facts: f}, err
	}
	rep := Report{Facts: f}
	if dryRun {
		rep.Done = acts
		return rep, nil
	}
	for _, a := range acts {
		if _, err := r.Run(ctx, a.Cmd); err != nil {
			return rep, fmt.Errorf("%s: %w", a.Name, err)
		}
		rep.Done = append(rep.Done, a)
	}
	rep.Reconnect = NeedsReconnect(rep.Done)
	return rep, nil
}
