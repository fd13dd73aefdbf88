// Package bus carries the interaction layer between nodes and keeps what must not be lost.
//
// [Bus] has two halves. Publish/Subscribe is fire-and-forget fan-out of a room's events
// (core NATS subjects). Append/Replay is a durable, ordered log per subject (JetStream):
// Append can require the subject's last sequence to be a given value, so when several
// writers race on one auction lot exactly one wins and the others get [ErrConflict]; and
// a message id makes a retried Append a no-op inside the deduplication window. Consume
// reads logs through a named, durable position that nodes share: each record is handed
// to one of them, in order, until one acknowledges it, so delivery driven by it (the
// gift webhook) is at-least-once and survives restarts.
//
// [NATS] implements it, against an embedded nats-server with JetStream on file storage in
// the data directory (the default) or an external NATS cluster ([Config].URL).
package bus
