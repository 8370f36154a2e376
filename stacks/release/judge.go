package release

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

// Phase is where a service's rollout stands.
type Phase string

const (
	// Pending: the update is under way, or has not started yet.
	PhasePending Phase = "pending"
	// Done: every task the service wants runs the wanted image and the
	// update (or rollback) completed.
	PhaseDone Phase = "done"
	// Failed: the update cannot finish on its own (paused, tasks failing,
	// or the service is on another image than wanted); shoal must roll back.
	PhaseFailed Phase = "failed"
	// SwarmRollingBack and SwarmRolledBack: the swarm itself is rolling, or
	// rolled, the service back (update_config failure_action rollback).
	PhaseSwarmRollingBack Phase = "swarm-rolling-back"
	PhaseSwarmRolledBack  Phase = "swarm-rolled-back"
)

// Judgement is what Judge concluded about one service.
type Judgement struct {
	Phase            Phase
	Running, Desired int // tasks running the wanted image / tasks wanted
	Reason           string
	// Errors are the errors of tasks on the wanted image that failed since
	// the change, newest first, deduplicated (at most 3).
	Errors []string
	// CompletedAt is the swarm's UpdateStatus.CompletedAt (engine clock)
	// once the update or rollback completed.
	CompletedAt time.Time
	// Rollback: the image watched for is the one the service ran before.
	Rollback bool
}

// Line renders a judgement as a progress line.
func (j Judgement) Line() string {
	which := "new"
	if j.Rollback {
		which = "previous"
	}
	s := fmt.Sprintf("%d/%d on the %s image", j.Running, j.Desired, which)
	if j.Reason != "" {
		s += ": " + j.Reason
	}
	if len(j.Errors) > 0 {
		s += "; task error: " + j.Errors[0]
	}
	return s
}

// Digest returns the digest of an image reference ("" when it has none).
func Digest(image string) string {
	if i := strings.LastIndex(image, "@"); i >= 0 {
		return image[i+1:]
	}
	return ""
}

// sameImage reports whether a task image is the wanted one: by digest when
// want has one, else by the whole reference.
func sameImage(have, want string) bool {
	if d := Digest(want); d != "" {
		return Digest(have) == d
	}
	return have == want
}

func taskImage(t swarm.Task) string {
	if t.Spec.ContainerSpec == nil {
		return ""
	}
	return t.Spec.ContainerSpec.Image
}

func specImage(s swarm.Service) string {
	if s.Spec.TaskTemplate.ContainerSpec == nil {
		return ""
	}
	return s.Spec.TaskTemplate.ContainerSpec.Image
}

// Judge decides from one look at a service and its tasks how its rollout
// to want (an image reference, normally image@digest) stands. since is the
// engine time of the change (the service's UpdatedAt after it): failed
// tasks before it do not count. rollback says that the change being watched
// is a rollback (shoal's or the swarm's), so a completed rollback is Done.
// failAfter failed tasks on the new image, while the swarm does not handle
// the failure itself, make the rollout Failed.
func Judge(svc swarm.Service, tasks []swarm.Task, want string, since time.Time, rollback bool, failAfter int) Judgement {
	j := Judgement{Rollback: rollback}
	failed := 0
	type te struct {
		at  time.Time
		msg string
	}
	var errs []te
	wanting := 0
	for _, t := range tasks {
		if t.ServiceID != "" && t.ServiceID != svc.ID {
			continue
		}
		img := taskImage(t)
		if t.DesiredState == swarm.TaskStateRunning {
			wanting++
			if t.Status.State == swarm.TaskStateRunning && sameImage(img, want) {
				j.Running++
			}
		}
		bad := t.Status.State == swarm.TaskStateFailed || t.Status.State == swarm.TaskStateRejected
		if bad && sameImage(img, want) && !t.Status.Timestamp.Before(since) {
			failed++
			msg := t.Status.Err
			if msg == "" {
				msg = t.Status.Message
			}
			errs = append(errs, te{t.Status.Timestamp, fmt.Sprintf("%s: %s", t.Status.State, msg)})
		}
	}
	sort.SliceStable(errs, func(a, b int) bool { return errs[a].at.After(errs[b].at) })
	seen := map[string]bool{}
	for _, e := range errs {
		if !seen[e.msg] && len(j.Errors) < 3 {
			j.Errors = append(j.Errors, e.msg)
		}
		seen[e.msg] = true
	}
	switch {
	case svc.Spec.Mode.Replicated != nil && svc.Spec.Mode.Replicated.Replicas != nil:
		j.Desired = int(*svc.Spec.Mode.Replicated.Replicas)
	default:
		j.Desired = max(wanting, 1)
	}
	allOn := j.Running >= j.Desired && j.Running == wanting

	u := svc.UpdateStatus
	state := swarm.UpdateState("")
	msg := ""
	if u != nil {
		state, msg = u.State, u.Message
		if u.CompletedAt != nil {
			j.CompletedAt = *u.CompletedAt
		}
	}
	switch state {
	case swarm.UpdateStateRollbackStarted:
		j.Phase, j.Reason = PhaseSwarmRollingBack, "rolling back: "+msg
		if rollback {
			j.Phase = PhasePending
		}
		return j
	case swarm.UpdateStateRollbackCompleted:
		if rollback {
			if allOn {
				j.Phase, j.Reason = PhaseDone, "rollback completed"
			} else {
				j.Phase, j.Reason = PhasePending, "rollback completed, tasks starting"
			}
			return j
		}
		j.Phase, j.Reason = PhaseSwarmRolledBack, "the swarm rolled the update back: "+msg
		return j
	case swarm.UpdateStatePaused, swarm.UpdateStateRollbackPaused:
		j.Phase, j.Reason = PhaseFailed, fmt.Sprintf("update %s: %s", state, msg)
		return j
	case swarm.UpdateStateUpdating:
		j.Phase, j.Reason = PhasePending, "updating"
		return j
	}
	// Completed, or not started yet (the engine clears the status on a new
	// spec until the updater picks it up).
	if si := specImage(svc); !sameImage(si, want) {
		j.Phase = PhaseFailed
		if Digest(si) == "" {
			j.Reason = fmt.Sprintf("the service's image is %s, not pinned to %s (whoever updated it could not resolve the digest at the registry)", si, Digest(want))
		} else {
			j.Reason = fmt.Sprintf("the service's image is %s, not the wanted %s", si, want)
		}
		return j
	}
	switch {
	case allOn && (state == swarm.UpdateStateCompleted || state == ""):
		j.Phase = PhaseDone
		if state == "" {
			j.Reason = "running"
		} else {
			j.Reason = "update completed"
		}
	case failed >= failAfter:
		j.Phase, j.Reason = PhaseFailed, fmt.Sprintf("%d tasks on the new image failed", failed)
	default:
		j.Phase = PhasePending
		if state == swarm.UpdateStateCompleted {
			j.Reason = "update completed, tasks starting"
		} else {
			j.Reason = "waiting for the update to start"
		}
	}
	return j
}
