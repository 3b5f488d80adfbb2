#!/bin/sh
# Builds one image per service from the Dockerfile's targets with docker, podman or buildah,
# tagged with the git revision (a -dirty suffix when the tree has uncommitted changes).
#
#   scripts/build-images.sh                      # all six, hotpin/<service>:<revision>
#   REGISTRY=registry.example.com/hotpin scripts/build-images.sh --push
#   ENGINE=buildah scripts/build-images.sh stt tts
#
# ENGINE: docker | podman | buildah (default: the first that works). REGISTRY: image name prefix
# (default hotpin). TAG: overrides the revision tag. Rootless buildah in a CI sandbox may need
# STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot.
set -eu

cd "$(dirname "$0")/.."
push=false
services=""
for arg in "$@"; do
  case "$arg" in
    --push) push=true ;;
    edge | stt | llm | tts | storage | console) services="$services $arg" ;;
    *) echo "usage: $0 [--push] [edge stt llm tts storage console]" >&2; exit 64 ;;
  esac
done
[ -n "$services" ] || services="edge stt llm tts storage console"

if [ -z "${ENGINE:-}" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then ENGINE=docker
  elif command -v podman >/dev/null 2>&1; then ENGINE=podman
  elif command -v buildah >/dev/null 2>&1; then ENGINE=buildah
  else echo "no container engine: install docker, podman or buildah (or set ENGINE)" >&2; exit 69
  fi
fi

revision=$(git rev-parse --short=12 HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then revision="$revision-dirty"; fi
tag=${TAG:-$revision}
registry=${REGISTRY:-hotpin}
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)

for service in $services; do
  image="$registry/$service:$tag"
  echo "building $image ($ENGINE)" >&2
  labels="--label org.opencontainers.image.revision=$(git rev-parse HEAD) --label org.opencontainers.image.created=$created --label org.opencontainers.image.title=hotpin-$service"
  case "$ENGINE" in
    docker | podman) "$ENGINE" build --target "$service" $labels -t "$image" . ;;
    buildah) buildah build --target "$service" $labels -t "$image" . ;;
    *) echo "unknown ENGINE $ENGINE" >&2; exit 64 ;;
  esac
  if $push; then "$ENGINE" push "$image"; fi
  echo "$image"
done
