package security_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/meshmq/meshmq/security"
)

// Each peer has a key pair; every peer's public key file goes into a
// directory that all peers load as their allowlist. The resulting Config
// goes to peer.WithSecurity.
func ExampleLoad() {
	dir, err := os.MkdirTemp("", "meshmq-keys")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	allowed := filepath.Join(dir, "allowed")
	if err := os.Mkdir(allowed, 0o755); err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"orders", "shipping"} {
		kp, err := security.GenerateKeyPair()
		if err != nil {
			log.Fatal(err)
		}
		if err := security.WriteKeyPair(filepath.Join(dir, name+".key_secret"), kp); err != nil {
			log.Fatal(err)
		}
		if err := security.WritePublicKey(filepath.Join(allowed, name+".key"), kp.Public); err != nil {
			log.Fatal(err)
		}
	}
	gk, err := security.GenerateGossipKey()
	if err != nil {
		log.Fatal(err)
	}
	if err := security.WriteGossipKey(filepath.Join(dir, "gossip.key"), gk); err != nil {
		log.Fatal(err)
	}

	cfg, err := security.Load(filepath.Join(dir, "orders.key_secret"), []string{allowed}, filepath.Join(dir, "gossip.key"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("allowed keys:", len(cfg.Allow.Keys()))
	fmt.Println("own key allowed:", cfg.Allow.Allowed(cfg.Keys.Public))
	fmt.Println("gossip keys:", len(cfg.GossipKeys))
	// Output:
	// allowed keys: 2
	// own key allowed: true
	// gossip keys: 1
}
