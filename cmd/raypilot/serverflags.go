package main

import (
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"k8s.io/client-go/rest"
)

// serverFlags are the flags every long-running subcommand shares.
type serverFlags struct {
	kube kubeFlags
	log  logFlags
}

// addTo defines the flags on fs.
func (s *serverFlags) addTo(fs *pflag.FlagSet) {
	s.kube.addTo(fs)
	s.log.addTo(fs)
}

// setup loads the API server config, builds the logger, named after cmd,
// that writes to cmd's stderr, and sets the Go runtime's memory limit from
// the container's (softMemoryLimit).
func (s *serverFlags) setup(cmd *cobra.Command) (*zap.Logger, *rest.Config, error) {
	rc, err := s.kube.restConfig()
	if err != nil {
		return nil, nil, err
	}
	log := s.log.logger(cmd.ErrOrStderr()).Named(cmd.Name())
	limit, ok, err := softMemoryLimit(os.Getenv)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		debug.SetMemoryLimit(limit)
		log.Info("Go memory limit set from the container's", zap.Int64("bytes", limit), zap.Int("percent", memoryLimitPercent))
	}
	return log, rc, nil
}
