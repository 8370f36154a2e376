package dr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// recorder is an Executor that records the calls and fails on one.
type recorder struct {
	calls  []string
	failOn string
}

func (r *recorder) do(call string) error {
	r.calls = append(r.calls, call)
	if call == r.failOn {
		return errors.New("engine said no")
	}
	return nil
}

func (r *recorder) ForceNewCluster(_ context.Context, m Manager) error {
	return r.do("force-new-cluster " + m.Name + " " + m.Advertise)
}
func (r *recorder) WaitLeader(_ context.Context, n string) error { return r.do("wait-leader " + n) }
func (r *recorder) Rejoin(_ context.Context, n, via string) error {
	return r.do("rejoin " + n + " via " + via)
}
func (r *recorder) RemoveEntry(_ context.Context, n string) error { return r.do("remove " + n) }
func (r *recorder) ReplaceManager(_ context.Context, dead Manager, n string) error {
	return r.do(fmt.Sprintf("replace %s@%s by %s", dead.Name, dead.Hoster, n))
}
func (r *recorder) ReplaceThroughProgram(_ context.Context, dead []Manager) error {
	var ns []string
	for _, m := range dead {
		ns = append(ns, m.Name+"@"+m.Hoster)
	}
	return r.do("program-replace " + strings.Join(ns, ","))
}
func (r *recorder) CheckWebhooks(context.Context) (WebhookReport, error) {
	return WebhookReport{Checked: 2}, r.do("webhooks")
}
func (r *recorder) CheckServices(context.Context) ([]Service, error) {
	return []Service{{ID: "abc", Name: "web", Running: 1, Desired: 1}}, r.do("check")
}

func TestExecuteRunsThePlanInOrder(t *testing.T) {
	obs := Observed{Source: SourceLab, Managers: []Manager{dead("m1", "a"), alive("m2", "b", 4, 7), alive("m3", "c", 4, 9)}}
	p, err := Compute(obs, Request{})
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	var progress bytes.Buffer
	res, err := Execute(context.Background(), p, &r, &progress)
	if err != nil {
		t.Fatal(err)
	}
	svcs := res.Services
	want := "force-new-cluster m3 10.0.0.3; wait-leader m3; rejoin m2 via m3; remove m1; replace m1@a by m1-r1; check"
	if got := strings.Join(r.calls, "; "); got != want {
		t.Errorf("calls:\n got %s\nwant %s", got, want)
	}
	if len(svcs) != 1 || svcs[0].ID != "abc" {
		t.Errorf("services = %v", svcs)
	}
	for _, line := range []string{"step 1/6: re-form the swarm on m3", "step 6/6: done in"} {
		if !strings.Contains(progress.String(), line) {
			t.Errorf("progress lacks %q:\n%s", line, progress.String())
		}
	}
}

// On a `shoal up` stack the dead managers are replaced under their names
// in one run of the program, and the webhooks are checked last.
func TestExecuteReplacesAStacksManagersThroughTheProgram(t *testing.T) {
	obs := Observed{Source: SourceStack, Managers: []Manager{alive("m1", "a", 2, 40), dead("m2", "b"), dead("m3", "c")}}
	p, err := Compute(obs, Request{})
	if err != nil {
		t.Fatal(err)
	}
	var r recorder
	res, err := Execute(context.Background(), p, &r, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := "force-new-cluster m1 10.0.0.1; wait-leader m1; remove m2; remove m3; program-replace m2@b,m3@c; check; webhooks"
	if got := strings.Join(r.calls, "; "); got != want {
		t.Errorf("calls:\n got %s\nwant %s", got, want)
	}
	if res.Webhooks == nil || res.Webhooks.Checked != 2 || len(p.Notes) != 0 {
		t.Errorf("webhooks = %+v, notes %v", res.Webhooks, p.Notes)
	}
}

func TestExecuteStopsAtTheFirstFailureAndSaysWhatIsDone(t *testing.T) {
	obs := Observed{Source: SourceLab, Managers: []Manager{alive("m1", "a", 2, 40), dead("m2", "b"), dead("m3", "c")}}
	p, err := Compute(obs, Request{})
	if err != nil {
		t.Fatal(err)
	}
	r := recorder{failOn: "remove m3"}
	_, err = Execute(context.Background(), p, &r, &bytes.Buffer{})
	var se *StepError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *StepError", err)
	}
	if se.Step != 4 || len(se.Done) != 3 || !strings.Contains(err.Error(), "engine said no") || !strings.Contains(err.Error(), "look at `shoal status`") {
		t.Errorf("step error = %v (step %d, %d done)", err, se.Step, len(se.Done))
	}
	if strings.Contains(strings.Join(r.calls, ";"), "replace") {
		t.Errorf("went on after the failure: %v", r.calls)
	}
	// A survivor that refuses to re-form: nothing was changed, and the
	// human is told to choose another.
	r = recorder{failOn: "force-new-cluster m1 10.0.0.1"}
	_, err = Execute(context.Background(), p, &r, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "nothing was changed") || !strings.Contains(err.Error(), "--from NAME") {
		t.Errorf("err = %v, want nothing changed and --from named", err)
	}
}
