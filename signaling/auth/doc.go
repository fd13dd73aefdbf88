// Package auth checks and issues Glint access tokens.
//
// A Glint token is a LiveKit access token: an HS256 JWT whose issuer is an API key, whose
// subject is the participant identity, and whose "video" claim is a LiveKit VideoGrant
// (roomJoin, room, canPublish, canSubscribe, canPublishData, roomAdmin). Parsing and
// signature checks are delegated to github.com/livekit/protocol/auth rather than
// reimplemented, so any LiveKit server SDK or the livekit-cli token command mints tokens
// Glint accepts, and permission defaults follow LiveKit's getters exactly.
//
// The flow at the HTTP edge is Verifier.Authorize: BearerToken, then Verifier.Verify, then
// Claims.AllowAny. Every error wraps one of ErrMissingToken, ErrInvalidToken (both 401) or
// ErrForbidden (403).
//
// SignWebhook signs the body of a webhook to the host's backend the way LiveKit does, so
// LiveKit's receivers verify Glint's webhooks.
//
// The package is a leaf: it imports livekit/protocol and the standard library only.
package auth
