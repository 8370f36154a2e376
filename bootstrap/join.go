package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
)

// JoinNode joins node n (with its role and labels) to the swarm of inv as
// `shoal bootstrap` would, installing Docker on it when it has none. It
// runs Run on the managers of inv that answer plus n, not on the whole
// inventory: other nodes may be down, and that is not this node's
// business. n need not be in inv; inv is not changed.
func JoinNode(ctx context.Context, inv *inventory.Inventory, n inventory.Node, o Options, prog Progress) error {
	sub := *inv
	sub.Nodes = nil
	one := o.Dial
	one.Attempts = 1
	for _, m := range inv.Managers() {
		// Another entry at the new node's address is a dead node whose
		// address was handed out again: dialing it reaches the new node.
		if m.Name == n.Name || m.Address == n.Address {
			continue
		}
		c, err := remote.Dial(ctx, Target(inv, m), one)
		if err != nil {
			continue
		}
		c.Close()
		sub.Nodes = append(sub.Nodes, m)
	}
	if len(sub.Nodes) == 0 {
		return errors.New("join: no manager of the inventory answered")
	}
	sub.Nodes = append(sub.Nodes, n)
	// The nodes left out are not unmanaged: saying so on every join
	// would only alarm.
	o.Partial = true
	if _, err := Run(ctx, &sub, o, prog); err != nil {
		return fmt.Errorf("join %s: %w", n.Name, err)
	}
	return nil
}
