package main

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/glintlive/glint/signaling/auth"
)

// TestEndRoomEndsAnRTMPHost: DELETE /rooms/{room} with the room's roomAdmin ends an RTMP
// host (real ffmpeg through the ladder) as it ends a WHIP one: its connection is closed,
// the stage empties and the host shows as stopped.
func TestEndRoomEndsAnRTMPHost(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	a, stop := startApp(t, testConfig(t))
	defer stop()
	rtmpHostLive(t, a, "show")
	admin, err := auth.Issue(a.cfg.APIKey, a.cfg.APISecret, auth.TokenOptions{Room: "show", Identity: "mod", Admin: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, a.URL()+"/rooms/show", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /rooms/show: %s, want 204", res.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := a.sfu.Room("show")
		if r == nil || (!r.Info().Publishing && !r.Host().Live) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the room was ended: publishing %v, host %+v", r.Info().Publishing, r.Host())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := a.sfu.Room("show"); r != nil && r.Host().Reason != "stopped" {
		t.Errorf("host state %+v after the room was ended; want stopped", r.Host())
	}
}

// TestThumbnailOfALiveRoom: a live room's thumbnail is a JPEG of its video, 480 pixels
// wide, made from the next keyframe by the whole path (real ffmpeg RTMP host, the ladder,
// the SFU's packets, ffmpeg again), private until the room is in the directory and public
// after; the directory links it for a room whose metadata names no thumbnail; a room that
// is not live has none (404).
func TestThumbnailOfALiveRoom(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	a, stop := startApp(t, testConfig(t))
	defer stop()
	rtmpHostLive(t, a, "show")
	res, err := http.Get(a.URL() + "/rooms/show/thumbnail.jpg")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /rooms/show/thumbnail.jpg: %s %s", res.Status, body)
	}
	// Not in the directory yet: for those who may watch the room (anonymous viewing is
	// on here), and private.
	if ct, cc := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"); ct != "image/jpeg" || !strings.HasPrefix(cc, "private, max-age=") {
		t.Errorf("Content-Type %q, Cache-Control %q; want image/jpeg, private", ct, cc)
	}
	img, err := jpeg.Decode(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the thumbnail is not a JPEG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 480 || b.Dy() != 270 {
		t.Errorf("thumbnail %dx%d; want 480x270 (the 16:9 source scaled down)", b.Dx(), b.Dy())
	}

	admin, err := auth.Issue(a.cfg.APIKey, a.cfg.APISecret, auth.TokenOptions{Room: "show", Identity: "mod", Admin: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, a.URL()+"/rooms/show/metadata", strings.NewReader(`{"title":"Show","category":"Music"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	put, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	put.Body.Close()
	if put.StatusCode != http.StatusOK {
		t.Fatalf("PUT metadata: %s", put.Status)
	}
	res, err = http.Get(a.URL() + "/directory")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"thumbnailUrl":"/rooms/show/thumbnail.jpg"`) {
		t.Errorf("the directory does not link the room's thumbnail: %s", body)
	}
	// In the directory now: public, as the directory is.
	res, err = http.Get(a.URL() + "/rooms/show/thumbnail.jpg")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if cc := res.Header.Get("Cache-Control"); res.StatusCode != http.StatusOK || !strings.HasPrefix(cc, "public, max-age=") {
		t.Errorf("a listed room's thumbnail: %s, Cache-Control %q; want 200, public", res.Status, cc)
	}
	if res, err := http.Get(a.URL() + "/rooms/nobody/thumbnail.jpg"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("a room not live: %v %v; want 404", res, err)
	} else {
		res.Body.Close()
	}
}

// rtmpHostLive starts an RTMP host for room (rtmpHostOnStage) and waits, at most 20 s
// more, until the host is live (its first media went through the ladder).
func rtmpHostLive(t *testing.T, a *app, room string) {
	t.Helper()
	rtmpHostOnStage(t, a, room)
	for deadline := time.Now().Add(20 * time.Second); !a.sfu.Room(room).Host().Live; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the RTMP host did not go live within 20 s")
		}
	}
}

// TestThumbnailNeedsTheGrantToWatch: with anonymous viewing off, a room that is not in
// the directory shows its thumbnail only to a token that may watch it.
func TestThumbnailNeedsTheGrantToWatch(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg") // without it the room's viewer gets 503, not 404
	cfg := testConfig(t)
	cfg.Signaling.AllowAnonymousViewing = false
	a, stop := startApp(t, cfg)
	defer stop()
	get := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, a.URL()+"/rooms/secret/thumbnail.jpg", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if code := get(""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", code)
	}
	other, err := auth.Issue(cfg.APIKey, cfg.APISecret, auth.TokenOptions{Room: "other", Identity: "v", Subscribe: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if code := get(other); code != http.StatusForbidden {
		t.Errorf("another room's viewer: %d, want 403", code)
	}
	viewer, err := auth.Issue(cfg.APIKey, cfg.APISecret, auth.TokenOptions{Room: "secret", Identity: "v", Subscribe: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if code := get(viewer); code != http.StatusNotFound { // let in; the room is not live
		t.Errorf("the room's viewer: %d, want 404 (not live)", code)
	}
}

// TestRTMPHostIsAParticipant: an RTMP host (real ffmpeg) is a participant of its room like
// a WHIP host: the room API lists it (a session of kind rtmp, under its stream key's
// identity) and names it the room's publisher, the room webhooks announce it
// (participant_joined, verified by LiveKit's receiver), and removing it ends its stream
// (participant_left).
func TestRTMPHostIsAParticipant(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	var mu sync.Mutex
	var events []string
	cfg := testConfig(t)
	cfg.Webhooks = []string{webhookBackend(t, cfg, func(ev *livekit.WebhookEvent) {
		if p := ev.GetParticipant(); p != nil {
			mu.Lock()
			events = append(events, fmt.Sprintf("%s %s publisher=%v", ev.Event, p.Identity, p.IsPublisher))
			mu.Unlock()
		}
	})}
	a, stop := startApp(t, cfg)
	defer stop()
	rtmpHostLive(t, a, "show")
	admin, err := auth.Issue(a.cfg.APIKey, a.cfg.APISecret, auth.TokenOptions{Room: "show", Identity: "mod", Admin: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, a.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	if code, body := call(http.MethodGet, "/rooms/show/participants"); code != http.StatusOK ||
		!strings.Contains(body, `{"identity":"host","sessions":[{"kind":"rtmp"`) {
		t.Fatalf("participants: %d %s; want host with an rtmp session", code, body)
	}
	if code, body := call(http.MethodGet, "/rooms/show"); code != http.StatusOK || !strings.Contains(body, `"publisher":"host"`) {
		t.Fatalf("the room: %d %s; want publisher host", code, body)
	}
	waitEvent := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			got := slices.Contains(events, want)
			seen := strings.Join(events, "; ")
			mu.Unlock()
			if got {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q webhook within 10 s; got %s", want, seen)
			}
		}
	}
	waitEvent("participant_joined host publisher=true")
	if code, body := call(http.MethodDelete, "/rooms/show/participants/host"); code != http.StatusNoContent {
		t.Fatalf("removing the RTMP host: %d %s", code, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r := a.sfu.Room("show"); r == nil || !r.Info().Publishing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the removed RTMP host still publishes 10 s on")
		}
	}
	waitEvent("participant_left host publisher=true")
}
