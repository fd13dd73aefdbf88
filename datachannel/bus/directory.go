package bus

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// directoryBucket is the KV bucket of the room directory: which node is each live room's
// origin (ingest/relay reads it to pull a room from its origin).
const directoryBucket = "GLINT_ROOMS"

// DirectoryTTL is how long a directory entry lives without being put again: the origin
// refreshes its entries well within it, so a node that dies drops out within it.
const DirectoryTTL = 15 * time.Second

// Directory is the room directory, a JetStream KV bucket whose entries expire unless
// their node refreshes them (heartbeats).
type Directory struct {
	kv      jetstream.KeyValue
	timeout time.Duration
}

// Directory opens (creating it when missing) the room directory on this bus.
func (b *NATS) Directory(ctx context.Context) (*Directory, error) {
	var deadline time.Time
	if b.srv != nil && b.cfg.Cluster.Enabled() {
		deadline = time.Now().Add(b.cfg.Cluster.JoinTimeout)
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, b.cfg.RequestTimeout)
		kv, err := b.js.CreateOrUpdateKeyValue(rctx, jetstream.KeyValueConfig{
			Bucket: directoryBucket, TTL: DirectoryTTL, History: 1, Storage: jetstream.MemoryStorage,
			Replicas: b.cfg.replicas(), Description: "Glint room directory: each live room's origin node",
		})
		cancel()
		if err == nil {
			return &Directory{kv: kv, timeout: b.cfg.RequestTimeout}, nil
		}
		if ctx.Err() != nil || deadline.IsZero() || !time.Now().Before(deadline) {
			return nil, fmt.Errorf("bus: room directory: %w", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// maxDirectoryRoom bounds a room name in the directory: a key is part of a NATS subject,
// and a subject past the server's control-line limit closes the connection.
const maxDirectoryRoom = 256

var errDirectoryRoom = errors.New("bus: room name too long for the room directory")

// Put sets room's entry (and restarts its time to live).
func (d *Directory) Put(ctx context.Context, room string, value []byte) error {
	if len(room) > maxDirectoryRoom {
		return errDirectoryRoom
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	_, err := d.kv.Put(ctx, directoryKey(room), value)
	return err
}

// Get returns room's entry and its revision; ok is false when there is none (or it
// expired).
func (d *Directory) Get(ctx context.Context, room string) (value []byte, revision uint64, ok bool, err error) {
	if len(room) > maxDirectoryRoom {
		return nil, 0, false, errDirectoryRoom
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	e, err := d.kv.Get(ctx, directoryKey(room))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	return e.Value(), e.Revision(), true, nil
}

// Delete removes room's entry if it is still at revision (nobody put it since it was
// read); an entry put since stays.
func (d *Directory) Delete(ctx context.Context, room string, revision uint64) error {
	if len(room) > maxDirectoryRoom {
		return errDirectoryRoom
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return d.kv.Delete(ctx, directoryKey(room), jetstream.LastRevision(revision))
}

// directoryKey is room as a KV key (letters, digits, "-", "_", "=", "." and "/" only).
func directoryKey(room string) string {
	return "r" + base64.RawURLEncoding.EncodeToString([]byte(room))
}
