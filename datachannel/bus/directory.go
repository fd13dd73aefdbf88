package bus

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The KV buckets of the cluster's directories: which node is each live room's origin
// (ingest/relay reads it to pull a room from its origin), and which nodes are up and where
// clients reach them (the SDK's failover list, GET /nodes).
const (
	directoryBucket = "GLINT_ROOMS"
	nodesBucket     = "GLINT_NODES"
)

// DirectoryTTL is how long a directory entry lives without being put again: the origin
// refreshes its entries well within it, so a node that dies drops out within it.
const DirectoryTTL = 15 * time.Second

// Directory is a directory of the cluster (rooms, or nodes), a JetStream KV bucket whose
// entries expire unless their node refreshes them (heartbeats).
type Directory struct {
	kv      jetstream.KeyValue
	timeout time.Duration
}

// Directory opens (creating it when missing) the room directory on this bus.
func (b *NATS) Directory(ctx context.Context) (*Directory, error) {
	return b.directory(ctx, directoryBucket, "Glint room directory: each live room's origin node")
}

// NodeDirectory opens (creating it when missing) the directory of the cluster's nodes,
// keyed by node name.
func (b *NATS) NodeDirectory(ctx context.Context) (*Directory, error) {
	return b.directory(ctx, nodesBucket, "Glint nodes: each live node and the URL clients reach it at")
}

func (b *NATS) directory(ctx context.Context, bucket, description string) (*Directory, error) {
	var deadline time.Time
	if b.srv != nil && b.cfg.Cluster.Enabled() {
		deadline = time.Now().Add(b.cfg.Cluster.JoinTimeout)
	}
	for {
		rctx, cancel := context.WithTimeout(ctx, b.cfg.RequestTimeout)
		kv, err := b.js.CreateOrUpdateKeyValue(rctx, jetstream.KeyValueConfig{
			Bucket: bucket, TTL: DirectoryTTL, History: 1, Storage: jetstream.MemoryStorage,
			Replicas: b.cfg.replicas(), Description: description,
		})
		cancel()
		if err == nil {
			return &Directory{kv: kv, timeout: b.cfg.RequestTimeout}, nil
		}
		if ctx.Err() != nil || deadline.IsZero() || !time.Now().Before(deadline) {
			return nil, fmt.Errorf("bus: %s: %w", bucket, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// maxDirectoryRoom bounds a name (a room's, a node's) in a directory: a key is part of a NATS subject,
// and a subject past the server's control-line limit closes the connection.
const maxDirectoryRoom = 256

var errDirectoryRoom = errors.New("bus: name too long for a directory")

// maxDirectoryList bounds what List reads: far more nodes than a cluster has.
const maxDirectoryList = 1000

// List returns every live entry, by name (not the entries under a name: ListSubs).
func (d *Directory) List(ctx context.Context) (map[string][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	keys, err := d.kv.ListKeys(ctx)
	return d.read(ctx, keys, err, "r")
}

// read gets the live entries of the keys a lister gives (keys, err: ListKeys' answer),
// those that are prefix and a name in base64, by name; at most maxDirectoryList.
func (d *Directory) read(ctx context.Context, keys jetstream.KeyLister, err error, prefix string) (map[string][]byte, error) {
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = keys.Stop()
		for range keys.Keys() { // let the lister finish
		}
	}()
	out := map[string][]byte{}
	for k := range keys.Keys() {
		rest, ok := strings.CutPrefix(k, prefix)
		name, err := base64.RawURLEncoding.DecodeString(rest)
		if !ok || err != nil || len(out) == maxDirectoryList {
			continue
		}
		e, err := d.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // expired or deleted since it was listed
		}
		if err != nil {
			return nil, err
		}
		out[string(name)] = e.Value()
	}
	return out, ctx.Err()
}

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

// PutSub sets the entry sub under name (a relaying node's entry under its room's), which
// expires on its own like any other.
func (d *Directory) PutSub(ctx context.Context, name, sub string, value []byte) error {
	if len(name) > maxDirectoryRoom || len(sub) > maxDirectoryRoom {
		return errDirectoryRoom
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	_, err := d.kv.Put(ctx, subKey(name, sub), value)
	return err
}

// DeleteSub removes the entry sub under name.
func (d *Directory) DeleteSub(ctx context.Context, name, sub string) error {
	if len(name) > maxDirectoryRoom || len(sub) > maxDirectoryRoom {
		return errDirectoryRoom
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	return d.kv.Delete(ctx, subKey(name, sub))
}

// ListSubs returns the live entries under name, by sub.
func (d *Directory) ListSubs(ctx context.Context, name string) (map[string][]byte, error) {
	if len(name) > maxDirectoryRoom {
		return nil, errDirectoryRoom
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	keys, err := d.kv.ListKeysFiltered(ctx, directoryKey(name)+".>")
	return d.read(ctx, keys, err, directoryKey(name)+".")
}

// subKey is the key of entry sub under name: name's key, a dot, and sub in base64.
func subKey(name, sub string) string {
	return directoryKey(name) + "." + base64.RawURLEncoding.EncodeToString([]byte(sub))
}

// directoryKey is room as a KV key (letters, digits, "-", "_", "=", "." and "/" only).
func directoryKey(room string) string {
	return "r" + base64.RawURLEncoding.EncodeToString([]byte(room))
}
