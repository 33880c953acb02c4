package main

import (
	"time"

	"github.com/spf13/pflag"
)

// leaderElectFlags are the leader-election flags as Kubernetes components
// name them (k8s.io/component-base/config/options: --leader-elect,
// --leader-elect-lease-duration, --leader-elect-renew-deadline,
// --leader-elect-retry-period, --leader-elect-resource-namespace,
// --leader-elect-resource-name).
type leaderElectFlags struct {
	enabled                                   bool
	namespace, name                           string
	leaseDuration, renewDeadline, retryPeriod time.Duration
}

// leaderElectUsage is what enabling the election does, and what an empty
// namespace or name means, for one subcommand.
type leaderElectUsage struct{ enable, namespace, name string }

// addTo defines the flags on fs with the defaults of def.
func (l *leaderElectFlags) addTo(fs *pflag.FlagSet, def leaderElectFlags, u leaderElectUsage) {
	fs.BoolVar(&l.enabled, "leader-elect", def.enabled, u.enable)
	fs.StringVar(&l.namespace, "leader-elect-resource-namespace", def.namespace, "namespace of the leader-election Lease"+u.namespace)
	fs.StringVar(&l.name, "leader-elect-resource-name", def.name, "name of the leader-election Lease"+u.name)
	fs.DurationVar(&l.leaseDuration, "leader-elect-lease-duration", def.leaseDuration, "how long a standby waits after the leader's last renewal before taking over (a crashed leader's successor waits this long)")
	fs.DurationVar(&l.renewDeadline, "leader-elect-renew-deadline", def.renewDeadline, "how long the leader retries renewing before it stops leading; below --leader-elect-lease-duration")
	fs.DurationVar(&l.retryPeriod, "leader-elect-retry-period", def.retryPeriod, "time between two renewals by the leader and two attempts by a standby")
}
