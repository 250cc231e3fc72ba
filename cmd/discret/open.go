package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy/pseudonym"
	"github.com/discret-io/discret/privacy/secret"
)

// dataEnv is an opened data directory with everything derived from the key.
type dataEnv struct {
	db         *store.DB
	dir        string // the data directory
	pseudonyms *pseudonym.Keyed
	tokenKey   []byte // the HMAC key of customer tokens
	settings   settings
}

func (d *dataEnv) Close() error { return d.db.Close() }

// logger writes warnings and errors to w.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// checkKeyOutsideData refuses a key file path inside the data directory:
// whoever has a copy of both can re-identify customers. The paths are
// checked as written and with symbolic links resolved on both sides: a link
// from outside that leads into the directory is refused, and so is a path
// inside the directory, even a link leading out of it.
func checkKeyOutsideData(key, data string) error {
	for _, p := range [][2]string{{key, data}, {realPath(key), realPath(data)}} {
		abs, err := filepath.Abs(p[0])
		if err != nil {
			continue
		}
		dir, err := filepath.Abs(p[1])
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(dir, abs); err == nil && filepath.IsLocal(rel) {
			return fmt.Errorf("the key file %s is inside the data directory %s; keep the master key outside it (move it and pass --key)", key, data)
		}
	}
	return nil
}

// realPath returns p with every symbolic link resolved, as far as p exists:
// the part that does not exist yet (a file to create) is kept as written.
func realPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	dir, base := filepath.Split(filepath.Clean(p))
	if dir == "" || filepath.Clean(dir) == filepath.Clean(p) {
		return p
	}
	return filepath.Join(realPath(filepath.Clean(dir)), base)
}

// requireStore refuses a data directory that holds no store, for the
// commands that do not create one: those that read (export, models list,
// …) would otherwise create an empty store in a mistyped --data directory
// and report that it holds nothing, and those that erase or change what
// exists (forget, models use, apikey revoke, …) that nothing was there.
func requireStore(dir string) error {
	if ok, err := hasStore(dir); ok || err != nil {
		return err
	}
	what := "does not exist"
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		what = "holds no Discret store"
	} else if err == nil {
		what = "is not a directory"
	}
	return fmt.Errorf("data directory %s %s (a mistyped --data or DISCRET_DATA?); this command does not create one: 'discret import', 'discret consent import', 'discret consent set', 'discret items import', 'discret coupons import' and 'discret apikey create' do (or 'discret demo' and 'discret serve --demo', with a demo dataset)", dir, what)
}

// hasStore reports whether data directory dir holds a store (its
// store.MetaFile).
func hasStore(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, store.MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// openData loads the key, checks it against the data directory, opens the
// store and checks the configuration's privacy settings against those it
// recorded (checkSettings). create allows creating a new data directory.
func openData(ctx context.Context, e *env, create bool) (*dataEnv, error) {
	d, err := openDataAt(e, e.global.data, create)
	if err != nil {
		return nil, err
	}
	// A quick part of opening, made whole even when ctx is cancelled (a
	// command interrupted at once reports what it did not do).
	if err := checkSettings(context.WithoutCancel(ctx), e, d); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// openDataAt is openData on the store in dir, without the settings check
// (restore makes it on the store it replaces).
func openDataAt(e *env, dir string, create bool) (*dataEnv, error) {
	set := e.conf
	m, err := secret.Load(e.global.key)
	if err != nil {
		return nil, err
	}
	if err := checkKeyOutsideData(e.global.key, dir); err != nil {
		return nil, err
	}
	if !create {
		if err := requireStore(dir); err != nil {
			return nil, err
		}
	}
	logger := e.logger
	if logger == nil {
		logger = newLogger(e.stderr)
	}
	db, err := store.Open(store.Options{
		Dir:           dir,
		EncryptionKey: m.StorageKey(),
		KeyCheck:      m.CheckValue(),
		Logger:        logger,
		Retention:     &set.retention,
		// Zero means retention.DefaultAudit.
		AuditRetention: set.auditRetention,
	})
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			return nil, dataInUseError{dir}
		}
		if errors.Is(err, store.ErrKeyMismatch) {
			return nil, fmt.Errorf("%w (key file %s, --key or DISCRET_KEY; data directory %s, --data or DISCRET_DATA)", err, e.global.key, dir)
		}
		return nil, err
	}
	ps, err := pseudonym.New(m.PseudonymKey())
	if err != nil {
		db.Close()
		return nil, err
	}
	return &dataEnv{db: db, dir: dir, pseudonyms: ps, tokenKey: m.TokenKey(), settings: set}, nil
}

// dataInUseError is store.ErrInUse in the terms of the command line: who
// may hold the data directory dir, and what to do instead.
type dataInUseError struct{ dir string }

func (e dataInUseError) Error() string {
	return fmt.Sprintf("the data directory %s is in use by another process: a running 'discret serve', or another discret command (train, import, …) that has not finished; wait for it or stop it. While a server runs, events, consent, export, erasure, the catalogue, coupons and training and API keys go through its API (for example POST /v1/models:train, POST /v1/apikeys), and the server compacts the store itself every --compact-interval, and backs it up with --backup-dir", e.dir)
}

func (e dataInUseError) Unwrap() error { return store.ErrInUse }
