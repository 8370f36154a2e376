package heal

import (
	"fmt"

	"github.com/containerd/errdefs"
)

// Error kinds heal's callers check with errdefs (errdefs.IsConflict,
// errdefs.IsFailedPrecondition, errdefs.IsNotFound), never by text.
var (
	// ErrClaimLost: another heal process recorded an attempt on the node
	// first; it owns the slot. Not a failure: this process does nothing.
	ErrClaimLost = fmt.Errorf("another heal process owns this node's slot: %w", errdefs.ErrConflict)
	// ErrStale: the node's entry changed since the snapshot the decision
	// came from (it came back, or someone wrote to it); the next decision,
	// from a fresh list, says what to do.
	ErrStale = fmt.Errorf("the node changed since the decision's snapshot: %w", errdefs.ErrConflict)
	// ErrNotLeaseHolder: this process does not hold the cluster's heal
	// lease, so it does not act.
	ErrNotLeaseHolder = fmt.Errorf("another heal process holds the lease: %w", errdefs.ErrConflict)
)

// RefusedError is an action refused because a safety rule forbids it,
// whatever Decide said: a reachable manager, a node that is Ready again.
// It is errdefs.IsFailedPrecondition.
type RefusedError struct {
	Check   string
	Numbers string
}

func (e *RefusedError) Error() string { return "refused (" + e.Check + "): " + e.Numbers }

// Unwrap makes the refusal an errdefs failed precondition.
func (e *RefusedError) Unwrap() error { return errdefs.ErrFailedPrecondition }

func isNotFound(err error) bool { return errdefs.IsNotFound(err) }
