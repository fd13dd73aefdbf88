// Package whip turns a WHIP publisher (a browser, OBS, ffmpeg) into Receivers on a room's
// stage. It owns the publisher's WebRTC session; the HTTP resource around it lives in
// package signaling.
package whip
