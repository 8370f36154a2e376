package host

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// Log rotation shoal asks of the json-file log driver. Without it a chatty
// service fills a small VPS disk and takes the node down with it.
const (
	LogMaxSize = "10m"
	LogMaxFile = "3"
)

// MergeDaemonConfig returns daemon.json with the settings swarm needs and
// tells whether anything changed. It keeps every setting it does not own
// (storage driver, mirrors, ...):
//   - live-restore is turned off: Docker refuses it on swarm nodes;
//   - the json-file driver (Docker's default) gets log rotation unless the
//     operator already set max-size; another log driver is left alone.
func MergeDaemonConfig(existing string) (string, bool, error) {
	cfg := map[string]any{}
	if len(bytes.TrimSpace([]byte(existing))) > 0 {
		if err := json.Unmarshal([]byte(existing), &cfg); err != nil {
			return "", false, fmt.Errorf("/etc/docker/daemon.json is not valid JSON: %w", err)
		}
	}
	before := clone(cfg)

	if lr, ok := cfg["live-restore"]; ok && lr != false {
		cfg["live-restore"] = false
	}
	driver, _ := cfg["log-driver"].(string)
	if driver == "" || driver == "json-file" {
		opts, _ := cfg["log-opts"].(map[string]any)
		if opts == nil {
			opts = map[string]any{}
		}
		if _, ok := opts["max-size"]; !ok {
			opts["max-size"] = LogMaxSize
			if _, ok := opts["max-file"]; !ok {
				opts["max-file"] = LogMaxFile
			}
		}
		cfg["log-opts"] = opts
	}
	if reflect.DeepEqual(before, cfg) {
		return existing, false, nil
	}
	out, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", false, fmt.Errorf("encode daemon.json: %w", err)
	}
	return string(out) + "\n", true, nil
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	out := map[string]any{}
	_ = json.Unmarshal(b, &out)
	return out
}
