package secret

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	m, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %#o, want 0600", st.Mode().Perm())
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(m) {
		t.Error("Load(WriteFile(m)) != m")
	}
	if err := m.WriteFile(path); !errors.Is(err, ErrExists) {
		t.Errorf("second WriteFile = %v, want ErrExists", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := hex.EncodeToString(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		name string
		path string
		want error
	}{
		{"missing", filepath.Join(dir, "nope"), ErrMissing},
		{"group readable", write("g", good, 0o640), ErrPermission},
		{"world readable", write("w", good, 0o604), ErrPermission},
		{"short", write("s", "abcd", 0o600), ErrMalformed},
		{"not hex", write("h", good[:62]+"zz", 0o600), ErrMalformed},
		{"ok", write("ok", good+"\n", 0o600), nil},
	}
	for _, tt := range tests {
		_, err := Load(tt.path)
		if !errors.Is(err, tt.want) {
			t.Errorf("Load(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestDerivedKeys(t *testing.T) {
	m, _ := FromBytes(bytes.Repeat([]byte{0x0b}, 32))
	// Reference values from Python's standard library (RFC 5869 HKDF-SHA256,
	// empty salt):
	//   prk = hmac.new(b"\0"*32, b"\x0b"*32, sha256).digest()
	//   okm = hmac.new(prk, info + b"\x01", sha256).digest()[:n]
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"pseudonym", m.PseudonymKey(), refPseudonym},
		{"storage", m.StorageKey(), refStorage},
		{"check", m.CheckValue(), refCheck},
		{"token", m.TokenKey(), refToken},
	}
	for _, tt := range tests {
		if hex.EncodeToString(tt.got) != tt.want {
			t.Errorf("%s key = %x, want %s", tt.name, tt.got, tt.want)
		}
	}
	derived := map[string][]byte{"pseudonym": m.PseudonymKey(), "storage": m.StorageKey(), "token": m.TokenKey(), "check": m.CheckValue()}
	for a, ka := range derived {
		for b, kb := range derived {
			if a < b && bytes.Equal(ka[:len(m.CheckValue())], kb[:len(m.CheckValue())]) {
				t.Errorf("%s and %s keys are equal", a, b)
			}
		}
	}
	if err := m.Check(m.CheckValue()); err != nil {
		t.Errorf("Check(own value) = %v", err)
	}
	o, _ := FromBytes(bytes.Repeat([]byte{0x0c}, 32))
	if err := o.Check(m.CheckValue()); !errors.Is(err, ErrMismatch) {
		t.Errorf("Check(other value) = %v, want ErrMismatch", err)
	}
}

func TestStringRedacts(t *testing.T) {
	m, _ := FromBytes(bytes.Repeat([]byte{0xab}, 32))
	if s := m.String(); bytes.Contains([]byte(s), []byte("abab")) {
		t.Errorf("String() = %q leaks the secret", s)
	}
}

const (
	refPseudonym = "6ea83c8313b8156fc9ddb946bbdaa17994c9383b9fc8a962175c615b5b00d94a"
	refStorage   = "20f4aace2c0050ca52962ae626a3fe54a37b264289e77111ce9fb5cfe8fb7c73"
	refCheck     = "af631eb26cd593fc2bce23af60b57967"
	refToken     = "4a7a7d56e813d33c1d7c4db400e483d7a4abb04608889976c45a562750f32bb4"
)
