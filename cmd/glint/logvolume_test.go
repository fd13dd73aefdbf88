package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/glintlive/glint/sfu/sfutest"
	"github.com/glintlive/glint/signaling/auth"
)

// TestLogVolume: a session of one host and ten viewers, from the first POST to the last
// DELETE, writes at most 30 lines at Info and above (issue 17: an operator reads them),
// none of them pion's noise of a session's ordinary start and end, one line per session
// when it ends, and refused logins are logged.
func TestLogVolume(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := testConfig(t)
	a, err := newApp(cfg, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	a.start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.close(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	token := func(id string, o auth.TokenOptions) string {
		o.Room, o.Identity, o.TTL = "show", id, time.Hour
		tok, err := auth.Issue(cfg.APIKey, cfg.APISecret, o)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	pub, err := sfutest.NewPublisher(ctx, httpSignal(a.URL()+"/whip/show", token("host", auth.TokenOptions{Publish: true})))
	if err != nil {
		t.Fatal(err)
	}
	var viewers []*sfutest.Viewer
	for i := range 10 {
		v, err := sfutest.NewViewer(ctx, httpSignal(a.URL()+"/whep/show", token(fmt.Sprint("v", i), auth.TokenOptions{Subscribe: true})))
		if err != nil {
			t.Fatal(err)
		}
		viewers = append(viewers, v)
	}
	if err := pub.SendFrames(ctx, 0, 60, 30, 30); err != nil {
		t.Fatal(err)
	}
	for _, v := range viewers {
		if err := v.WaitFrame(ctx, 50); err != nil {
			t.Fatal(err)
		}
		_ = v.Close()
	}
	_ = pub.Close()
	// A refused login: an operator must see it.
	req, _ := http.NewRequest(http.MethodPost, a.URL()+"/whep/show", strings.NewReader("v=0"))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer not-a-token")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("session ended").Len() < 11 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions logged their end; want 11", logs.FilterMessage("session ended").Len())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var lines []string
	for _, e := range logs.All() {
		lines = append(lines, fmt.Sprintf("%s %s %s", e.Level, e.LoggerName, e.Message))
		if strings.Contains(e.LoggerName, "pion") {
			t.Errorf("pion at %s: %s", e.Level, e.Message)
		}
	}
	t.Logf("%d lines at Info and above:\n%s", len(lines), strings.Join(lines, "\n"))
	if len(lines) > 30 {
		t.Errorf("%d lines at Info and above for one host and ten viewers; want at most 30", len(lines))
	}
	if logs.FilterMessage("login refused").Len() != 1 {
		t.Error("the refused login was not logged")
	}
}
