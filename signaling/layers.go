package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/glintlive/glint/sfu"
)

// maxLayersBody bounds PUT {session}/layers: three layer names and their JSON.
const maxLayersBody = 256

// putLayers handles PUT /whep/{room}/{id}/layers, a relay node's word on which simulcast
// layers its layered session at this origin forwards (ingest/relay): {"layers":["q","f"]}.
// It is the session's own request (the token of its identity, or roomAdmin), charged to
// the session's PATCH budget; a session that is not layered answers 409.
func (s *Server) putLayers(w http.ResponseWriter, r *http.Request) {
	res, err := s.change(r)
	if err != nil {
		writeError(w, err)
		return
	}
	wanted, err := readLayers(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	sub, ok := res.sess.(*sfu.Subscriber)
	if !ok {
		writeError(w, sfu.ErrNotLayered)
		return
	}
	if err := sub.SetLayersWanted(wanted); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readLayers reads a layers body: each name once, from q, h and f.
func readLayers(w http.ResponseWriter, r *http.Request) (wanted [3]bool, err error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || !strings.EqualFold(mt, "application/json") {
		return wanted, errors.Join(errContentType, errors.New("expected Content-Type: application/json"))
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLayersBody))
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		return wanted, errors.Join(errTooLarge, fmt.Errorf("limit is %d bytes", maxLayersBody))
	} else if err != nil {
		return wanted, errors.Join(errBadRequest, fmt.Errorf("reading the body: %w", err))
	}
	var body struct {
		Layers []string `json:"layers"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Layers == nil || dec.More() {
		return wanted, errors.Join(errBadRequest, errors.New(`want {"layers":[...]} with names from q, h and f`))
	}
	for _, name := range body.Layers {
		l, err := sfu.ParseLayer(name)
		if err != nil || name == "" || wanted[l] {
			return wanted, errors.Join(errBadRequest, fmt.Errorf("layer %q: want q, h or f, each once", name))
		}
		wanted[l] = true
	}
	return wanted, nil
}
