package peer_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/discovery"
	"github.com/meshmq/meshmq/peer"
	"github.com/meshmq/meshmq/peer/outbox"
	"github.com/meshmq/meshmq/peer/outbox/sqlite"
)

// An order and its event commit together: the event is written into the
// outbox in the order's transaction and relayed once it commits. The
// shipping side claims each event in the transaction of its effects, so a
// redelivery changes nothing.
func ExamplePeer_PublishTx() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "meshmq-example")
	defer os.RemoveAll(dir)

	// Shipping: an idempotent consumer on its own database.
	shipDB, err := sqlite.Open(ctx, filepath.Join(dir, "shipping.db"))
	if err != nil {
		panic(err)
	}
	defer shipDB.Close()
	shipDB.DB().Exec("CREATE TABLE shipments (order_id TEXT PRIMARY KEY)")
	shipped := make(chan string, 1)
	shipping, err := peer.New(ctx, peer.WithName("shipping"))
	if err != nil {
		panic(err)
	}
	defer shipping.Close(ctx)
	ship := outbox.Idempotent(shipDB.DB(), shipDB, "shipping", func(ctx context.Context, tx *sql.Tx, m *channel.Message) error {
		if _, err := tx.ExecContext(ctx, "INSERT INTO shipments (order_id) VALUES (?)", string(m.Body)); err != nil {
			return err
		}
		shipped <- string(m.Body)
		return nil
	})
	if _, err := shipping.Subscribe("orders.>", ship, peer.Group("shipping")); err != nil {
		panic(err)
	}

	// Orders: its store is in the database of its orders.
	store, err := sqlite.Open(ctx, filepath.Join(dir, "orders.db"))
	if err != nil {
		panic(err)
	}
	defer store.Close()
	db := store.DB()
	db.Exec("CREATE TABLE orders (id TEXT PRIMARY KEY)")
	orders, err := peer.New(ctx, peer.WithName("orders"), peer.WithStore(store),
		peer.WithDiscovery(discovery.NewStatic(shipping.Advertisement())))
	if err != nil {
		panic(err)
	}
	defer orders.Close(ctx)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		panic(err)
	}
	tx.ExecContext(ctx, "INSERT INTO orders (id) VALUES ('o-1')")
	if err := orders.PublishTx(ctx, tx, &channel.Message{Channel: "orders.created", Body: []byte("o-1")}); err != nil {
		panic(err)
	}
	if err := tx.Commit(); err != nil { // the order and its event, or neither
		panic(err)
	}
	fmt.Println("shipped", <-shipped)
	// Output: shipped o-1
}
