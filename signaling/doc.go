// Package signaling is Glint's HTTP surface: WHIP (RFC 9725) and WHEP resources, CORS,
// access-token checks, per-client rate limits and health. It turns HTTP into calls on
// ingest/whip and sfu and turns their errors into clear HTTP statuses.
package signaling
