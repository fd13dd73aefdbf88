// Package rtmp is Glint's RTMP ingest: OBS, ffmpeg and hardware encoders publish to
// rtmp://host/live with an access token as the stream key. Each publish is probed (H.264 and
// AAC only, B-frames detected), handed to a transcoding ladder (package ingest/transcode runs
// ffmpeg), and the ladder's outputs enter the room's stage through an sfu ingest session,
// exactly as a WHIP host's tracks do: viewers cannot tell the two apart.
//
// The RTMP protocol itself (handshake, chunking, AMF, Enhanced RTMP messages) is
// github.com/bluenviron/gortmplib; this package decides who may publish, what it takes and
// where the media goes.
package rtmp
