package llhls

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"sync"
	"time"
)

// Interaction events ride in the media playlists as EXT-X-DATERANGE tags, dated on the
// media clock (START-DATE is the event's mediaTime, the capture time of the frame it belongs
// to, on the same clock as PROGRAM-DATE-TIME), so a player shows them on their frame
// without a second connection: hls.js turns each into a metadata cue at the right media
// time. Only the kinds that belong on the video are carried (chat stays on the WebSocket):
var carriedEvents = map[string]bool{
	"alert":          true,
	"gift.alert":     true,
	"poll.state":     true,
	"auction.closed": true,
}

// maxEvents is how many recent events a stream keeps for its playlists.
const maxEvents = 64

// Event is one interaction event as the hub broadcast it.
type Event struct {
	Seq       uint64
	Type      string
	MediaTime time.Time
	Data      []byte // the envelope, as sent on the data channel and WebSocket
}

// eventLog is a stream's recent events, newest last.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == maxEvents {
		copy(l.events, l.events[1:])
		l.events = l.events[:maxEvents-1]
	}
	l.events = append(l.events, e)
}

func (l *eventLog) since(t time.Time) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if !e.MediaTime.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

// Event is the interaction hub's observer (datachannel.Options.OnEvent): a carried event
// for a room being muxed goes into its next playlists. It never blocks.
func (o *Origin) Event(room, typ string, seq uint64, mediaTimeMs int64, data []byte) {
	if !carriedEvents[typ] {
		return
	}
	o.mu.Lock()
	st := o.streams[room]
	o.mu.Unlock()
	if st == nil {
		return
	}
	st.events.add(Event{Seq: seq, Type: typ, MediaTime: time.UnixMilli(mediaTimeMs), Data: bytes.Clone(data)})
}

// dateRanges renders events as EXT-X-DATERANGE lines.
func dateRanges(events []Event) []byte {
	var b bytes.Buffer
	for _, e := range events {
		b.WriteString(`#EXT-X-DATERANGE:ID="glint-`)
		b.WriteString(strconv.FormatUint(e.Seq, 10))
		b.WriteString(`",CLASS="live.glint.event",START-DATE="`)
		b.WriteString(e.MediaTime.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		b.WriteString(`",X-GLINT-TYPE="`)
		b.WriteString(e.Type)
		b.WriteString(`",X-GLINT-EVENT="`)
		b.WriteString(base64.RawURLEncoding.EncodeToString(e.Data))
		b.WriteString("\"\n")
	}
	return b.Bytes()
}

// insertDateRanges puts the tags after EXT-X-MAP, before the first segment.
func insertDateRanges(body, tags []byte) []byte {
	if len(tags) == 0 {
		return body
	}
	i := bytes.Index(body, []byte("#EXT-X-MAP:"))
	if i < 0 {
		return body
	}
	j := bytes.IndexByte(body[i:], '\n')
	if j < 0 {
		return body
	}
	at := i + j + 1
	out := make([]byte, 0, len(body)+len(tags))
	out = append(out, body[:at]...)
	out = append(out, tags...)
	return append(out, body[at:]...)
}
