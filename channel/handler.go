package channel

import (
	"context"
	"errors"
)

// Handler processes a received message. Returning nil acknowledges it. A
// non-nil error asks for redelivery, unless the error is permanent (see
// [Permanent]), in which case the message is dead-lettered at once.
type Handler func(ctx context.Context, m *Message) error

// ErrPermanent marks a handler error as permanent: retrying the message
// cannot succeed, so it should be dead-lettered at once. Return it
// directly, or wrap another error with [Permanent].
var ErrPermanent = errors.New("channel: permanent failure")

// Permanent returns err marked as permanent, so that [IsPermanent] and
// errors.Is(·, ErrPermanent) report true. The result keeps err's message
// and unwraps to err, so errors.Is and errors.As still find what err
// wraps. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil || IsPermanent(err) {
		return err
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or any error it wraps, is permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

type permanentError struct{ err error }

func (e *permanentError) Error() string        { return e.err.Error() }
func (e *permanentError) Unwrap() error        { return e.err }
func (e *permanentError) Is(target error) bool { return target == ErrPermanent }
