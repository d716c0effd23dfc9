package peer

import (
	"fmt"

	"github.com/meshmq/meshmq/channel"
)

// Reason says why a message was dead-lettered.
type Reason string

const (
	ReasonPermanent   Reason = "permanent"    // the handler returned a permanent error
	ReasonMaxAttempts Reason = "max-attempts" // the retry policy's attempts ran out
	ReasonMaxAge      Reason = "max-age"      // unacknowledged past the retry policy's age
	ReasonExpired     Reason = "expired"      // past its TTL or deadline
	ReasonRejected    Reason = "rejected"     // the receiver could not take it (undecodable, too large, unauthorized)
	ReasonClosed      Reason = "closed"       // the peer closed before it was acknowledged
)

// DeadLetter is a message a sender gave up on.
type DeadLetter struct {
	Message     *channel.Message
	Destination string // peer name
	Reason      Reason
	Err         error // the receiver's error text, if it gave one
	Attempts    int
}

func (d DeadLetter) String() string {
	return fmt.Sprintf("dead letter %s to %s after %d attempts: %s: %v", d.Message.ID, d.Destination, d.Attempts, d.Reason, d.Err)
}
