// Command pause is the pod sandbox's process on the real node of
// `hack/local-cluster.sh up --pods`: it holds the pod's namespaces until
// it is told to stop. Built statically and packed FROM scratch (no registry).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
