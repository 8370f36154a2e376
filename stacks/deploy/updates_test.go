package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/swarm"
)

func TestApplyUpdateDefaults(t *testing.T) {
	compose := `version: "3.8"
services:
  web:
    image: reg/web:1
  edge:
    image: reg/edge:1
    ports:
      - {target: 80, published: 80, mode: host}
  mesh:
    image: reg/mesh:1
    ports: ["8080:80"]
  own:
    image: reg/own:1
    deploy:
      update_config: {failure_action: pause, monitor: 2s, parallelism: 2}
`
	cfg, _, err := Load(Stack{Name: "app", Compose: []byte(compose)})
	if err != nil {
		t.Fatal(err)
	}
	ApplyUpdateDefaults(cfg)
	specs, err := DesiredServices(context.Background(), "app", cfg, IDs{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, service, failure, order string
		monitor                       time.Duration
		parallelism                   uint64
	}{
		{"a plain service gets rollback on failure, start-first, parallelism 1 and the monitor window", "app_web", "rollback", "start-first", DefaultMonitor, 1},
		{"a service publishing a host-mode port updates stop-first", "app_edge", "rollback", "stop-first", DefaultMonitor, 1},
		{"a service publishing through the routing mesh updates start-first", "app_mesh", "rollback", "start-first", DefaultMonitor, 1},
		{"what the file sets wins, the rest is filled", "app_own", "pause", "start-first", 2 * time.Second, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := specs[strings.TrimPrefix(tc.service, "app_")].UpdateConfig
			if u == nil {
				t.Fatal("no update config")
			}
			if string(u.FailureAction) != tc.failure || string(u.Order) != tc.order || u.Monitor != tc.monitor || u.Parallelism != tc.parallelism {
				t.Errorf("update config = %+v", *u)
			}
			r := specs[strings.TrimPrefix(tc.service, "app_")].RollbackConfig
			if r == nil || r.FailureAction != swarm.UpdateFailureActionPause || string(r.Order) != tc.order || r.Parallelism != 1 || r.Monitor != tc.monitor {
				t.Errorf("rollback config = %+v", r)
			}
		})
	}
}
