#!/usr/bin/env bash
# Makes sure this machine can run shoal's lab: Debian's Docker Engine and
# debootstrap installed, dockerd running. Safe to run again: it installs
# only what is missing and starts dockerd only when it does not answer.
set -euo pipefail

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-engine: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The engine's own client: /usr/local/bin/docker may be another version.
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker
if ! "$DOCKER" info >/dev/null 2>&1; then
  echo "ensure-engine: starting dockerd (log: /var/log/dockerd.log)" >&2
  # A dockerd killed with its session leaves a stale pid file behind.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  setsid dockerd >/var/log/dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 60); do
    "$DOCKER" info >/dev/null 2>&1 && break
    sleep 1
  done
  "$DOCKER" info >/dev/null 2>&1 || { echo "ensure-engine: dockerd did not start; see /var/log/dockerd.log" >&2; tail -n 20 /var/log/dockerd.log >&2; exit 1; }
fi
echo "ensure-engine: Docker Engine $("$DOCKER" version --format '{{.Server.Version}}') ready" >&2
