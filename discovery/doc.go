// Package discovery tells a peer who else is in the cluster: each member's
// name, data endpoint, the services it handles and the topic patterns it
// subscribes to (with their subscriber groups and retention bounds). A
// Discovery keeps a view of the members and reports changes as events —
// Joined, Updated, Left (gracefully) and Failed (detected) — in order; the
// peer routes and fans out from that view.
//
// Static is a fixed membership for fixed topologies and tests: it reports
// exactly the members it was given and changes only when told (Add, Remove).
// Gossip finds members through hashicorp/memberlist: its node metadata holds
// small facts (name, endpoint, epoch, catalog version, a leaving flag), and
// a member's catalog — services and subscriptions — is fetched from it over
// the data connection whenever its version changes. A member that crashes is
// Failed, not Left: publishers keep the copies of a group whose members all
// failed, and give up those of a group whose members left.
package discovery
