package discovery

import (
	"fmt"

	"github.com/meshmq/meshmq/codec"
	"github.com/meshmq/meshmq/internal/wire"
	"github.com/meshmq/meshmq/security"
)

// metaMaxSize is memberlist's limit on node metadata; past it memberlist
// panics, so meta checks first.
const metaMaxSize = 512

// meta is what a peer puts in its gossip node metadata: small facts only.
// Its catalog (services, later subscriptions) is fetched over the data
// connection when CatalogVersion changes.
type meta struct {
	Version        uint8  `json:"v"`
	Name           string `json:"n"` // stable peer name; the memberlist node name adds a per-start suffix
	Endpoint       string `json:"e"`
	Epoch          uint64 `json:"p"` // this start of the peer; a newer one replaces an older one
	CatalogVersion uint64 `json:"c"`
	Protocol       uint64 `json:"w"`           // highest wire protocol version (PROTOCOL.md) the peer speaks
	Leaving        bool   `json:"l,omitempty"` // set just before a graceful Leave: tells left from failed
	Key            []byte `json:"k,omitempty"` // CURVE public key, 32 bytes; none without CURVE
}

// key returns the CURVE public key in m (zero for none).
func (m *meta) key() (k security.PublicKey) {
	copy(k[:], m.Key)
	return k
}

const metaVersion = 1

func (m *meta) encode() ([]byte, error) {
	b, err := codec.MsgPack().Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(b) > metaMaxSize {
		return nil, fmt.Errorf("discovery: node metadata of %d bytes exceeds %d (name or endpoint too long)", len(b), metaMaxSize)
	}
	return b, nil
}

func decodeMeta(b []byte) (meta, error) {
	var m meta
	if len(b) == 0 || len(b) > metaMaxSize {
		return m, fmt.Errorf("discovery: node metadata of %d bytes", len(b))
	}
	// Metadata comes from the network: the hardened codec checks it before
	// the msgpack library allocates.
	if err := codec.MsgPack().Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("discovery: node metadata: %w", err)
	}
	if m.Version < metaVersion || m.Name == "" {
		return m, fmt.Errorf("discovery: node metadata without a name or version")
	}
	if len(m.Key) != 0 && len(m.Key) != security.KeySize {
		return m, fmt.Errorf("discovery: %s advertises a CURVE key of %d bytes", m.Name, len(m.Key))
	}
	if m.Protocol < wire.Version {
		// Version 1 is the first: a peer announcing less speaks none we do.
		return m, fmt.Errorf("discovery: %s speaks wire protocol %d, we need %d", m.Name, m.Protocol, wire.Version)
	}
	return m, nil
}
