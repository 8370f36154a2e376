package release

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr"
)

// Message renders a report as the notification text: project,
// environment, services with old -> new digest, duration, verdict and, on
// failure, the error with the tasks' errors. It holds no secret.
func Message(rep Report, who string) string {
	var b strings.Builder
	icon := map[Verdict]string{Deployed: "OK", AlreadyRunning: "OK", RolledBack: "FAILED", Failed: "FAILED"}[rep.Verdict]
	fmt.Fprintf(&b, "[%s] shoal %s %s/%s: %s", icon, rep.Kind, rep.Project, rep.Env, rep.Verdict)
	fmt.Fprintf(&b, " in %s", rep.Duration.Round(100*time.Millisecond))
	if who != "" {
		fmt.Fprintf(&b, " by %s", who)
	}
	fmt.Fprintf(&b, " via %s\n", rep.Via)
	for _, s := range rep.Services {
		tag := ""
		if s.Tag != "" {
			tag = " (" + s.Tag + ")"
		}
		fmt.Fprintf(&b, "- %s: %s -> %s%s: %s\n", s.Service, short(s.OldDigest), short(s.NewDigest), tag, s.Verdict)
	}
	if rep.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", rep.Error)
	}
	return strings.TrimRight(b.String(), "\n")
}

// Notifier sends a notification text.
type Notifier interface {
	Notify(ctx context.Context, text string) []error
}

// Shoutrrr sends to Shoutrrr URLs (telegram://, slack://, discord://,
// generic://host/path, ...). URLs hold secrets (bot tokens, webhook
// paths): errors name a URL only as RedactURL shows it.
type Shoutrrr struct {
	URLs []string
}

var _ Notifier = (*Shoutrrr)(nil)

// Notify sends text to every URL; one error per URL that failed.
func (s *Shoutrrr) Notify(ctx context.Context, text string) []error {
	var errs []error
	for _, u := range s.URLs {
		if err := sendOne(ctx, u, text); err != nil {
			errs = append(errs, fmt.Errorf("notify %s: %s", RedactURL(u), scrubURL(err.Error(), u)))
		}
	}
	return errs
}

func sendOne(ctx context.Context, rawURL, text string) error {
	sender, err := shoutrrr.CreateSender(rawURL)
	if err != nil {
		return err
	}
	done := make(chan []error, 1)
	go func() { done <- sender.Send(text, nil) }()
	select {
	case errs := <-done:
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return fmt.Errorf("no answer in 30s")
	}
}

// RedactURL shows a notification URL without anything that may be a
// secret: only its scheme and host ("telegram://<redacted>@telegram",
// "generic://hooks.example.com/<redacted>").
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "<redacted URL>"
	}
	s := u.Scheme + "://"
	if u.User != nil {
		s += "<redacted>@"
	}
	s += u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		s += "/<redacted>"
	}
	return s
}

// scrubURL removes a URL and its parts that may be secret from a text.
func scrubURL(text, raw string) string {
	text = strings.ReplaceAll(text, raw, RedactURL(raw))
	u, err := url.Parse(raw)
	if err != nil {
		return text
	}
	var parts []string
	if u.User != nil {
		parts = append(parts, u.User.String(), u.User.Username())
		if p, ok := u.User.Password(); ok {
			parts = append(parts, p)
		}
	}
	if len(u.Path) > 1 {
		parts = append(parts, u.Path, strings.TrimPrefix(u.Path, "/"))
	}
	if u.RawQuery != "" {
		parts = append(parts, u.RawQuery)
		for _, vs := range u.Query() {
			parts = append(parts, vs...)
		}
	}
	for _, p := range parts {
		if len(p) >= 4 {
			text = strings.ReplaceAll(text, p, "<redacted>")
		}
	}
	return text
}
