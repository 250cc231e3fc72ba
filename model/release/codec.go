package release

// The binary parts of a release share one framing:
//
//	offset size  field
//	0      4     magic "DSCR"
//	4      1     format version (1)
//	5      1     kind: 1 float32 matrix, 2 identifiers, 3 sparse scored rows,
//	             4 flags
//	6      2     reserved, zero
//	8      4     rows, uint32 little-endian
//	12     4     cols, uint32 little-endian
//	16     8     payload length in bytes, uint64 little-endian
//	24     4     CRC-32C (Castagnoli) of bytes 0-23 and of the payload
//	28     4     reserved, zero
//	32     …     payload
//
// The header is 32 bytes, so a matrix payload starts 8-byte aligned in a
// freshly allocated buffer. Payloads:
//
//   - matrix (rows × cols): rows·cols IEEE 754 float32, little-endian,
//     row-major; every value finite;
//   - identifiers (rows, cols = 0): rows × (uvarint length | bytes), each a
//     valid, distinct identifier (privacy.ValidateID);
//   - sparse (rows, cols = number of columns): per row, uvarint n then
//     n × (uvarint column | float32 little-endian score), columns < cols,
//     scores finite;
//   - flags (rows, cols = 0): a bitmap of ⌈rows/8⌉ bytes, flag i in bit
//     i%8 of byte i/8, unused bits zero.
//
// Decoding checks everything before returning: magic, version, kind, the
// sizes against each other and against the input, the checksum, and the
// payload's own rules. It never allocates more than the input's size.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/discret-io/discret/privacy"
)

// ErrFormat is returned for a part that cannot be decoded.
var ErrFormat = errors.New("release: malformed part")

const (
	frameMagic     = "DSCR"
	frameVersion   = 1
	frameHeaderLen = 32
	// maxDim bounds rows and cols: indices stay within int32.
	maxDim = math.MaxInt32
)

// Kinds of frames.
const (
	kindMatrix byte = 1
	kindIDs    byte = 2
	kindSparse byte = 3
	kindFlags  byte = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends the header of a frame to dst, then the payload.
func appendFrame(dst []byte, kind byte, rows, cols int, payload []byte) []byte {
	h := make([]byte, frameHeaderLen)
	copy(h, frameMagic)
	h[4] = frameVersion
	h[5] = kind
	binary.LittleEndian.PutUint32(h[8:], uint32(rows))
	binary.LittleEndian.PutUint32(h[12:], uint32(cols))
	binary.LittleEndian.PutUint64(h[16:], uint64(len(payload)))
	crc := crc32.Update(crc32.Checksum(h[:24], castagnoli), castagnoli, payload)
	binary.LittleEndian.PutUint32(h[24:], crc)
	dst = append(dst, h...)
	return append(dst, payload...)
}

// parseFrame checks a frame of the given kind and returns its dimensions
// and payload (aliasing b).
func parseFrame(b []byte, kind byte) (rows, cols int, payload []byte, err error) {
	if len(b) < frameHeaderLen {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrFormat, len(b), frameHeaderLen)
	}
	switch {
	case string(b[:4]) != frameMagic:
		return 0, 0, nil, fmt.Errorf("%w: bad magic %q", ErrFormat, b[:4])
	case b[4] != frameVersion:
		return 0, 0, nil, fmt.Errorf("%w: format version %d (this release reads %d)", ErrFormat, b[4], frameVersion)
	case b[5] != kind:
		return 0, 0, nil, fmt.Errorf("%w: kind %d, want %d", ErrFormat, b[5], kind)
	case b[6] != 0 || b[7] != 0 || binary.LittleEndian.Uint32(b[28:]) != 0:
		return 0, 0, nil, fmt.Errorf("%w: reserved header bytes set", ErrFormat)
	}
	r, c := binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:])
	n := binary.LittleEndian.Uint64(b[16:])
	if r > maxDim || c > maxDim {
		return 0, 0, nil, fmt.Errorf("%w: dimensions %d × %d out of range", ErrFormat, r, c)
	}
	if n != uint64(len(b)-frameHeaderLen) {
		return 0, 0, nil, fmt.Errorf("%w: payload of %d bytes, header says %d", ErrFormat, len(b)-frameHeaderLen, n)
	}
	payload = b[frameHeaderLen:]
	crc := crc32.Update(crc32.Checksum(b[:24], castagnoli), castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(b[24:]) {
		return 0, 0, nil, fmt.Errorf("%w: checksum mismatch", ErrFormat)
	}
	return int(r), int(c), payload, nil
}

// encodeMatrix encodes a rows × cols row-major matrix.
func encodeMatrix(rows, cols int, data []float32) []byte {
	if len(data) != rows*cols {
		panic(fmt.Sprintf("release: matrix %d × %d with %d values", rows, cols, len(data)))
	}
	payload := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(payload[4*i:], math.Float32bits(v))
	}
	return appendFrame(make([]byte, 0, frameHeaderLen+len(payload)), kindMatrix, rows, cols, payload)
}

// decodeMatrix decodes a matrix frame.
func decodeMatrix(b []byte) (rows, cols int, data []float32, err error) {
	rows, cols, payload, err := parseFrame(b, kindMatrix)
	if err != nil {
		return 0, 0, nil, err
	}
	if uint64(rows)*uint64(cols)*4 != uint64(len(payload)) {
		return 0, 0, nil, fmt.Errorf("%w: matrix %d × %d in %d bytes", ErrFormat, rows, cols, len(payload))
	}
	data = make([]float32, rows*cols)
	for i := range data {
		v := math.Float32frombits(binary.LittleEndian.Uint32(payload[4*i:]))
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, 0, nil, fmt.Errorf("%w: matrix value %d is %v", ErrFormat, i, v)
		}
		data[i] = v
	}
	return rows, cols, data, nil
}

// encodeIDs encodes a list of identifiers.
func encodeIDs(ids []string) []byte {
	var payload []byte
	for _, id := range ids {
		payload = binary.AppendUvarint(payload, uint64(len(id)))
		payload = append(payload, id...)
	}
	return appendFrame(nil, kindIDs, len(ids), 0, payload)
}

// decodeIDs decodes an identifier frame: valid, distinct identifiers.
func decodeIDs(b []byte) ([]string, error) {
	rows, cols, payload, err := parseFrame(b, kindIDs)
	if err != nil {
		return nil, err
	}
	if cols != 0 || rows > len(payload)/2 && rows > 0 {
		return nil, fmt.Errorf("%w: %d identifiers in %d bytes", ErrFormat, rows, len(payload))
	}
	ids := make([]string, 0, rows)
	seen := make(map[string]struct{}, rows)
	for i := range rows {
		n, k := binary.Uvarint(payload)
		if k <= 0 || n > uint64(len(payload)-k) {
			return nil, fmt.Errorf("%w: identifier %d truncated", ErrFormat, i)
		}
		id := string(payload[k : k+int(n)])
		payload = payload[k+int(n):]
		if err := privacy.ValidateID(id); err != nil {
			return nil, fmt.Errorf("%w: identifier %d: %v", ErrFormat, i, err)
		}
		if _, dup := seen[id]; dup {
			return nil, fmt.Errorf("%w: identifier %d repeats %q", ErrFormat, i, id)
		}
		seen[id] = struct{}{}
		ids = append(ids, id)
	}
	if len(payload) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the identifiers", ErrFormat, len(payload))
	}
	return ids, nil
}

// Scored is an item (an index into Release.Items) and its score.
type Scored struct {
	Item  int32
	Score float32
}

// encodeSparse encodes rows of scored columns < cols.
func encodeSparse(cols int, rows [][]Scored) []byte {
	var payload []byte
	for _, row := range rows {
		payload = binary.AppendUvarint(payload, uint64(len(row)))
		for _, s := range row {
			payload = binary.AppendUvarint(payload, uint64(s.Item))
			payload = binary.LittleEndian.AppendUint32(payload, math.Float32bits(s.Score))
		}
	}
	return appendFrame(nil, kindSparse, len(rows), cols, payload)
}

// decodeSparse decodes a sparse frame.
func decodeSparse(b []byte) (cols int, rows [][]Scored, err error) {
	nrows, cols, payload, err := parseFrame(b, kindSparse)
	if err != nil {
		return 0, nil, err
	}
	if nrows > len(payload) {
		return 0, nil, fmt.Errorf("%w: %d rows in %d bytes", ErrFormat, nrows, len(payload))
	}
	rows = make([][]Scored, nrows)
	for r := range rows {
		n, k := binary.Uvarint(payload)
		// Each entry takes at least 5 bytes, which bounds n before
		// allocating.
		if k <= 0 || n > uint64(len(payload)-k)/5 {
			return 0, nil, fmt.Errorf("%w: sparse row %d truncated", ErrFormat, r)
		}
		payload = payload[k:]
		row := make([]Scored, n)
		for i := range row {
			c, k := binary.Uvarint(payload)
			if k <= 0 || c >= uint64(cols) || len(payload)-k < 4 {
				return 0, nil, fmt.Errorf("%w: sparse row %d entry %d: bad column", ErrFormat, r, i)
			}
			v := math.Float32frombits(binary.LittleEndian.Uint32(payload[k:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, nil, fmt.Errorf("%w: sparse row %d entry %d is %v", ErrFormat, r, i, v)
			}
			row[i] = Scored{Item: int32(c), Score: v}
			payload = payload[k+4:]
		}
		rows[r] = row
	}
	if len(payload) != 0 {
		return 0, nil, fmt.Errorf("%w: %d bytes after the sparse rows", ErrFormat, len(payload))
	}
	return cols, rows, nil
}

// encodeFlags encodes a list of booleans as a bitmap.
func encodeFlags(flags []bool) []byte {
	payload := make([]byte, (len(flags)+7)/8)
	for i, f := range flags {
		if f {
			payload[i/8] |= 1 << (i % 8)
		}
	}
	return appendFrame(nil, kindFlags, len(flags), 0, payload)
}

// decodeFlags decodes a flags frame.
func decodeFlags(b []byte) ([]bool, error) {
	rows, cols, payload, err := parseFrame(b, kindFlags)
	if err != nil {
		return nil, err
	}
	if cols != 0 || len(payload) != (rows+7)/8 {
		return nil, fmt.Errorf("%w: %d flags in %d bytes", ErrFormat, rows, len(payload))
	}
	if rows%8 != 0 && payload[len(payload)-1]>>(rows%8) != 0 {
		return nil, fmt.Errorf("%w: flag bits set beyond %d", ErrFormat, rows)
	}
	flags := make([]bool, rows)
	for i := range flags {
		flags[i] = payload[i/8]&(1<<(i%8)) != 0
	}
	return flags, nil
}
