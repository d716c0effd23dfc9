package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/meshmq/meshmq/channel"
)

// TxHandler handles a message inside a transaction on the application's
// database: its effects commit together with the claim of the message.
type TxHandler func(ctx context.Context, tx *sql.Tx, msg *channel.Message) error

// Idempotent makes h an idempotent consumer: each message is handled in a
// transaction on db that first claims the message's ID for consumer (c is
// the SQL store on the same database). A message whose ID a committed
// transaction already claimed — a redelivery after a crash, a resend by a
// restarted sender or another relay — is acknowledged without running h.
// If h fails, the transaction and the claim roll back, and the message is
// retried like any other. So h's effects on db happen exactly once per
// message ID, across kills of either side; effects outside db do not.
//
// Claims are kept for the store's retention (a week by default): a copy
// arriving later than that would be handled again.
func Idempotent(db *sql.DB, c Claimer, consumer string, h TxHandler) channel.Handler {
	return func(ctx context.Context, msg *channel.Message) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("outbox: idempotent %s: %w", consumer, err)
		}
		defer tx.Rollback() // after Commit, a no-op
		if err := c.Claim(ctx, tx, consumer, msg.ID); err != nil {
			if errors.Is(err, ErrProcessed) {
				return nil // handled before: acknowledge it again
			}
			return err
		}
		if err := h(ctx, tx, msg); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("outbox: idempotent %s: commit: %w", consumer, err)
		}
		return nil
	}
}
