// Package chat is the rules of a room's chat as a pure state machine: sending with a size
// limit, per-identity rate limits and slow mode, deleting (own messages, or any by a
// moderator), pinning, muting and banning, and the bounded history a joiner receives. No
// I/O, no clocks: the caller passes the time in. Moderators (roomAdmin) are exempt from
// rate limits, slow mode and mutes.
package chat
