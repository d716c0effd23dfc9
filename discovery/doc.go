// Package discovery tells a peer who else is in the cluster: each member's
// name, data endpoint and the services it handles. A Discovery keeps a view
// of the members and reports changes as events; the peer routes from that
// view.
//
// Static is a fixed membership for fixed topologies and tests: it reports
// exactly the members it was given and changes only when told. The gossip
// implementation on hashicorp/memberlist follows in a later release; it
// implements the same interface.
package discovery
