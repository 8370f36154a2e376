package main

import (
	"testing"

	"github.com/shoalops/shoal/bootstrap/host"
	"github.com/shoalops/shoal/lab"
)

// The lab's init and bootstrap/host's engine control name the same hold
// file (lab must not import bootstrap, so each has the constant).
func TestLabInitAndEngineControlShareTheHoldFile(t *testing.T) {
	if lab.HoldDockerd != host.HoldDockerd {
		t.Errorf("lab.HoldDockerd = %q, host.HoldDockerd = %q", lab.HoldDockerd, host.HoldDockerd)
	}
}
