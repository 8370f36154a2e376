// Command demo is the lab's tiny web app: a static HTTP server that answers
// every request with its hostname and the path, on each address in $LISTEN
// (comma-separated, default ":8080"). It ignores its arguments, so the same
// binary also stands in for images that cannot be built here (Traefik),
// proving that their stack deploys and their ports open.
//
// With $DEMO_EXPECT_FILE and $DEMO_EXPECT_SHA256 set, it first checks that
// the file (a swarm secret under /run/secrets) holds content with that
// SHA-256, and exits 1 when it does not: a task that runs proves the
// secret's value reached it.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	listen := os.Getenv("LISTEN")
	if listen == "" {
		listen = ":8080"
	}
	if f := os.Getenv("DEMO_EXPECT_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			log.Fatalf("expected file: %v", err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != os.Getenv("DEMO_EXPECT_SHA256") {
			log.Fatalf("%s holds content with SHA-256 %s, not the expected one", f, got)
		}
		log.Printf("%s holds the expected content", f)
	}
	host, _ := os.Hostname()
	name := os.Getenv("DEMO_NAME")
	if name == "" {
		name = "demo"
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s\n", name, host, r.URL.Path)
	})
	addrs := strings.Split(listen, ",")
	errs := make(chan error, len(addrs))
	for _, a := range addrs {
		go func(a string) { errs <- http.ListenAndServe(strings.TrimSpace(a), h) }(a)
	}
	log.Printf("%s listening on %s (args ignored: %q)", name, listen, os.Args[1:])
	log.Fatal(<-errs)
}
