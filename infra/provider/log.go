package provider

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	p "github.com/pulumi/pulumi-go-provider"

	"github.com/shoalops/shoal/bootstrap/inventory"
)

// nodeProgress prints one line per node per step through the engine's
// logger, so `pulumi up` shows it: "[m1 hoster-a/fsn1] join as manager ...".
type nodeProgress struct {
	ctx  context.Context
	tags map[string]string
}

func newNodeProgress(ctx context.Context, nodes ...[]inventory.Node) nodeProgress {
	tags := map[string]string{}
	for _, list := range nodes {
		for _, n := range list {
			tag := n.Name + " " + n.Hoster
			if n.Region != "" {
				tag += "/" + n.Region
			}
			tags[n.Name] = tag
		}
	}
	return nodeProgress{ctx: ctx, tags: tags}
}

// Node implements swarm.Progress.
func (np nodeProgress) Node(name, msg string) {
	tag := np.tags[name]
	if tag == "" {
		tag = name
	}
	p.GetLogger(np.ctx).Infof("[%s] %s", tag, msg)
}

// lineLogger is an io.Writer that sends each line to the engine's logger
// (for the lab's progress output).
type lineLogger struct {
	ctx    context.Context
	prefix string
	buf    strings.Builder
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.buf.Write(b)
	s := l.buf.String()
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		p.GetLogger(l.ctx).Info(l.prefix + s[:i])
		s = s[i+1:]
	}
	l.buf.Reset()
	l.buf.WriteString(s)
	return len(b), nil
}

// engineHandler is a slog.Handler that forwards records at Info and above
// to the engine's logger; bootstrap and remote log through it.
type engineHandler struct {
	ctx   context.Context
	attrs []slog.Attr
}

func newEngineLogger(ctx context.Context) *slog.Logger {
	return slog.New(&engineHandler{ctx: ctx})
}

func (h *engineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *engineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	log := p.GetLogger(h.ctx)
	switch {
	case r.Level >= slog.LevelError:
		log.Error(b.String())
	case r.Level >= slog.LevelWarn:
		log.Warning(b.String())
	default:
		log.Info(b.String())
	}
	return nil
}

func (h *engineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &engineHandler{ctx: h.ctx, attrs: append(append([]slog.Attr{}, h.attrs...), attrs...)}
}

func (h *engineHandler) WithGroup(string) slog.Handler { return h }
