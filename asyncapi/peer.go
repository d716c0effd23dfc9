package asyncapi

import (
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
)

// ForPeer returns the document of p alone, from its advertisement
// (Peer.Advertisement): its handlers, subscriptions and declared emits.
// An empty info.Title becomes the peer's name.
func ForPeer(p *peer.Peer, info Info) (*Document, error) {
	if info.Title == "" {
		info.Title = p.Name()
	}
	return ForMembers(info, p.Advertisement())
}

// ForCluster returns the document of every member p's discovery sees
// (Peer.Members) and of p itself: what the cluster sends and receives, as
// p knows it now.
func ForCluster(p *peer.Peer, info Info) (*Document, error) {
	self := p.Advertisement()
	members := []discovery.Member{self}
	for _, m := range p.Members() {
		if m.Name != self.Name {
			members = append(members, m)
		}
	}
	return ForMembers(info, members...)
}
