package heal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/errdefs"
	swarmtypes "github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// One writer per cluster: the heal lease lives in the swarm itself, as the
// labels of a swarm config object (LeaseConfig). Any number of heal
// processes may run; the one whose name is in the lease and whose expiry has
// not passed acts, the others only watch and say who holds it. The lease is
// renewed well before it expires and taken over only after it has expired.
// Every write carries the object's version, so of two processes that read
// the same expired lease exactly one wins.
const (
	LeaseConfig       = "shoal-heal-lease"
	LabelLeaseHolder  = "shoal.heal.lease.holder"
	LabelLeaseExpires = "shoal.heal.lease.expires"
	LabelLeaseRenewed = "shoal.heal.lease.renewed"
	// DefaultLeaseTTL is how long a lease lasts without renewal.
	DefaultLeaseTTL = 30 * time.Second
)

// LeaseState is what the lease says.
type LeaseState struct {
	Holder  string    `json:"holder,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	Renewed time.Time `json:"renewed,omitzero"`
	// Held is set when the asking process holds it now.
	Held bool `json:"held"`
}

func (l LeaseState) String() string {
	if l.Holder == "" {
		return "nobody"
	}
	return fmt.Sprintf("%s (until %s)", l.Holder, l.Expires.UTC().Format(time.RFC3339))
}

// Lease is the one-writer lock; *Swarm keeps it in the swarm.
type Lease interface {
	// Acquire takes the lease for holder until now+ttl if it is free,
	// expired or already holder's (a renewal) and says who holds it.
	Acquire(ctx context.Context, holder string, now time.Time, ttl time.Duration) (LeaseState, error)
	// Release gives it up if holder holds it.
	Release(ctx context.Context, holder string, now time.Time) error
}

var _ Lease = (*Swarm)(nil)

func leaseOf(labels map[string]string) LeaseState {
	l := LeaseState{Holder: labels[LabelLeaseHolder]}
	l.Expires, _ = time.Parse(time.RFC3339Nano, labels[LabelLeaseExpires])
	l.Renewed, _ = time.Parse(time.RFC3339Nano, labels[LabelLeaseRenewed])
	return l
}

func leaseLabels(holder string, now, expires time.Time) map[string]string {
	return map[string]string{
		LabelLeaseHolder:  holder,
		LabelLeaseExpires: expires.UTC().Format(time.RFC3339Nano),
		LabelLeaseRenewed: now.UTC().Format(time.RFC3339Nano),
	}
}

// findLease returns the lease object (ok false: none yet). The name filter
// matches prefixes, so the name is compared exactly.
func findLease(ctx context.Context, m Manager) (swarmtypes.Config, bool, error) {
	res, err := m.ConfigList(ctx, client.ConfigListOptions{Filters: make(client.Filters).Add("name", LeaseConfig)})
	if err != nil {
		return swarmtypes.Config{}, false, fmt.Errorf("read the heal lease: %w", err)
	}
	for _, c := range res.Items {
		if c.Spec.Name == LeaseConfig {
			full, err := m.ConfigInspect(ctx, c.ID, client.ConfigInspectOptions{})
			if err != nil {
				return swarmtypes.Config{}, false, fmt.Errorf("read the heal lease: %w", err)
			}
			return full.Config, true, nil
		}
	}
	return swarmtypes.Config{}, false, nil
}

// Acquire implements Lease in the swarm.
func (s *Swarm) Acquire(ctx context.Context, holder string, now time.Time, ttl time.Duration) (LeaseState, error) {
	var st LeaseState
	err := s.With(ctx, func(ctx context.Context, m Manager) error {
		for range 3 {
			c, ok, err := findLease(ctx, m)
			if err != nil {
				return err
			}
			want := leaseLabels(holder, now, now.Add(ttl))
			if !ok {
				_, err := m.ConfigCreate(ctx, client.ConfigCreateOptions{Spec: swarmtypes.ConfigSpec{
					Annotations: swarmtypes.Annotations{Name: LeaseConfig, Labels: want},
					Data:        []byte("shoal heal lease: see the labels\n"),
				}})
				if err == nil {
					st = leaseOf(want)
					st.Held = true
					return nil
				}
				if !errdefs.IsConflict(err) && !errdefs.IsAlreadyExists(err) {
					return fmt.Errorf("create the heal lease: %w", err)
				}
				continue // someone created it first: read theirs
			}
			cur := leaseOf(c.Spec.Labels)
			if cur.Holder != "" && cur.Holder != holder && now.Before(cur.Expires) {
				st = cur
				return nil
			}
			spec := c.Spec
			spec.Labels = want
			if _, err := m.ConfigUpdate(ctx, c.ID, client.ConfigUpdateOptions{Version: c.Version, Spec: spec}); err != nil {
				// Lost the race (the version moved) or a real error: read again.
				if again, ok2, rerr := findLease(ctx, m); rerr == nil && ok2 && again.Version.Index != c.Version.Index {
					continue
				}
				return fmt.Errorf("write the heal lease: %w", err)
			}
			st = leaseOf(want)
			st.Held = true
			return nil
		}
		return errors.New("the heal lease kept changing while it was written")
	})
	return st, err
}

// Release implements Lease: the lease expires now if holder holds it.
func (s *Swarm) Release(ctx context.Context, holder string, now time.Time) error {
	return s.With(ctx, func(ctx context.Context, m Manager) error {
		c, ok, err := findLease(ctx, m)
		if err != nil || !ok {
			return err
		}
		if leaseOf(c.Spec.Labels).Holder != holder {
			return nil
		}
		spec := c.Spec
		spec.Labels = leaseLabels("", now, now)
		if _, err := m.ConfigUpdate(ctx, c.ID, client.ConfigUpdateOptions{Version: c.Version, Spec: spec}); err != nil {
			return fmt.Errorf("release the heal lease: %w", err)
		}
		return nil
	})
}
