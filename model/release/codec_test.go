package release

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func equalBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestMatrixRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tt := range []struct{ rows, cols int }{{0, 0}, {0, 5}, {1, 1}, {3, 64}, {100, 7}} {
		data := make([]float32, tt.rows*tt.cols)
		for i := range data {
			data[i] = float32(r.NormFloat64())
		}
		if len(data) > 0 {
			data[0] = float32(math.Copysign(0, -1))
		}
		b := encodeMatrix(tt.rows, tt.cols, data)
		if len(b) != frameHeaderLen+4*len(data) {
			t.Errorf("encodeMatrix(%d × %d) = %d bytes, want %d", tt.rows, tt.cols, len(b), frameHeaderLen+4*len(data))
		}
		rows, cols, got, err := decodeMatrix(b)
		if err != nil || rows != tt.rows || cols != tt.cols || !equalBits(got, data) {
			t.Errorf("decodeMatrix(encodeMatrix(%d × %d)) = %d × %d, %v; want the same bits", tt.rows, tt.cols, rows, cols, err)
		}
	}
}

// TestMatrixLayout pins the byte layout of the framing on a small case.
func TestMatrixLayout(t *testing.T) {
	b := encodeMatrix(1, 2, []float32{1, -2})
	want := []byte{
		'D', 'S', 'C', 'R', 1, kindMatrix, 0, 0,
		1, 0, 0, 0, 2, 0, 0, 0,
		8, 0, 0, 0, 0, 0, 0, 0,
	}
	if !slices.Equal(b[:24], want) {
		t.Errorf("header = % x, want % x", b[:24], want)
	}
	if got := b[frameHeaderLen:]; !slices.Equal(got, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}) {
		t.Errorf("payload = % x, want 1.0 and -2.0 as little-endian float32", got)
	}
	// CRC-32C over header[0:24] and the payload, by an independent bitwise
	// implementation (Castagnoli, reflected polynomial 0x82F63B78).
	if got := binary.LittleEndian.Uint32(b[24:]); got != crc32cRef(append(slices.Clone(b[:24]), b[frameHeaderLen:]...)) {
		t.Errorf("checksum %08x does not match the reference CRC-32C", got)
	}
}

// crc32cRef is a bitwise CRC-32C, independent of hash/crc32.
func crc32cRef(b []byte) uint32 {
	crc := ^uint32(0)
	for _, c := range b {
		crc ^= uint32(c)
		for range 8 {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0x82F63B78
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

func TestDecodeErrors(t *testing.T) {
	good := encodeMatrix(2, 2, []float32{1, 2, 3, 4})
	mod := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	fix := func(b []byte) []byte { // recompute the checksum after a change
		crc := crc32cRef(append(slices.Clone(b[:24]), b[frameHeaderLen:]...))
		binary.LittleEndian.PutUint32(b[24:], crc)
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter"},
		{"magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), "magic"},
		{"version", mod(func(b []byte) []byte { b[4] = 2; return fix(b) }), "version"},
		{"kind", mod(func(b []byte) []byte { b[5] = kindIDs; return fix(b) }), "kind"},
		{"reserved", mod(func(b []byte) []byte { b[7] = 1; return fix(b) }), "reserved"},
		{"truncated", good[:len(good)-1], "payload"},
		{"checksum", mod(func(b []byte) []byte { b[frameHeaderLen] ^= 1; return b }), "checksum"},
		{"dims", mod(func(b []byte) []byte { b[8] = 3; return fix(b) }), "matrix 3 × 2"},
		{"huge dims", mod(func(b []byte) []byte { b[11] = 0x80; return fix(b) }), "out of range"},
		{"NaN", mod(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[frameHeaderLen:], math.Float32bits(float32(math.NaN())))
			return fix(b)
		}), "NaN"},
	}
	for _, tt := range tests {
		_, _, _, err := decodeMatrix(tt.b)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("decodeMatrix(%s) = %v, want ErrFormat mentioning %q", tt.name, err, tt.want)
		}
	}
	for _, ids := range [][]string{{"a", "a"}, {""}, {"a\x01"}} {
		b := appendFrame(nil, kindIDs, len(ids), 0, func() []byte {
			var p []byte
			for _, id := range ids {
				p = binary.AppendUvarint(p, uint64(len(id)))
				p = append(p, id...)
			}
			return p
		}())
		if _, err := decodeIDs(b); !errors.Is(err, ErrFormat) {
			t.Errorf("decodeIDs(%q) = %v, want ErrFormat", ids, err)
		}
	}
	if _, _, err := decodeSparse(encodeSparse(2, [][]Scored{{{Item: 2, Score: 1}}})); !errors.Is(err, ErrFormat) {
		t.Errorf("decodeSparse(column out of range) = %v, want ErrFormat", err)
	}
}

func TestIDsAndSparseRoundTrip(t *testing.T) {
	ids := []string{"sku-1", "é", strings.Repeat("x", 256), "a b"}
	got, err := decodeIDs(encodeIDs(ids))
	if err != nil || !slices.Equal(got, ids) {
		t.Errorf("decodeIDs(encodeIDs(%q)) = %q, %v", ids, got, err)
	}
	if got, err := decodeIDs(encodeIDs(nil)); err != nil || len(got) != 0 {
		t.Errorf("decodeIDs(encodeIDs(nil)) = %q, %v; want none", got, err)
	}
	rows := [][]Scored{{{Item: 3, Score: 9.5}, {Item: 0, Score: 1}}, {}, {{Item: 299, Score: 0}}}
	cols, back, err := decodeSparse(encodeSparse(300, rows))
	if err != nil || cols != 300 || len(back) != 3 || !slices.Equal(back[0], rows[0]) || len(back[1]) != 0 || !slices.Equal(back[2], rows[2]) {
		t.Errorf("decodeSparse(encodeSparse) = %d, %v, %v; want %v", cols, back, err, rows)
	}
}

// FuzzMatrix checks that any matrix round-trips bit for bit, and that any
// payload behind a valid header decodes or fails cleanly (the checksum is
// fixed up so that the fuzzer reaches the payload checks).
func FuzzMatrix(f *testing.F) {
	f.Add(uint16(2), uint16(3), []byte{0, 0, 0x80, 0x3f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24})
	f.Add(uint16(0), uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, rows, cols uint16, payload []byte) {
		b := appendFrame(nil, kindMatrix, int(rows), int(cols), payload)
		r, c, data, err := decodeMatrix(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("decodeMatrix error %v does not wrap ErrFormat", err)
			}
			return
		}
		if r != int(rows) || c != int(cols) || len(data) != r*c {
			t.Fatalf("decodeMatrix = %d × %d with %d values, want %d × %d", r, c, len(data), rows, cols)
		}
		again := encodeMatrix(r, c, data)
		if !slices.Equal(again, b) {
			t.Fatalf("encodeMatrix(decodeMatrix(b)) differs from b")
		}
	})
}

// FuzzIDs: decoding never panics, and what decodes re-encodes to the same
// identifiers.
func FuzzIDs(f *testing.F) {
	f.Add(uint16(2), []byte("\x01a\x02bc"))
	f.Add(uint16(1), []byte("\x80\x01x"))
	f.Fuzz(func(t *testing.T, rows uint16, payload []byte) {
		ids, err := decodeIDs(appendFrame(nil, kindIDs, int(rows), 0, payload))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("decodeIDs error %v does not wrap ErrFormat", err)
			}
			return
		}
		back, err := decodeIDs(encodeIDs(ids))
		if err != nil || !slices.Equal(back, ids) {
			t.Fatalf("decodeIDs(encodeIDs(%q)) = %q, %v", ids, back, err)
		}
	})
}

// FuzzSparse: decoding never panics, and what decodes round-trips.
func FuzzSparse(f *testing.F) {
	f.Add(uint16(2), uint16(5), []byte("\x01\x04\x00\x00\x80\x3f\x00"))
	f.Fuzz(func(t *testing.T, rows, cols uint16, payload []byte) {
		c, sr, err := decodeSparse(appendFrame(nil, kindSparse, int(rows), int(cols), payload))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("decodeSparse error %v does not wrap ErrFormat", err)
			}
			return
		}
		c2, back, err := decodeSparse(encodeSparse(c, sr))
		if err != nil || c2 != c || len(back) != len(sr) {
			t.Fatalf("decodeSparse(encodeSparse) = %d, %d rows, %v; want %d, %d rows", c2, len(back), err, c, len(sr))
		}
		for i := range sr {
			if !slices.Equal(back[i], sr[i]) {
				t.Fatalf("row %d = %v, want %v", i, back[i], sr[i])
			}
		}
	})
}

func TestFlags(t *testing.T) {
	for _, flags := range [][]bool{nil, {true}, {false, true, true, false, false, false, false, true, true}} {
		got, err := decodeFlags(encodeFlags(flags))
		if err != nil || !slices.Equal(got, flags) && len(flags) > 0 || len(got) != len(flags) {
			t.Errorf("decodeFlags(encodeFlags(%v)) = %v, %v", flags, got, err)
		}
	}
	if b := encodeFlags([]bool{true, false, true}); !slices.Equal(b[frameHeaderLen:], []byte{0b101}) {
		t.Errorf("encodeFlags(1 0 1) payload = %08b, want 00000101", b[frameHeaderLen:])
	}
	if _, err := decodeFlags(appendFrame(nil, kindFlags, 3, 0, []byte{0b1101})); !errors.Is(err, ErrFormat) {
		t.Errorf("decodeFlags(bit beyond the rows) = %v, want ErrFormat", err)
	}
}

// FuzzFlags: decoding never panics, and what decodes round-trips.
func FuzzFlags(f *testing.F) {
	f.Add(uint16(9), []byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, rows uint16, payload []byte) {
		b := appendFrame(nil, kindFlags, int(rows), 0, payload)
		flags, err := decodeFlags(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("decodeFlags error %v does not wrap ErrFormat", err)
			}
			return
		}
		if again := encodeFlags(flags); !slices.Equal(again, b) {
			t.Fatalf("encodeFlags(decodeFlags(b)) differs from b")
		}
	})
}
