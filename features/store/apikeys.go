package store

// API keys. The store keeps, per key, what is needed to check a presented
// key and nothing that would let anyone rebuild it: a hash of its secret,
// computed by serve/auth. The table holds no customer data.
//
//	key:   k | id
//	value: v1 | hash(32) | varint created (Unix ns)
//	          | revoked(1): 0, or 1 followed by varint revocation time (Unix ns)
//	          | uvarint len | name | uvarint n | n × (uvarint len | scope)

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// APIKey is a stored API key.
type APIKey struct {
	// ID identifies the key publicly (it is part of the key string and is
	// what logs show): 1-32 characters from [a-z0-9].
	ID string
	// Name labels the key for people ("web-frontend"): 1-64 characters from
	// [A-Za-z0-9._:@/-].
	Name string
	// Hash is the 32-byte hash of the key's secret (see serve/auth).
	Hash []byte
	// Scopes are the permissions granted, tokens from [a-z_] (1-32 bytes);
	// at most MaxAPIKeyScopes, no duplicates.
	Scopes []string
	// Created is when the key was created.
	Created time.Time
	// Revoked is when the key was revoked; zero while it is valid.
	Revoked time.Time
}

// API key limits.
const (
	APIKeyHashSize    = 32
	MaxAPIKeyIDLen    = 32
	MaxAPIKeyNameLen  = 64
	MaxAPIKeyScopes   = 16
	maxAPIKeyScopeLen = 32
)

// Errors about API keys.
var (
	ErrAPIKeyExists   = errors.New("store: an API key with this id exists")
	ErrAPIKeyNotFound = errors.New("store: no API key with this id")
	ErrAPIKeyInvalid  = errors.New("store: invalid API key record")
)

// validate checks k for CreateAPIKey.
func (k *APIKey) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrAPIKeyInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case !validKeyID(k.ID):
		return bad("id must be 1-%d characters from [a-z0-9]", MaxAPIKeyIDLen)
	case !ValidAPIKeyName(k.Name):
		return bad("name must be 1-%d characters from [A-Za-z0-9._:@/-]", MaxAPIKeyNameLen)
	case len(k.Hash) != APIKeyHashSize:
		return bad("hash must be %d bytes, got %d", APIKeyHashSize, len(k.Hash))
	case len(k.Scopes) == 0 || len(k.Scopes) > MaxAPIKeyScopes:
		return bad("want 1-%d scopes, got %d", MaxAPIKeyScopes, len(k.Scopes))
	case !nanoTime(k.Created):
		return bad("created time must be in years 1970-2200")
	case !k.Revoked.IsZero() && !nanoTime(k.Revoked):
		return bad("revocation time must be in years 1970-2200")
	}
	for i, s := range k.Scopes {
		if !validScope(s) {
			return bad("scope %d must be 1-%d characters from [a-z_]", i, maxAPIKeyScopeLen)
		}
		if slices.Contains(k.Scopes[:i], s) {
			return bad("scope %q repeated", s)
		}
	}
	return nil
}

// nanoTime reports whether t is in the range the codec stores (Unix
// nanoseconds, and no earlier than 1970 so that it is never the zero time).
func nanoTime(t time.Time) bool {
	return !t.Before(time.Unix(0, 0)) && t.Before(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC))
}

func validKeyID(s string) bool {
	return tokenOf(s, MaxAPIKeyIDLen, func(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' })
}

// ValidAPIKeyName reports whether s is a name the store accepts for an API
// key: 1-MaxAPIKeyNameLen characters from [A-Za-z0-9._:@/-].
func ValidAPIKeyName(s string) bool {
	return tokenOf(s, MaxAPIKeyNameLen, func(b byte) bool {
		return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '.' || b == '_' || b == ':' || b == '@' || b == '/' || b == '-'
	})
}

func validScope(s string) bool {
	return tokenOf(s, maxAPIKeyScopeLen, lowerSnake)
}

// lowerSnake reports whether b is in [a-z_], the bytes of API key scopes
// and audit count names.
func lowerSnake(b byte) bool { return b >= 'a' && b <= 'z' || b == '_' }

func tokenOf(s string, maxLen int, ok func(byte) bool) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

func apiKeyKey(id string) []byte { return append([]byte{tagAPIKey}, id...) }

// CreateAPIKey stores a new API key, with its audit entry (AuditKeyCreate,
// the actor of ctx) in the same transaction. It fails with ErrAPIKeyExists
// if the id is taken and with ErrAPIKeyInvalid if a field is out of range.
func (db *DB) CreateAPIKey(ctx context.Context, k APIKey) error {
	if err := k.validate(); err != nil {
		return err
	}
	v := encodeAPIKey(k)
	db.mu.RLock()
	defer db.mu.RUnlock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		_, err := txn.Get(apiKeyKey(k.ID))
		switch {
		case err == nil:
			return ErrAPIKeyExists
		case !errors.Is(err, badger.ErrKeyNotFound):
			return err
		}
		if err := txn.Set(apiKeyKey(k.ID), v); err != nil {
			return err
		}
		return db.putAudit(ctx, txn, AuditEntry{Action: AuditKeyCreate, Object: k.ID})
	})
	if err != nil {
		return wrapf(err, "create API key %s", k.ID)
	}
	return nil
}

// APIKey returns the API key with the given id, or ErrAPIKeyNotFound.
func (db *DB) APIKey(ctx context.Context, id string) (APIKey, error) {
	if err := ctx.Err(); err != nil {
		return APIKey{}, err
	}
	if !validKeyID(id) {
		return APIKey{}, wrapf(ErrAPIKeyNotFound, "API key")
	}
	var k APIKey
	err := db.view(func(txn *badger.Txn) error {
		var err error
		k, err = getAPIKey(txn, id)
		return err
	})
	if err != nil {
		return APIKey{}, wrapf(err, "API key %s", id)
	}
	return k, nil
}

func getAPIKey(txn *badger.Txn, id string) (APIKey, error) {
	item, err := txn.Get(apiKeyKey(id))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return APIKey{}, ErrAPIKeyNotFound
	}
	if err != nil {
		return APIKey{}, err
	}
	var k APIKey
	err = item.Value(func(v []byte) error {
		k, err = decodeAPIKey(id, v)
		return err
	})
	return k, err
}

// APIKeys returns every API key, revoked ones included, ordered by id.
func (db *DB) APIKeys(ctx context.Context) ([]APIKey, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var keys []APIKey
	err := db.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte{tagAPIKey}, PrefetchValues: true, PrefetchSize: 100})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			id := string(item.Key()[1:])
			err := item.Value(func(v []byte) error {
				k, err := decodeAPIKey(id, v)
				keys = append(keys, k)
				return err
			})
			if err != nil {
				return fmt.Errorf("API key %q: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "API keys")
	}
	return keys, nil
}

// RevokeAPIKey marks the API key id revoked at time at and returns it, with
// its audit entry (AuditKeyRevoke) in the same transaction. A key revoked
// before keeps its first revocation time, and no entry is added. It fails with
// ErrAPIKeyNotFound for an unknown id.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) (APIKey, error) {
	if !validKeyID(id) {
		return APIKey{}, wrapf(ErrAPIKeyNotFound, "revoke API key")
	}
	if !nanoTime(at) {
		return APIKey{}, wrapf(fmt.Errorf("%w: revocation time must be in years 1970-2200", ErrAPIKeyInvalid), "revoke API key %s", id)
	}
	var k APIKey
	db.mu.RLock()
	defer db.mu.RUnlock()
	err := db.update(ctx, func(txn *badger.Txn) error {
		var err error
		if k, err = getAPIKey(txn, id); err != nil {
			return err
		}
		if !k.Revoked.IsZero() {
			return nil
		}
		k.Revoked = at
		if err := txn.Set(apiKeyKey(id), encodeAPIKey(k)); err != nil {
			return err
		}
		return db.putAudit(ctx, txn, AuditEntry{Action: AuditKeyRevoke, Object: id})
	})
	if err != nil {
		return APIKey{}, wrapf(err, "revoke API key %s", id)
	}
	return k, nil
}

func encodeAPIKey(k APIKey) []byte {
	b := make([]byte, 0, 1+APIKeyHashSize+20+len(k.Name)+8*len(k.Scopes))
	b = append(b, valueV1)
	b = append(b, k.Hash...)
	b = binary.AppendVarint(b, k.Created.UnixNano())
	if k.Revoked.IsZero() {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, k.Revoked.UnixNano())
	}
	b = binary.AppendUvarint(b, uint64(len(k.Name)))
	b = append(b, k.Name...)
	b = binary.AppendUvarint(b, uint64(len(k.Scopes)))
	for _, s := range k.Scopes {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// decodeAPIKey decodes the value of key id. It accepts only what
// encodeAPIKey produces for a valid APIKey. Times decode in UTC.
func decodeAPIKey(id string, v []byte) (APIKey, error) {
	corrupt := fmt.Errorf("%w: API key", ErrCorrupt)
	r := bytes.NewReader(v)
	if ver, err := r.ReadByte(); err != nil || ver != valueV1 {
		return APIKey{}, corrupt
	}
	k := APIKey{ID: id, Hash: make([]byte, APIKeyHashSize)}
	if _, err := io.ReadFull(r, k.Hash); err != nil {
		return APIKey{}, corrupt
	}
	created, err := binary.ReadVarint(r)
	if err != nil {
		return APIKey{}, corrupt
	}
	k.Created = time.Unix(0, created).UTC()
	switch flag, err := r.ReadByte(); {
	case err != nil || flag > 1:
		return APIKey{}, corrupt
	case flag == 1:
		revoked, err := binary.ReadVarint(r)
		if err != nil {
			return APIKey{}, corrupt
		}
		k.Revoked = time.Unix(0, revoked).UTC()
	}
	readString := func(maxLen int) (string, bool) {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > uint64(maxLen) || n > uint64(r.Len()) {
			return "", false
		}
		s := make([]byte, n)
		_, err = io.ReadFull(r, s)
		return string(s), err == nil
	}
	var ok bool
	if k.Name, ok = readString(MaxAPIKeyNameLen); !ok {
		return APIKey{}, corrupt
	}
	n, err := binary.ReadUvarint(r)
	if err != nil || n > MaxAPIKeyScopes {
		return APIKey{}, corrupt
	}
	k.Scopes = make([]string, n)
	for i := range k.Scopes {
		if k.Scopes[i], ok = readString(maxAPIKeyScopeLen); !ok {
			return APIKey{}, corrupt
		}
	}
	if r.Len() != 0 || k.validate() != nil {
		return APIKey{}, corrupt
	}
	return k, nil
}
