package main

import (
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

// setup loads the API server config and builds the logger, named after
// cmd, that writes to cmd's stderr.
func (s *serverFlags) setup(cmd *cobra.Command) (*zap.Logger, *rest.Config, error) {
	rc, err := s.kube.restConfig()
	if err != nil {
		return nil, nil, err
	}
	return s.log.logger(cmd.ErrOrStderr()).Named(cmd.Name()), rc, nil
}
