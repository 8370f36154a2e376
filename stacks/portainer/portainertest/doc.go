// Package portainertest is a stand-in for Portainer CE 2.23, for tests: an
// HTTP server that serves the part of Portainer's API shoal uses, exactly as
// the recorded contract in shared/contracts/portainer-2.23/ shows it (status
// codes, field names that differ between request and response, the 204 of a
// webhook trigger, the 5-minute admin-initialisation window), and that
// performs the real effects on a real swarm through the Docker Engine API:
// its Docker proxy forwards to the engine, and a webhook trigger really
// force-updates the service (and ?tag= really changes the image).
//
// Portainer itself cannot be had on the machines this project builds on; this
// package replaces it in tests only, and contract_test.go replays every
// recorded exchange against it. It must not be used outside tests and
// shoal's lab.
//
// Usage:
//
//	docker, _ := conn.Docker(ctx) // a swarm manager's Engine API
//	srv := portainertest.New(portainertest.Options{Docker: docker})
//	defer srv.Close()
//	c := portainer.New(srv.URL())
package portainertest
