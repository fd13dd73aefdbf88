// Package gift is the rules of gifts and donations as a pure state machine: a gift is
// validated and recorded once per (sender, idempotency key), however often the client
// retries. Making it durable and announcing it (the on-screen alert, the signed webhook)
// is the caller's.
package gift
