#!/usr/bin/env bash
# npm run test:container: builds the Dockerfile with podman, runs the image as its non-root user on
# the tiny fixture model mounted read-only at /models, waits for readiness, classifies a text,
# streams a chat, checks the HEALTHCHECK, sends SIGTERM during a stream and requires exit code 0
# within the drain, then prints the image's size and the size of the layers Duet adds to its base.
# The last line says "container test: passed ..." or "container test: FAILED: <why>" (exit 1).
#
# BASE_IMAGE (default duet-base:local) is the image to build on. Base images cannot be pulled
# here, so duet-base:local is a stand-in for node:20-bookworm-slim built from Debian packages
# (debootstrap) and this machine's own Node; it is built once and reused while its Node matches.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE="${BASE_IMAGE:-duet-base:local}"
IMAGE="${IMAGE:-duet:test}"
CONTAINER="duet-container-test-$$"
DRAIN_MS=10000
# Guards /health/* in the container, so the HEALTHCHECK is seen to authenticate.
OPS_KEY="ops-$$"
# runc: crun refuses these machines' hybrid cgroup layout; cgroupfs: there is no systemd to ask.
podman=(podman --runtime runc --cgroup-manager cgroupfs)
# Raising limits is refused here, so ask for what the machine already allows.
ulimits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
log="$(mktemp)"

fail() {
  echo "--- podman and container output:" >&2
  tail -n 40 "$log" >&2
  echo "container test: FAILED: $*"
  exit 1
}
cleanup() {
  "${podman[@]}" rm -f "$CONTAINER" >>"$log" 2>&1 || true
  rm -f "$log" "${container_logs:-}" "${stream_file:-}"
}
trap cleanup EXIT
step() { echo "container test: $*"; }
mib() { echo $(($1 / 1048576)); }

command -v podman >/dev/null || fail "podman is missing (apt-get install podman runc debootstrap)"

# The stand-in base: Debian bookworm minbase plus this machine's Node, npm and Node's headers where
# node:20-bookworm-slim has them (/usr/local), its uid-1000 user `node` and its entrypoint script
# (which the Dockerfile must clear so that node is PID 1).
build_stand_in_base() {
  local root prefix mirror
  root="$(mktemp -d)"
  prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  mirror="$( (grep -rhsoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d || true) | awk 'NR == 1 {print $2}')"
  step "building the stand-in base $BASE_IMAGE (debootstrap bookworm from ${mirror:=http://deb.debian.org/debian}, Node $(node --version))"
  debootstrap --variant=minbase bookworm "$root" "$mirror" >>"$log" 2>&1 || fail "debootstrap failed"
  install -D -m 755 "$prefix/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules" "$root/usr/local/include"
  cp -a "$prefix/lib/node_modules/npm" "$root/usr/local/lib/node_modules/"
  cp -a "$prefix/include/node" "$root/usr/local/include/"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  chroot "$root" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home node'
  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/sh
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1")" ]; then set -- node "$@"; fi
exec "$@"
ENTRYPOINT
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh"
  rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
  tar -C "$root" -c . | "${podman[@]}" import --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["node"]' \
    - "$BASE_IMAGE" >>"$log" 2>&1 ||
    fail "podman import of the stand-in base failed"
  rm -rf "$root"
}

if [ "$BASE_IMAGE" = duet-base:local ]; then
  base_node="$("${podman[@]}" run --rm "${ulimits[@]}" "$BASE_IMAGE" node --version 2>>"$log" || true)"
  if [ "$base_node" != "$(node --version)" ]; then
    "${podman[@]}" rmi -f "$BASE_IMAGE" >>"$log" 2>&1 || true
    build_stand_in_base
  fi
fi

# The CA the npm registry's TLS chain ends in here (NODE_EXTRA_CA_CERTS, else npm's cafile) reaches
# the npm steps as a build secret only, never a layer.
ca="${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}"
secret=()
[ -f "$ca" ] && secret=(--secret "id=npm_ca,src=$ca")
step "building $IMAGE on $BASE_IMAGE"
started=$SECONDS
"${podman[@]}" build --format docker --network=host "${ulimits[@]}" "${secret[@]}" \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" . >>"$log" 2>&1 || fail "podman build failed"
step "built in $((SECONDS - started)) s"

[ -f test/fixtures/models/tiny.gguf ] || npx tsx test/fixtures/generate-models.ts tiny >>"$log" 2>&1 ||
  fail "could not generate the tiny fixture model"
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
url="http://127.0.0.1:$port"

# As Kubernetes would run it: the image's own user, read-only root filesystem, no capabilities.
# The periodic health check is off (podman would schedule it through systemd); it is run by hand below.
"${podman[@]}" run -d --name "$CONTAINER" "${ulimits[@]}" --health-interval disable \
  --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges \
  -p "127.0.0.1:$port:8080" -v "$PWD/test/fixtures/models:/models:ro" \
  -e MODEL_PATH=/models/tiny.gguf -e THREADS=2 -e SHUTDOWN_DRAIN_MS="$DRAIN_MS" -e OPS_API_KEYS="$OPS_KEY" \
  "$IMAGE" >>"$log" 2>&1 || fail "podman run failed"
# Into a file: grep -q on a pipe would end podman early, and pipefail would then hide the match.
container_logs="$(mktemp)"
read_container_logs() { "${podman[@]}" logs "$CONTAINER" >"$container_logs" 2>&1 || true; }

uid="$("${podman[@]}" exec "$CONTAINER" id -u 2>>"$log")" || fail "podman exec failed"
[ "$uid" != 0 ] || fail "the container runs as root"
pid1="$("${podman[@]}" exec "$CONTAINER" cat /proc/1/cmdline | tr '\0' ' ')"
[ "$pid1" = "node dist/main.js " ] || fail "PID 1 is '$pid1', not node: SIGTERM would not reach it directly"

started=$SECONDS
until curl -fsS -o /dev/null -H "Authorization: Bearer $OPS_KEY" "$url/health/ready" 2>/dev/null; do
  [ "$("${podman[@]}" inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null)" = true ] || {
    read_container_logs && cat "$container_logs" >>"$log"
    fail "the container exited before it was ready"
  }
  ((SECONDS - started < 60)) || fail "not ready after 60 s"
  sleep 0.5
done
ready_s=$((SECONDS - started))
step "ready in $ready_s s as uid $uid"
read_container_logs
! grep -q malloc_trim_unavailable "$container_logs" || fail "the container logs malloc_trim_unavailable"

sentiment="$(curl -fsS "$url/v1/sentiment" -H 'content-type: application/json' -d '{"text":"I love this product"}')" ||
  fail "POST /v1/sentiment failed"
grep -qE '"label":"(positive|negative|neutral)"' <<<"$sentiment" || fail "unexpected sentiment answer: $sentiment"

chat='{"messages":[{"role":"user","content":"hi"}],"stream":true}'
stream="$(curl -fsSN "$url/v1/chat" -H 'content-type: application/json' -d "$chat")" || fail "streaming POST /v1/chat failed"
grep -q '^event: delta' <<<"$stream" && grep -q '^event: done' <<<"$stream" || fail "the chat stream lacks deltas or its done event"

"${podman[@]}" healthcheck run "$CONTAINER" >>"$log" 2>&1 || fail "the image's HEALTHCHECK reports unhealthy"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health/ready")" = 401 ] || fail "/health/ready answers without the ops key"

# SIGTERM while a stream is open: the stream must end properly and node must exit 0 within the drain.
stream_file="$(mktemp)"
curl -fsSN "$url/v1/chat" -H 'content-type: application/json' \
  -d '{"messages":[{"role":"user","content":"tell me a long story"}],"stream":true}' >"$stream_file" &
curl_pid=$!
until grep -q '^event: delta' "$stream_file"; do
  kill -0 "$curl_pid" 2>/dev/null || break
  sleep 0.05
done
started_ms=$(date +%s%3N)
"${podman[@]}" kill --signal TERM "$CONTAINER" >>"$log" 2>&1 || fail "podman kill failed"
exit_code="$("${podman[@]}" wait "$CONTAINER" 2>>"$log")" || fail "podman wait failed"
stopped_ms=$(($(date +%s%3N) - started_ms))
wait "$curl_pid" || true
read_container_logs && cat "$container_logs" >>"$log"
[ "$exit_code" = 0 ] || fail "exit code $exit_code after SIGTERM"
((stopped_ms < DRAIN_MS)) || fail "took $stopped_ms ms to stop, over the $DRAIN_MS ms drain"
grep -q '^event: done' "$stream_file" || fail "the stream open at SIGTERM did not end with its done event"
grep -q '"event":"shutdown_complete"' "$container_logs" || fail "no shutdown_complete log line"
in_flight="$(grep -o '"event":"shutdown_started"[^}]*' "$container_logs" | grep -o '"inFlight":[0-9]*' | cut -d: -f2)"
rm -f "$stream_file" "$container_logs"
step "SIGTERM with $in_flight request(s) in flight: streams ended with their done event, exit 0 after $stopped_ms ms"

image_bytes="$("${podman[@]}" image inspect -f '{{.Size}}' "$IMAGE")"
base_bytes="$("${podman[@]}" image inspect -f '{{.Size}}' "$BASE_IMAGE")"
sizes="image $(mib "$image_bytes") MiB = $BASE_IMAGE $(mib "$base_bytes") MiB + Duet's layers $(mib $((image_bytes - base_bytes))) MiB"
echo "container test: passed ($sizes; ready in $ready_s s as uid $uid; SIGTERM: exit 0 in $stopped_ms ms)"
