package portainertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/shoalops/shoal/stacks/portainer/portainertest/labswarm"
)

// contractDir holds the recorded exchanges with a real Portainer CE 2.23.0:
// testdata/portainer-2.23 is a copy of shared/contracts/portainer-2.23 so
// that the test runs from a clone of the repository alone.
// SHOAL_CONTRACTS points at another contracts folder.
func contractDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("testdata", "portainer-2.23")
	if env := os.Getenv("SHOAL_CONTRACTS"); env != "" {
		dir = filepath.Join(env, "portainer-2.23")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		t.Fatalf("contract fixtures not found: %v", err)
	}
	return dir
}

// sharedContracts is where the team keeps the recordings, next to the
// repository on the machines this project is built on.
var sharedContracts = filepath.Join("..", "..", "..", "..", "shared", "contracts", "portainer-2.23")

// The copy in testdata must be the recording itself.
func TestContractCopyMatchesTheSharedRecording(t *testing.T) {
	shared, err := filepath.Glob(filepath.Join(sharedContracts, "*"))
	if err != nil || len(shared) == 0 {
		t.Skipf("no shared recording at %s (a clone without the team's shared folder)", sharedContracts)
	}
	local, _ := filepath.Glob(filepath.Join("testdata", "portainer-2.23", "*"))
	if len(local) != len(shared) {
		t.Fatalf("testdata has %d files, the shared recording %d: copy it again", len(local), len(shared))
	}
	for _, p := range shared {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("testdata", "portainer-2.23", filepath.Base(p)))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("testdata/portainer-2.23/%s differs from %s: copy it again", filepath.Base(p), p)
		}
	}
}

type fixture struct {
	File    string
	Number  int
	Title   string `json:"title"`
	Request struct {
		Method  string            `json:"method"`
		Path    string            `json:"path"`
		Query   map[string]string `json:"query"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"request"`
	Response struct {
		Status      int               `json:"status"`
		ContentType *string           `json:"content_type"`
		Headers     map[string]string `json:"headers"`
		Body        json.RawMessage   `json:"body"`
	} `json:"response"`
	Notes string `json:"notes"`
}

// freshInstance marks the fixtures recorded on a second Portainer that was
// left without an administrator for more than 5 minutes.
func (f fixture) freshInstance() bool {
	return strings.Contains(f.Notes, "Separate, fresh Portainer instance")
}

func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	dir := contractDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", dir, err)
	}
	sort.Strings(files)
	var out []fixture
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f fixture
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		f.File = filepath.Base(p)
		f.Number, err = strconv.Atoi(strings.SplitN(f.File, "-", 2)[0])
		if err != nil {
			t.Fatalf("%s: not numbered: %v", f.File, err)
		}
		if f.Number != len(out)+1 {
			t.Fatalf("%s: fixtures are numbered in call order without gaps; expected number %d", f.File, len(out)+1)
		}
		out = append(out, f)
	}
	return out
}

// replayer sends fixtures' requests to one emulator, with the recording's
// placeholders replaced by this run's values, and compares the answers.
type replayer struct {
	t    *testing.T
	base string
	vars map[string]string // placeholder -> value of this run
	// webhookService maps a webhook token to the service it triggers.
	webhookService map[string]string
}

func newReplayer(t *testing.T, base string) *replayer {
	return &replayer{t: t, base: base, vars: map[string]string{
		"<admin-password>": "correct-horse-battery-staple",
	}, webhookService: map[string]string{}}
}

func (r *replayer) subst(s string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		if v, ok := r.vars[p]; ok {
			return v
		}
		return p
	})
}

// request builds the fixture's request for this run.
func (r *replayer) request(ctx context.Context, f fixture) (*http.Request, error) {
	u := r.base + r.subst(f.Request.Path)
	if len(f.Request.Query) > 0 {
		q := url.Values{}
		for k, v := range f.Request.Query {
			q.Set(k, r.subst(v))
		}
		u += "?" + q.Encode()
	}
	var body io.Reader
	contentType := r.subst(f.Request.Headers["Content-Type"])
	raw := bytes.TrimSpace(f.Request.Body)
	switch {
	case len(raw) == 0 || string(raw) == "null":
	case strings.HasPrefix(contentType, "multipart/form-data"):
		var fields map[string]string
		if err := json.Unmarshal(raw, &fields); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			_ = mw.WriteField(k, r.subst(fields[k]))
		}
		_ = mw.Close()
		body, contentType = &buf, mw.FormDataContentType()
	case raw[0] == '"':
		var s string // a raw (possibly malformed) body recorded as a string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		body = strings.NewReader(r.subst(s))
	default:
		body = strings.NewReader(r.subst(string(raw)))
	}
	req, err := http.NewRequestWithContext(ctx, f.Request.Method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range f.Request.Headers {
		if k == "Content-Type" {
			v = contentType
		}
		req.Header.Set(k, r.subst(v))
	}
	return req, nil
}

// ignoredHeaders are left out of the recordings.
var ignoredHeaders = map[string]bool{"Date": true, "Content-Length": true, "Transfer-Encoding": true}

// replay sends one fixture and reports every difference in status, content
// type, header names and values, and body shape and values.
func (r *replayer) replay(ctx context.Context, f fixture) {
	t := r.t
	t.Helper()
	req, err := r.request(ctx, f)
	if err != nil {
		t.Fatalf("%s: build request: %v", f.File, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", f.File, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: read body: %v", f.File, err)
	}
	var diffs []string
	if resp.StatusCode != f.Response.Status {
		diffs = append(diffs, fmt.Sprintf("status: want %d, got %d", f.Response.Status, resp.StatusCode))
	}
	gotCT, hasCT := resp.Header["Content-Type"]
	switch {
	case f.Response.ContentType == nil && hasCT:
		diffs = append(diffs, fmt.Sprintf("content type: want none, got %q", gotCT))
	case f.Response.ContentType != nil && (!hasCT || gotCT[0] != *f.Response.ContentType):
		diffs = append(diffs, fmt.Sprintf("content type: want %q, got %q", *f.Response.ContentType, gotCT))
	}
	c := &comparer{capture: func(p, v string) { r.vars[p] = v }}
	for k, want := range f.Response.Headers {
		got, ok := resp.Header[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("header %s: missing", k))
			continue
		}
		c.compare("header "+k, k, r.substKnown(want), got[0], false)
	}
	for k := range resp.Header {
		if _, ok := f.Response.Headers[k]; !ok && !ignoredHeaders[k] {
			diffs = append(diffs, fmt.Sprintf("header %s: unexpected (%q)", k, resp.Header.Get(k)))
		}
	}
	var want any
	if err := json.Unmarshal(f.Response.Body, &want); err != nil {
		t.Fatalf("%s: fixture body: %v", f.File, err)
	}
	if s, isString := want.(string); isString && (f.Response.ContentType == nil || !strings.Contains(*f.Response.ContentType, "json")) {
		if s != string(body) {
			diffs = append(diffs, fmt.Sprintf("body: want %q, got %q", s, body))
		}
	} else {
		wantV, err := decodeJSON([]byte(r.substKnown(string(f.Response.Body))))
		if err != nil {
			t.Fatalf("%s: fixture body: %v", f.File, err)
		}
		got, err := decodeJSON(body)
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("body is not JSON: %v: %q", err, body))
		} else {
			c.compare("body", "", wantV, got, false)
		}
	}
	diffs = append(diffs, c.diffs...)
	if len(diffs) > 0 {
		t.Errorf("%s (%s %s): %d differences from the recording:\n  %s", f.File, f.Request.Method, f.Request.Path, len(diffs), strings.Join(diffs, "\n  "))
	}
	// Remember which service a new webhook's token triggers.
	if f.Request.Method == http.MethodPost && f.Request.Path == "/api/webhooks" && resp.StatusCode == http.StatusOK {
		var h struct{ Token, ResourceId string }
		if json.Unmarshal(body, &h) == nil {
			r.webhookService[h.Token] = h.ResourceId
		}
	}
}

// substKnown replaces the placeholders whose value this run knows for sure
// (ids of the services the test made, the registry) in a fixture's expected
// answer; the others stay patterns.
func (r *replayer) substKnown(s string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		switch p {
		case "<service-id>", "<service-id-2>", "<registry-host>":
			if v, ok := r.vars[p]; ok {
				return v
			}
		}
		return p
	})
}

// TestContractAdminInitTimeout replays the fixtures of the instance left
// without an administrator for more than 5 minutes. It needs no Docker, so
// it runs under -short too.
func TestContractAdminInitTimeout(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := New(Options{Now: clock})
	defer srv.Close()
	r := newReplayer(t, srv.URL())
	n := 0
	for _, f := range loadFixtures(t) {
		if !f.freshInstance() {
			continue
		}
		now = time.Date(2026, 1, 1, 12, 5, 1, 0, time.UTC) // past the window
		r.replay(context.Background(), f)
		n++
	}
	if n == 0 {
		t.Fatal("no fixture of the fresh, timed-out instance")
	}
}

// The effects the fixtures' notes describe for a webhook trigger.
var (
	beforeRE = regexp.MustCompile(`before: Spec\.TaskTemplate\.ForceUpdate=(\d+), Version\.Index=\d+, Spec\.TaskTemplate\.ContainerSpec\.Image='([^']*)'`)
	afterRE  = regexp.MustCompile(`After: ForceUpdate=(\d+), Version\.Index=\d+, Image='([^']*)', UpdateStatus\.State='(\w+)'`)
)

// TestContractReplay replays every fixture of the recording in order
// against the emulator in front of a real lab swarm, with the services the
// recording used, and checks both the answers and the effects the notes
// describe on the swarm.
func TestContractReplay(t *testing.T) {
	sw := labSwarm(t)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	srv := New(Options{Docker: sw.Docker})
	defer srv.Close()
	r := newReplayer(t, srv.URL())

	// The first service of the recording: a plain local tag, no registry.
	run(t, sw, `docker service create -d -q --name rec-web --label rec=1 hello:1`)
	r.vars["<service-id>"] = strings.TrimSpace(run(t, sw, `docker service inspect -f '{{.ID}}' rec-web`))

	fixtures := loadFixtures(t)
	replayed := 0
	defer func() {
		if !t.Failed() {
			t.Logf("replayed %d of %d fixtures on this instance (the rest: TestContractAdminInitTimeout)", replayed, len(fixtures))
		}
	}()
	for _, f := range fixtures {
		if f.freshInstance() {
			continue
		}
		replayed++
		switch f.Number {
		case 37:
			// The second service: its image is on a reachable registry, so
			// it is digest-pinned, and tags 1 and 2 exist there.
			host := labRegistry(t, sw)
			r.vars["<registry-host>"] = host
			run(t, sw, fmt.Sprintf(`docker tag hello:1 %[1]s/rec-hello:1 && docker push -q %[1]s/rec-hello:1 && docker tag hello:2 %[1]s/rec-hello:2 && docker push -q %[1]s/rec-hello:2`, host))
			run(t, sw, `docker service create -d -q --name rec-web-reg `+host+`/rec-hello:1`)
			r.vars["<service-id-2>"] = strings.TrimSpace(run(t, sw, `docker service inspect -f '{{.ID}}' rec-web-reg`))
		case 46:
			run(t, sw, `docker service rm rec-web-reg`)
		}
		t.Logf("%s %s %s", f.File, f.Request.Method, f.Request.Path)
		svc := ""
		if strings.Contains(f.Request.Path, "<token>") {
			svc = r.webhookService[r.vars["<token>"]]
		}
		if m := beforeRE.FindStringSubmatch(f.Notes); m != nil && svc != "" {
			checkService(ctx, t, sw, r, f, svc, m[1], m[2], "")
		}
		r.replay(ctx, f)
		if m := afterRE.FindStringSubmatch(f.Notes); m != nil && svc != "" {
			checkService(ctx, t, sw, r, f, svc, m[1], m[2], m[3])
		}
	}
}

// checkService waits (bounded) until the service shows what a fixture's
// notes say: ForceUpdate, the image (placeholders as patterns) and, if
// given, the update state; then it fails with what it saw.
func checkService(ctx context.Context, t *testing.T, sw *labswarm.Swarm, r *replayer, f fixture, id, force, image, state string) {
	t.Helper()
	re, ok := patternOf(r.substKnown(image))
	if !ok {
		re = regexp.MustCompile("^" + regexp.QuoteMeta(image) + "$")
	}
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for {
		res, err := sw.Docker.ServiceInspect(ctx, id, client.ServiceInspectOptions{})
		if err != nil {
			t.Fatalf("%s: inspect service: %v", f.File, err)
		}
		s := res.Service
		st := ""
		if s.UpdateStatus != nil {
			st = string(s.UpdateStatus.State)
		}
		got := strconv.FormatUint(s.Spec.TaskTemplate.ForceUpdate, 10)
		img := s.Spec.TaskTemplate.ContainerSpec.Image
		last = fmt.Sprintf("ForceUpdate=%s Image=%q UpdateStatus.State=%q", got, img, st)
		if got == force && re.MatchString(img) && (state == "" || st == state) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: service %s: want ForceUpdate=%s Image=%q State=%q, have %s", f.File, id, force, image, state, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
