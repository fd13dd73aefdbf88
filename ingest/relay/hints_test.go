package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/glintlive/glint/datachannel/bus"
	"github.com/glintlive/glint/ingest/whip"
	"github.com/glintlive/glint/sfu"
	"github.com/glintlive/glint/sfu/sfutest"
)

// leaderless is the real directory while its stream has no leader: reads answer (from
// any replica), writes fail as NATS's do then.
type leaderless struct {
	Directory
	on atomic.Bool
}

func (d *leaderless) Put(ctx context.Context, room string, value []byte) error {
	if d.on.Load() {
		return errors.New("nats: no response from stream")
	}
	return d.Directory.Put(ctx, room, value)
}

// nodeHints are several nodes' origin hints on one bus (in a cluster each node has its
// own bus, whose messages carry their node): each hint goes out with its node's name.
type nodeHints struct {
	b    bus.Bus
	node string
}

func (h nodeHints) Send(data []byte) error {
	return h.b.Publish("glint cluster", "origin", append([]byte(h.node+"\n"), data...))
}

func (h nodeHints) Receive(fn func([]byte)) (func(), error) {
	sub, err := h.b.Subscribe("glint cluster", "origin", func(m bus.Msg) {
		if from, data, ok := bytes.Cut(m.Data, []byte("\n")); ok && string(from) != h.node {
			fn(data)
		}
	})
	if err != nil {
		return nil, err
	}
	return sub.Stop, nil
}

// TestOriginHintWhileDirectoryCannotWrite: a host goes live on node X while the directory
// takes no write (its stream's leader died) and still names a dead node, whose host went
// live earlier: node Y learns from X's hint that X is the room's origin at once; when X's
// host leaves, its hint is withdrawn and Y reads the directory again.
func TestOriginHintWhileDirectoryCannotWrite(t *testing.T) {
	sfuX, sfuY := newSFU(t), newSFU(t)
	defer sfuY.Close()
	defer sfuX.Close()
	b, dir := busDirectory(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stale, _ := json.Marshal(Entry{Node: "dead-node", URL: "http://127.0.0.1:1", Since: time.Now().Add(-time.Minute).UnixMilli()})
	if err := dir.Put(ctx, "show", stale); err != nil {
		t.Fatal(err)
	}
	stuck := &leaderless{Directory: dir}
	stuck.on.Store(true)
	start := func(name string, s *sfu.SFU, d Directory) *Relays {
		r, err := New(Options{SFU: s, Directory: d, Hints: nodeHints{b, name}, Node: name, URL: "http://" + name + ".invalid",
			Log: zaptest.NewLogger(t), Token: func(string) (string, error) { return "token", nil }, Announce: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		r.Start()
		return r
	}
	x, y := start("x", sfuX, stuck), start("y", sfuY, dir)
	defer x.Close()
	defer y.Close()
	pub, err := sfutest.NewPublisher(ctx, func(_ context.Context, offer string) (string, error) {
		_, answer, err := whip.Publish(sfuX, "show", offer, sfutest.Logger())
		return answer, err
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = pub.SendFrames(ctx, 0, 30*30, 30, 30) }()
	names := func(want string, while string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			e, ok, err := y.Origin(ctx, "show")
			if err == nil && ok && e.Node == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: node Y reads the origin %+v (ok %v, %v); want node %s", while, e, ok, err, want)
			}
		}
	}
	names("x", "the host live on X, the directory taking no write")
	if raw, _, _, _ := dir.Get(ctx, "show"); !bytes.Contains(raw, []byte("dead-node")) {
		t.Fatalf("the directory took a write it should not have: %s", raw)
	}
	_ = pub.Close()
	names("dead-node", "X's host left")
}

// busDirectory is the real room directory and its bus (embedded NATS).
func busDirectory(t *testing.T) (*bus.NATS, *bus.Directory) {
	t.Helper()
	cfg := bus.DefaultConfig()
	cfg.DataDir = t.TempDir()
	b, err := bus.Open(context.Background(), cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	d, err := b.Directory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return b, d
}

// TestHintBook: a hint stands for hintTTL; a later host's hint is not replaced by an
// earlier one's; gone withdraws only the hint it names; what is not a hint is ignored;
// the book stays bounded.
func TestHintBook(t *testing.T) {
	now := time.Now()
	send := func(b *hintBook, room, node string, since int64, gone bool, at time.Time) {
		data, _ := json.Marshal(hint{Room: room, Entry: Entry{Node: node, URL: "http://" + node, Since: since}, Gone: gone})
		b.take(data, at)
	}
	var b hintBook
	for _, junk := range []string{"", "{", "null", `{"room":"r"}`, `{"room":"r","entry":{"node":"n"}}`, `{"room":"","entry":{"node":"n","url":"u"}}`, `[1,2]`} {
		b.take([]byte(junk), now)
	}
	if len(b.rooms) != 0 {
		t.Fatalf("junk made hints: %v", b.rooms)
	}
	send(&b, "r", "b", 200, false, now)
	send(&b, "r", "a", 100, false, now) // an earlier host's, late
	if e, ok := b.get("r", now); !ok || e.Node != "b" {
		t.Fatalf("hint %+v %v; want b's, the later host's", e, ok)
	}
	send(&b, "r", "a", 100, true, now) // a's host left: b's stands
	if e, ok := b.get("r", now.Add(hintTTL-time.Millisecond)); !ok || e.Node != "b" {
		t.Fatalf("hint %+v %v after another host's withdrawal; want b's", e, ok)
	}
	if _, ok := b.get("r", now.Add(hintTTL)); ok {
		t.Fatal("a hint outlived hintTTL")
	}
	send(&b, "r", "b", 200, false, now)
	send(&b, "r", "b", 200, true, now)
	if _, ok := b.get("r", now); ok {
		t.Fatal("a withdrawn hint stands")
	}
	for i := range maxHints + 10 {
		send(&b, fmt.Sprint("room", i), "n", 1, false, now)
	}
	if len(b.rooms) > maxHints {
		t.Fatalf("%d hints kept; bound %d", len(b.rooms), maxHints)
	}
}
