// Command probe is the lab's load client: it sends GET $TARGET in a loop
// (every $INTERVAL, each with a $TIMEOUT), one new connection per request
// (no keep-alive: each request resolves the name again, as a client
// reconnecting would), and logs its counts once a second as
//
//	probe ok=N fail=M
//
// and every failure as "probe fail: ERROR" (the first 200). It stops
// sending after $MAX_DURATION (default 15m) or $MAX_REQUESTS (default
// 20000), whichever comes first, and then idles, so a forgotten probe
// never loads the lab for long.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"
)

func duration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
		log.Printf("probe: bad %s=%q, using %s", name, v, def)
	}
	return def
}

func main() {
	target := os.Getenv("TARGET")
	if target == "" {
		log.Fatal("probe: TARGET is not set")
	}
	interval := duration("INTERVAL", 100*time.Millisecond)
	timeout := duration("TIMEOUT", time.Second)
	maxDur := duration("MAX_DURATION", 15*time.Minute)
	maxReq := 20000
	if v, err := strconv.Atoi(os.Getenv("MAX_REQUESTS")); err == nil && v > 0 {
		maxReq = v
	}
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	log.Printf("probe: GET %s every %s, timeout %s, for at most %s or %d requests", target, interval, timeout, maxDur, maxReq)
	var ok, fail, logged int
	tick := time.NewTicker(interval)
	report := time.NewTicker(time.Second)
	end := time.Now().Add(maxDur)
	for {
		select {
		case <-report.C:
			fmt.Printf("probe ok=%d fail=%d\n", ok, fail)
			continue
		case <-tick.C:
		}
		if ok+fail >= maxReq || time.Now().After(end) {
			continue
		}
		if err := get(c, target); err != nil {
			fail++
			if logged < 200 {
				logged++
				fmt.Printf("probe fail: %s %v\n", time.Now().UTC().Format("15:04:05.000"), err)
			}
			continue
		}
		ok++
	}
}

func get(c *http.Client, target string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
