package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/meshmq/meshmq/channel"
	"github.com/meshmq/meshmq/chaos"
	"github.com/meshmq/meshmq/peer"
)

// handler logs each handling of group's messages before acknowledging it
// (returning nil), so that a handling whose ack a SIGKILL prevented is in
// the log too. A message it cannot log is refused, to come again.
func handler(group string, log *chaos.Log) channel.Handler {
	return func(ctx context.Context, m *channel.Message) error {
		key, seq, err := chaos.ParseMessageID(m.ID)
		if err != nil {
			return channel.Permanent(err) // not the suite's: a dead letter says so
		}
		if key != m.Key {
			return channel.Permanent(fmt.Errorf("message %s has key %q", m.ID, m.Key))
		}
		return log.Write(chaos.Event{Kind: chaos.Handled, Group: group, Key: key, Seq: seq, ID: m.ID, Note: m.From})
	}
}

// responder answers a request with its own body, logging that it served it.
func responder(log *chaos.Log) channel.Handler {
	return func(ctx context.Context, m *channel.Message) error {
		if err := peer.Reply(ctx, &channel.Message{Body: bytes.Clone(m.Body)}); err != nil {
			return err
		}
		return log.Write(chaos.Event{Kind: chaos.Served, ID: m.ID, Note: m.From})
	}
}
