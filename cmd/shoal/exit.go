package main

import (
	"errors"

	"github.com/shoalops/shoal/backup"
	"github.com/shoalops/shoal/bootstrap"
	"github.com/shoalops/shoal/bootstrap/inventory"
	"github.com/shoalops/shoal/bootstrap/remote"
	"github.com/shoalops/shoal/bootstrap/swarm"
	"github.com/shoalops/shoal/dr"
	"github.com/shoalops/shoal/infra"
	"github.com/shoalops/shoal/replace"
)

// Exit codes, the same for every verb.
const (
	exitOK      = 0 // done, or nothing to do
	exitFailed  = 1 // failed after starting; the message says what is left
	exitUsage   = 2 // bad usage or invalid input; nothing was touched
	exitRefused = 3 // refused by a safety rule (quorum, foreign swarm, another cluster's swarm, changed host key) or the operator; nothing was touched
	exitWork    = 4 // --dry-run found work to do
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// codeOf maps an error to the exit code its kind calls for.
func codeOf(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	var fe *inventory.FieldError
	var ce *infra.ConfigError
	var rq *replace.RequestError
	var un *replace.UnknownNodeError
	if errors.As(err, &fe) || errors.As(err, &ce) || errors.As(err, &rq) || errors.As(err, &un) {
		return exitUsage
	}
	var qe *swarm.QuorumError
	var re *bootstrap.RefusedError
	var fs *swarm.ForeignSwarmError
	var hk *remote.HostKeyChangedError
	var cn *swarm.ClusterNameError
	var nq *swarm.NoQuorumError
	var rr *replace.RefusedError
	var rs *replace.ResumeError
	var dre *dr.RefusedError
	var bre *backup.RefusedError
	if errors.As(err, &rr) || errors.As(err, &rs) || errors.As(err, &dre) || errors.As(err, &bre) {
		return exitRefused
	}
	if errors.As(err, &qe) || errors.As(err, &re) || errors.As(err, &fs) || errors.As(err, &hk) || errors.As(err, &cn) || errors.As(err, &nq) {
		return exitRefused
	}
	return exitFailed
}
