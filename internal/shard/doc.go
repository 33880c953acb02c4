// Package shard divides keys (RayClusters' namespace/name) among the live
// replicas of one component, all of them active.
//
// Membership is one coordination.k8s.io/v1 Lease per replica, renewed every
// RetryPeriod and listed (by label) every RetryPeriod; a member is live while
// its Lease was seen renewed within LeaseDuration on the local monotonic
// clock, as client-go's leader election judges a holder
// (client-go: tools/leaderelection/leaderelection.go, tryAcquireOrRenew), so
// no two machines' clocks are compared. Keys are divided by rendezvous
// hashing over the live members (owner.go), and a replica acts on a key only
// under the fencing rule of fence.go: a replica stops acting on a key before
// another starts.
package shard
