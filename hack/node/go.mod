// The real node's helpers (hack/local-cluster.sh up --pods) are their own
// module, so the product's go.mod does not carry what only they need.
module raypilot.io/hack/node

go 1.26

require github.com/distribution/reference v0.6.0

require github.com/opencontainers/go-digest v1.0.0 // indirect
