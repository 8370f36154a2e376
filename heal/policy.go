package heal

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Policy says when heal may replace a node and how hard it tries. The zero
// value is not usable: start from DefaultPolicy and override fields, or
// Parse a `heal:` block. Some rules are not settings at all, because turning
// them off would break the promises shoal makes: one manager is remediated at
// a time, nothing is done while manager quorum is lost, and a reachable
// manager is never demoted or removed.
type Policy struct {
	// Grace is how long a node must have been Down (as the swarm reports it)
	// before it counts as unhealthy. A node back within Grace is left alone.
	Grace time.Duration `yaml:"grace"`
	// StartupTimeout bounds how long a replacement may take to join and be
	// Ready; after that it is abandoned and retried (with Backoff).
	StartupTimeout time.Duration `yaml:"startupTimeout"`
	// MaxUnhealthy stops all new remediation while more nodes than this are
	// unhealthy: "1" (a count) or "40%" (of all nodes, rounded down). It is
	// the brake for faults that are really a network cut between the
	// watcher or a hoster and the rest.
	MaxUnhealthy Threshold `yaml:"maxUnhealthy"`
	// RetryLimit is how many replacements one node slot (w1, w1-r1, w1-r2,
	// ...) may get within RetryWindow; a flapping server is not replaced
	// without end.
	RetryLimit int `yaml:"retryLimit"`
	// RetryWindow is the window RetryLimit counts in.
	RetryWindow time.Duration `yaml:"retryWindow"`
	// Backoff is the wait after a failed or previous attempt before the
	// next one; it doubles per attempt up to MaxBackoff.
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"maxBackoff"`
	// PromoteWorkerAfter: while a manager is being replaced and only two
	// managers are reachable, promote a healthy worker at a hoster without a
	// manager once the replacement has taken this long; it is demoted again
	// when the replacement is Ready. 0 turns it off (the default: a promoted
	// worker briefly makes the layout differ from the spec).
	PromoteWorkerAfter time.Duration `yaml:"promoteWorkerAfter"`
	// Spares is the number of warm spares per hoster: joined, drained
	// workers that heal activates (or promotes) first and then backfills.
	Spares map[string]int `yaml:"spares"`
}

// DefaultPolicy is what heal does unless told otherwise.
func DefaultPolicy() Policy {
	return Policy{
		Grace:          60 * time.Second,
		StartupTimeout: 10 * time.Minute,
		MaxUnhealthy:   Threshold{Count: 1},
		RetryLimit:     3,
		RetryWindow:    time.Hour,
		Backoff:        time.Minute,
		MaxBackoff:     15 * time.Minute,
	}
}

// Threshold is a count ("2") or a percentage ("40%") of a total.
type Threshold struct {
	Count   int
	Percent int
	IsPct   bool
}

// ParseThreshold reads "1" or "40%".
func ParseThreshold(s string) (Threshold, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 100 {
			return Threshold{}, fmt.Errorf("max unhealthy %q: a percentage must be 0%% to 100%%", s)
		}
		return Threshold{Percent: n, IsPct: true}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return Threshold{}, fmt.Errorf("max unhealthy %q: want a count (\"1\") or a percentage (\"40%%\")", s)
	}
	return Threshold{Count: n}, nil
}

// Of is the threshold applied to total nodes (percentages round down, as
// Cluster API's maxUnhealthy does).
func (t Threshold) Of(total int) int {
	if t.IsPct {
		return total * t.Percent / 100
	}
	return t.Count
}

func (t Threshold) String() string {
	if t.IsPct {
		return strconv.Itoa(t.Percent) + "%"
	}
	return strconv.Itoa(t.Count)
}

// Set implements pflag.Value, so the CLI can take --max-unhealthy 40%.
func (t *Threshold) Set(s string) error {
	v, err := ParseThreshold(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Type implements pflag.Value.
func (t *Threshold) Type() string { return "count|percent" }

// UnmarshalYAML reads 1, "1" or "40%".
func (t *Threshold) UnmarshalYAML(n *yaml.Node) error { return t.Set(n.Value) }

// MarshalYAML writes the threshold as it was given.
func (t Threshold) MarshalYAML() (any, error) { return t.String(), nil }

// Validate reports every setting that cannot work.
func (p Policy) Validate() error {
	var errs []error
	if p.Grace < 0 {
		errs = append(errs, fmt.Errorf("grace must not be negative, got %s", p.Grace))
	}
	if p.StartupTimeout <= 0 {
		errs = append(errs, fmt.Errorf("startupTimeout must be positive, got %s", p.StartupTimeout))
	}
	if p.RetryLimit < 1 {
		errs = append(errs, fmt.Errorf("retryLimit must be at least 1, got %d", p.RetryLimit))
	}
	if p.RetryWindow <= 0 {
		errs = append(errs, fmt.Errorf("retryWindow must be positive, got %s", p.RetryWindow))
	}
	if p.Backoff < 0 || p.MaxBackoff < p.Backoff {
		errs = append(errs, fmt.Errorf("backoff must be 0 or more and maxBackoff at least backoff, got %s and %s", p.Backoff, p.MaxBackoff))
	}
	if p.PromoteWorkerAfter < 0 {
		errs = append(errs, fmt.Errorf("promoteWorkerAfter must be 0 (off) or positive, got %s", p.PromoteWorkerAfter))
	}
	if p.MaxUnhealthy.IsPct && (p.MaxUnhealthy.Percent < 0 || p.MaxUnhealthy.Percent > 100) {
		errs = append(errs, fmt.Errorf("maxUnhealthy must be 0%% to 100%%, got %s", p.MaxUnhealthy))
	}
	if !p.MaxUnhealthy.IsPct && p.MaxUnhealthy.Count < 0 {
		errs = append(errs, fmt.Errorf("maxUnhealthy must not be negative, got %s", p.MaxUnhealthy))
	}
	for h, n := range p.Spares {
		if n < 0 {
			errs = append(errs, fmt.Errorf("spares.%s must not be negative, got %d", h, n))
		}
	}
	return errors.Join(errs...)
}

// BackoffFor is the wait before attempt n+1 after n attempts.
func (p Policy) BackoffFor(attempts int) time.Duration {
	d := p.Backoff
	for i := 1; i < attempts && d < p.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.MaxBackoff)
}

// ParsePolicy reads a `heal:` block (the shape of the cluster spec's
// shoal:heal) over DefaultPolicy and validates it. Durations are Go
// durations ("60s", "10m"); unknown keys are errors.
func ParsePolicy(data []byte) (Policy, error) {
	p := DefaultPolicy()
	var raw struct {
		Grace              string         `yaml:"grace"`
		StartupTimeout     string         `yaml:"startupTimeout"`
		MaxUnhealthy       *Threshold     `yaml:"maxUnhealthy"`
		RetryLimit         *int           `yaml:"retryLimit"`
		RetryWindow        string         `yaml:"retryWindow"`
		Backoff            string         `yaml:"backoff"`
		MaxBackoff         string         `yaml:"maxBackoff"`
		PromoteWorkerAfter string         `yaml:"promoteWorkerAfter"`
		Spares             map[string]int `yaml:"spares"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("heal policy: %w", err)
	}
	var errs []error
	dur := func(name, s string, into *time.Duration) {
		if s == "" {
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		*into = d
	}
	dur("grace", raw.Grace, &p.Grace)
	dur("startupTimeout", raw.StartupTimeout, &p.StartupTimeout)
	dur("retryWindow", raw.RetryWindow, &p.RetryWindow)
	dur("backoff", raw.Backoff, &p.Backoff)
	dur("maxBackoff", raw.MaxBackoff, &p.MaxBackoff)
	dur("promoteWorkerAfter", raw.PromoteWorkerAfter, &p.PromoteWorkerAfter)
	if raw.MaxUnhealthy != nil {
		p.MaxUnhealthy = *raw.MaxUnhealthy
	}
	if raw.RetryLimit != nil {
		p.RetryLimit = *raw.RetryLimit
	}
	if raw.Spares != nil {
		p.Spares = raw.Spares
	}
	if len(errs) > 0 {
		return p, fmt.Errorf("heal policy: %w", errors.Join(errs...))
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("heal policy: %w", err)
	}
	return p, nil
}
