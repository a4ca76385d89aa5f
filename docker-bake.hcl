# docker buildx bake: builds every Vigil image from the one Dockerfile.
#   docker buildx bake                          # all images, tagged REGISTRY/vigil-<service>:TAG
#   REGISTRY=ghcr.io/acme TAG=0.1.0 docker buildx bake --push
#   docker buildx bake query                    # one image

variable "REGISTRY" { default = "vigil" }
variable "TAG" { default = "dev" }
variable "REVISION" { default = "unknown" }
variable "SOURCE" { default = "unknown" }
variable "PLATFORMS" { default = "linux/amd64,linux/arm64" }

group "default" {
  targets = ["receiver", "writer", "query", "lifecycle", "alerter", "simulator", "cli"]
}

target "_common" {
  context    = "."
  dockerfile = "Dockerfile"
  platforms  = split(",", PLATFORMS)
  args = {
    VERSION  = TAG
    REVISION = REVISION
    SOURCE   = SOURCE
    CREATED  = timestamp()
  }
}

target "receiver" {
  inherits = ["_common"]
  args     = { SERVICE = "receiver" }
  tags     = ["${REGISTRY}/vigil-receiver:${TAG}"]
}

target "writer" {
  inherits = ["_common"]
  args     = { SERVICE = "writer" }
  tags     = ["${REGISTRY}/vigil-writer:${TAG}"]
}

target "query" {
  inherits = ["_common"]
  args     = { SERVICE = "query" }
  tags     = ["${REGISTRY}/vigil-query:${TAG}"]
}

target "lifecycle" {
  inherits = ["_common"]
  args     = { SERVICE = "lifecycle" }
  tags     = ["${REGISTRY}/vigil-lifecycle:${TAG}"]
}

target "alerter" {
  inherits = ["_common"]
  args     = { SERVICE = "alerter" }
  tags     = ["${REGISTRY}/vigil-alerter:${TAG}"]
}

target "simulator" {
  inherits = ["_common"]
  args     = { SERVICE = "simulator" }
  tags     = ["${REGISTRY}/vigil-simulator:${TAG}"]
}

target "cli" {
  inherits = ["_common"]
  args     = { SERVICE = "cli" }
  tags     = ["${REGISTRY}/vigil-cli:${TAG}"]
}
