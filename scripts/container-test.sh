#!/usr/bin/env bash
# Builds the Dockerfile with podman and checks the image for real, from outside the container:
#   1. base image: a Debian bookworm rootfs made by debootstrap, imported as
#      localhost/debian:bookworm (once; reused while it exists; no registry is needed)
#   2. podman build (runc, chroot isolation, docker format so HEALTHCHECK is kept)
#   3. start the container on a named volume, ports published on 127.0.0.1 only
#   4. the image's HEALTHCHECK (`brokerctl health` inside) reports healthy; host brokerctl health
#   5. publish through brokerctl from the host; read it back (brokerctl tail); create a group;
#      scrape /metrics
#   6. podman stop (SIGTERM): brokerd exits 0 with event=stopped in its log, as the non-root user
#   7. start a new container on the same volume: the records, offsets and the group are still there
# Everything it creates is removed at the end (container, volume, image unless KEEP_IMAGE=1).
#
# Usage: scripts/container-test.sh            (as root, on a machine with podman, runc, debootstrap)
# Env:   BROKERCTL=path   brokerctl to run on the host (default: copied out of the built image)
#        KEEP_IMAGE=1     keep localhost/brokerd:container-test afterwards
#        DEBIAN_MIRROR=u  mirror for debootstrap (default: the first one apt uses here)
# Time on this 2-core machine shared with other builds: 21 min with a cold ccache (20 of them in
# the build stage: apt-get install, then compiling brokerd and brokerctl), 2 to 3.5 min (up to 7
# under heavy load) with the ccache mount warm, plus 3 min for debootstrap the first time.
# Not part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
step() { printf '\n== [%4ds] %s\n' $((SECONDS - started)) "$*"; }
fail() { echo "container-test: FAILED: $*" >&2; exit 1; }

for tool in podman runc debootstrap curl; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install -y podman buildah runc debootstrap curl)"
done

# podman 4.3 reports on stderr that it cannot reach systemd to manage HEALTHCHECK timers when
# there is no systemd (as in this environment); that is noise here, the check is run by hand.
podman_() { podman --runtime runc "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
base=localhost/debian:bookworm
image=localhost/brokerd:container-test
build_image=localhost/brokerd:container-test-build  # the build stage, tagged so it can be removed
tag=$$
container=brokerd-ct-$tag
volume=brokerd-ct-data-$tag
work=$(mktemp -d /tmp/brokerd-ct.XXXXXX)
built_ids=()  # images this run built, removed at the end

cleanup() {
  set +e
  podman_ rm -f -t 0 "$container" >/dev/null 2>&1
  podman_ volume rm -f "$volume" >/dev/null 2>&1
  # Removing the tags removes their untagged layers too; KEEP_IMAGE=1 keeps them as a cache for
  # the next run (the dependency layer and the ccache mount then make a rebuild quick).
  if [[ "${KEEP_IMAGE:-0}" != 1 ]]; then
    # By id: that also deletes their untagged parent layers.
    for id in "${built_ids[@]}"; do podman_ rmi -f "$id" >/dev/null 2>&1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A free TCP port on the host's loopback.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---- 1. base image --------------------------------------------------------------------------
if podman_ image exists "$base"; then
  step "base image $base exists"
else
  mirror=${DEBIAN_MIRROR:-$(grep -rhoE '(URIs:|deb) +https?://[^ ]+/debian/?' /etc/apt/sources.list \
      /etc/apt/sources.list.d/ 2>/dev/null | grep -v security | head -1 | awk '{print $2}')}
  mirror=${mirror:-http://deb.debian.org/debian}
  step "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$work/rootfs" -c . | podman_ import - "$base" >/dev/null
  rm -rf "$work/rootfs"
fi

# ---- 2. build -------------------------------------------------------------------------------
step "podman build $image"
build() {
  podman_ build --isolation=chroot --format docker --pull=never \
    --build-arg DEBIAN_IMAGE="$base" -f Dockerfile "$@" . >>"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log"; fail "podman build (log above)"; }
}
build --target build -t "$build_image"  # then the full build reuses every layer of it
built_ids+=("$(podman_ image inspect --format '{{.Id}}' "$build_image")")
build -t "$image"
built_ids+=("$(podman_ image inspect --format '{{.Id}}' "$image")")
step "image built: $(podman_ image inspect "$image" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

# The host-side brokerctl: the image's own binary unless one is given (same bookworm libraries).
brokerctl=${BROKERCTL:-}
if [[ -z "$brokerctl" ]]; then
  tmp=$(podman_ create --health-interval=disable "$image")
  podman_ cp "$tmp:/usr/local/bin/brokerctl" "$work/brokerctl" >/dev/null
  podman_ rm "$tmp" >/dev/null
  brokerctl=$work/brokerctl
fi

grpc_port=$(free_port)
metrics_port=$(free_port)
ctl() { "$brokerctl" --addr "127.0.0.1:$grpc_port" --timeout 5s "$@"; }

start_container() {
  # --health-interval=disable: podman schedules HEALTHCHECKs with systemd timers, and there is
  # no systemd here; the check itself is run below with `podman healthcheck run`.
  podman_ run -d --name "$container" --health-interval=disable \
    --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 \
    -v "$volume:/var/lib/brokerd" \
    -p "127.0.0.1:$grpc_port:7070" -p "127.0.0.1:$metrics_port:9090" \
    "$image" >/dev/null
  for _ in $(seq 1 100); do
    if ctl health >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  podman_ logs "$container" || true
  fail "brokerd in the container did not answer health checks within 20 s"
}

stop_container() {
  local t0=$SECONDS
  podman_ stop -t 30 "$container" >/dev/null
  local code
  code=$(podman_ inspect "$container" --format '{{.State.ExitCode}}')
  podman --runtime runc logs "$container" >"$work/brokerd.log" 2>&1  # no filter: read at once
  grep -q 'event=stopped' "$work/brokerd.log" || { cat "$work/brokerd.log"; fail "no event=stopped in the log"; }
  [[ "$code" == 0 ]] || { cat "$work/brokerd.log"; fail "brokerd exited with $code after SIGTERM"; }
  echo "stopped cleanly in $((SECONDS - t0)) s (exit 0, event=stopped logged)"
  podman_ rm "$container" >/dev/null
}

# ---- 3./4. start, health ----------------------------------------------------------------------
step "start $container (volume $volume, gRPC 127.0.0.1:$grpc_port, metrics 127.0.0.1:$metrics_port)"
podman_ volume create "$volume" >/dev/null
start_container
ctl health
user=$(podman_ exec "$container" id -un)
[[ "$user" == broker ]] || fail "brokerd runs as '$user', not the non-root user 'broker'"
podman_ exec "$container" sh -c 'ls -ld /var/lib/brokerd && test -f /var/lib/brokerd/CURRENT'
echo "runs as $user; data in the volume at /var/lib/brokerd"
# The image's HEALTHCHECK, run now rather than waiting for its timer.
podman_ healthcheck run "$container" || fail "the image's HEALTHCHECK failed"
echo "HEALTHCHECK (brokerctl health inside the container): healthy"

# ---- 5. publish, read back, group, metrics -------------------------------------------------
step "publish and read back through brokerctl from the host"
for i in 1 2 3 4 5; do
  ctl publish orders "order-$i" --key "customer-$i" >/dev/null
done
ctl groups create email --topic orders >/dev/null
ctl tail orders -n 10 --json >"$work/tail1.json"
cat "$work/tail1.json"
[[ $(grep -c '"payload"' "$work/tail1.json") -eq 5 ]] || fail "expected 5 records back"
grep -q 'order-5' "$work/tail1.json" || fail "order-5 missing"
curl -fsS "http://127.0.0.1:$metrics_port/metrics" >"$work/metrics1.txt"
grep -E '^broker_(partition_end_offset\{topic="orders",partition="0"\}|group_backlog_messages\{topic="orders",group="email",partition="0"\}) ' \
  "$work/metrics1.txt"
grep -q '^broker_partition_end_offset{topic="orders",partition="0"} 5$' "$work/metrics1.txt" ||
  fail "metrics do not show 5 records in orders/0"

# ---- 6. stop ----------------------------------------------------------------------------------
step "podman stop (SIGTERM)"
stop_container

# ---- 7. start again on the same volume --------------------------------------------------------
step "start again on the same volume"
start_container
ctl tail orders -n 10 --json >"$work/tail2.json"
diff <(grep -o '"payload":"[^"]*"' "$work/tail1.json") <(grep -o '"payload":"[^"]*"' "$work/tail2.json") ||
  fail "records differ after the restart"
next=$(ctl publish orders "order-6" --json)
echo "$next"
echo "$next" | grep -q '"offset": *5' || fail "offsets did not continue at 5 after the restart"
ctl groups list
ctl groups list --json | grep -q '"email"' || fail "group email is gone after the restart"
step "data kept across the restart; stopping"
stop_container

step "container test passed in $((SECONDS - started)) s"
