package datachannel

import "encoding/json"

// Version is the envelope version this server speaks. A client sending any other value
// gets an error event with code [CodeBadVersion].
const Version = 1

// Label is the WebRTC data channel label that carries this protocol. The suffix is the
// envelope version, so a future incompatible protocol gets a new channel.
const Label = "glint.v1"

// Envelope is one message on the wire, in either direction.
//
// Clients set V, Type, an optional ID (echoed in the ack or error that answers it),
// optionally Room (must match the connection's room), MediaTime (bids: the capture time
// of the frame the viewer was watching) and Payload. The server always sets From from the
// token identity, Seq (the room's event order) and MediaTime (the live edge when the event
// was accepted) on what it sends.
type Envelope struct {
	V         int             `json:"v"`
	Type      string          `json:"type"`
	ID        string          `json:"id,omitempty"`
	Room      string          `json:"room,omitempty"`
	From      string          `json:"from,omitempty"`
	Seq       uint64          `json:"seq,omitempty"`
	MediaTime int64           `json:"mediaTime,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"`
}

// Encode returns env as JSON with V set to [Version].
func Encode(env *Envelope) ([]byte, error) {
	env.V = Version
	return json.Marshal(env)
}

// mustPayload marshals a server-built payload. Every payload type is a plain struct of
// strings, numbers, bools and slices of those, so marshalling cannot fail; a failure is a
// programming error and is reported in the payload instead of panicking.
func mustPayload(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(map[string]string{"encodeError": err.Error()})
	}
	return b
}
