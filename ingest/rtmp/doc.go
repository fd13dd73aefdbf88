// Package rtmp is Glint's RTMP ingest: OBS, ffmpeg and hardware encoders publish to
// rtmp://host/live with an access token as the stream key. Each publish is probed (H.264 and
// AAC only, B-frames detected), handed to a transcoding ladder (package ingest/transcode runs
// ffmpeg), and the ladder's outputs enter the room's stage through an sfu ingest session,
// exactly as a WHIP host's tracks do: viewers cannot tell the two apart.
//
// The RTMP protocol itself (handshake, chunking, AMF, Enhanced RTMP messages) is
// github.com/bluenviron/gortmplib; this package decides who may publish, what it takes and
// where the media goes.
//
// What an encoder is told. A refused publish gets an onStatus error before the connection
// closes; its description starts with "glint: " and says why (ffmpeg prints it as
// "Server error: …"). The code is NetStream.Publish.Unauthorized for a bad or
// insufficient token, NetStream.Publish.BadName for another application than Config.App,
// NetStream.Play.Failed for playback (not offered) and NetStream.Publish.Rejected for the
// rest (no transcoder, an unsupported codec, an unusable stream). Connections dropped before
// connect (noise, timeouts, the connection cap) get nothing: they have not spoken RTMP yet.
//
// Lifecycle of a connection: the RTMP handshake within Config.FirstStageTimeout; connect
// and publish within Config.HandshakeTimeout and 64 KiB, while it holds one of the
// unauthenticated places (Config.MaxUnauthenticated, MaxUnauthenticatedPerAddress), which a
// newer connection may take from it if it stalls (see preAuthSet); the token checked; the publish accepted; the probe (at most one second of
// stream) within the same timeout; then the host session until the encoder leaves, goes
// silent for Config.ReadTimeout, or a newer session of the room's host takes the stage.
package rtmp
