// Package secret manages Discret's master secret: a 32-byte random key kept in
// a file outside the data directory, from which the pseudonymization key, the
// storage encryption key and the customer-token key are derived with HKDF
// (RFC 5869) under distinct labels. The data directory stores only a check value, which tells whether a
// key matches it without revealing the key.
package secret

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Size is the length of the master secret in bytes.
const Size = 32

// HKDF labels ("info" in RFC 5869). Changing one changes every derived key.
const (
	labelPseudonym = "discret/v1/pseudonym-hmac-key"
	labelStorage   = "discret/v1/badger-encryption-key"
	labelCheck     = "discret/v1/key-check-value"
	labelToken     = "discret/v1/customer-token-hmac-key"
)

// Errors returned by Load and Check. Their messages say what to do.
var (
	ErrMissing    = errors.New("secret: key file not found; create one with `discret keygen --out FILE` and pass it with --key or DISCRET_KEY")
	ErrPermission = errors.New("secret: key file is readable by group or others; run `chmod 600` on it")
	ErrMalformed  = errors.New("secret: key file is not a Discret key (want 64 hex characters); create one with `discret keygen`")
	ErrMismatch   = errors.New("secret: key does not match this data directory; use the key the directory was created with (--key or DISCRET_KEY)")
	ErrExists     = errors.New("secret: key file already exists; refusing to overwrite it")
)

// Master is the master secret. Its zero value is not usable.
type Master struct{ b [Size]byte }

// Generate returns a new master secret from crypto/rand.
func Generate() (*Master, error) {
	m := &Master{}
	if _, err := rand.Read(m.b[:]); err != nil {
		return nil, fmt.Errorf("secret: read random bytes: %w", err)
	}
	return m, nil
}

// FromBytes returns the master secret b (for tests and for Load).
func FromBytes(b []byte) (*Master, error) {
	if len(b) != Size {
		return nil, ErrMalformed
	}
	m := &Master{}
	copy(m.b[:], b)
	return m, nil
}

// WriteFile writes m to path, hex-encoded, with mode 0600. It refuses to
// overwrite an existing file.
func (m *Master) WriteFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExists, path)
	}
	if err != nil {
		return fmt.Errorf("secret: create key file: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(m.b[:]) + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("secret: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("secret: sync key file: %w", err)
	}
	return f.Close()
}

// Load reads a key file written by WriteFile. It refuses a file that group or
// others can read or write.
func Load(path string) (*Master, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w (looked for %s)", ErrMissing, path)
	}
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w (%s has mode %#o)", ErrPermission, path, st.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(b) != Size {
		return nil, fmt.Errorf("%w (%s)", ErrMalformed, path)
	}
	return FromBytes(b)
}

func (m *Master) derive(label string, n int) []byte {
	k, err := hkdf.Key(sha256.New, m.b[:], nil, label, n)
	if err != nil {
		panic("secret: hkdf: " + err.Error()) // only for n > 255*32: a programmer error
	}
	return k
}

// PseudonymKey is the HMAC key for privacy/pseudonym (32 bytes).
func (m *Master) PseudonymKey() []byte { return m.derive(labelPseudonym, 32) }

// StorageKey is the AES-256 key for encryption at rest (32 bytes).
func (m *Master) StorageKey() []byte { return m.derive(labelStorage, 32) }

// TokenKey is the HMAC key of customer tokens (serve/auth), 32 bytes. A
// token minted under it is valid for as long as the master secret is the
// same, so tokens survive a restart of the server.
func (m *Master) TokenKey() []byte { return m.derive(labelToken, 32) }

// CheckValue is a 16-byte value derived under its own label, stored in the
// data directory to detect a wrong key before anything is read or written.
// Knowing it reveals nothing about the other derived keys.
func (m *Master) CheckValue() []byte { return m.derive(labelCheck, 16) }

// Check compares m's check value with stored, in constant time.
func (m *Master) Check(stored []byte) error {
	if subtle.ConstantTimeCompare(m.CheckValue(), stored) != 1 {
		return ErrMismatch
	}
	return nil
}

// Equal reports whether m and o are the same secret (constant time).
func (m *Master) Equal(o *Master) bool { return subtle.ConstantTimeCompare(m.b[:], o.b[:]) == 1 }

// String never prints the secret.
func (m *Master) String() string { return "[master secret]" }
