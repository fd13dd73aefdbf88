package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/glintlive/glint/signaling/auth"
)

// TestEndRoomEndsAnRTMPHost: DELETE /rooms/{room} with the room's roomAdmin ends an RTMP
// host (real ffmpeg through the ladder) as it ends a WHIP one: its connection is closed,
// the stage empties and the host shows as stopped.
func TestEndRoomEndsAnRTMPHost(t *testing.T) {
	requireTool(t, "ffmpeg", "ffmpeg")
	a, stop := startApp(t, testConfig(t))
	defer stop()
	rtmpHostOnStage(t, a, "show")
	for deadline := time.Now().Add(20 * time.Second); !a.sfu.Room("show").Host().Live; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the RTMP host did not go live within 20 s")
		}
	}
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
