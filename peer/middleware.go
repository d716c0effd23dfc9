package peer

import (
	"context"

	"github.com/meshmq/meshmq/channel"
)

// SendFunc sends one message; Send runs the send-side middleware around the
// peer's own SendFunc.
type SendFunc func(ctx context.Context, msg *channel.Message) error

// SendMiddleware wraps the send path: it may read and change the message
// (headers, for tracing), time it, or refuse it by returning an error.
type SendMiddleware func(next SendFunc) SendFunc

// HandleMiddleware wraps every handler: tracing, metrics, logging, recovery
// policies. The first registered is the outermost.
type HandleMiddleware func(next channel.Handler) channel.Handler

func chainSend(final SendFunc, mws []SendMiddleware) SendFunc {
	for i := len(mws) - 1; i >= 0; i-- {
		final = mws[i](final)
	}
	return final
}

func chainHandle(final channel.Handler, mws []HandleMiddleware) channel.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		final = mws[i](final)
	}
	return final
}
