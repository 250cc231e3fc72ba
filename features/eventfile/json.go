package eventfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/discret-io/discret/features"
)

// JSON value kinds in a flat object.
const (
	jsonAbsent byte = iota
	jsonString
	jsonNumber
	jsonBool
	jsonNull
	jsonComposite // an object or array, reported by scan
)

// jsonValue is the value of one field of a flat JSON object.
type jsonValue struct {
	kind byte
	b    []byte // string contents (unescaped), number literal, or "true"/"false"
}

// jsonObject scans flat JSON objects (RFC 8259) whose keys are a fixed set
// of names and whose values are scalars, without allocating for well-formed
// input.
type jsonObject struct {
	keys    []string
	vals    []jsonValue // by index in keys
	scratch [][]byte    // by index in keys: unescaped strings
	key     []byte      // unescaped key
}

func newJSONObject(keys []string) *jsonObject {
	return &jsonObject{keys: keys, vals: make([]jsonValue, len(keys)), scratch: make([][]byte, len(keys))}
}

// scan parses line, which must hold exactly one object, into o.vals.
//
// A line that is not one JSON object is a syntax error (err, a
// *features.FieldError on FieldRecord or on the field where the problem
// is). Otherwise every problem with the members themselves is in bad, in
// input order, and scanning goes on past it: an unknown member, a repeated
// one (its first value stays in o.vals) and an object or array value.
// Neither ever contains a value. bad is nil for a clean row.
func (o *jsonObject) scan(line []byte) (bad features.FieldErrors, err error) {
	for i := range o.vals {
		o.vals[i] = jsonValue{}
	}
	i := skipSpace(line, 0)
	if i == len(line) || line[i] != '{' {
		return nil, syntaxErr(FieldRecord, "want an object", i)
	}
	i = skipSpace(line, i+1)
	if i < len(line) && line[i] == '}' {
		return o.end(line, i+1, bad)
	}
	for {
		if i == len(line) || line[i] != '"' {
			return nil, syntaxErr(FieldRecord, "want a field name", i)
		}
		var ok bool
		key := o.key[:0]
		if j, plain := plainString(line, i); plain {
			key, i = line[i+1:j], j+1
		} else if o.key, i, ok = unquote(line, i, o.key[:0]); ok {
			key = o.key
		} else {
			return nil, syntaxErr(FieldRecord, "malformed field name", i)
		}
		k := o.index(key)
		var name string
		if k >= 0 {
			name = o.keys[k]
		} else {
			name = features.FieldLabel(string(key)) // allocates: only for an unknown key
		}
		i = skipSpace(line, i)
		if i == len(line) || line[i] != ':' {
			return nil, syntaxErr(name, "want a colon", i)
		}
		i = skipSpace(line, i+1)
		if i == len(line) {
			return nil, syntaxErr(name, "want a value", i)
		}
		if k < 0 || o.vals[k].kind != jsonAbsent {
			if k < 0 {
				bad = append(bad, features.UnknownField(string(key), o.keys))
			} else {
				bad = append(bad, &features.FieldError{Field: name, Err: ErrDuplicateField})
			}
			if i, ok = skipValue(line, i); !ok {
				return nil, syntaxErr(name, "malformed value", i)
			}
		} else {
			v := &o.vals[k]
			switch c := line[i]; {
			case c == '"':
				v.kind = jsonString
				start := i
				if j, plain := plainString(line, i); plain {
					v.b, i = line[i+1:j], j+1
				} else {
					o.scratch[k], i, ok = unquote(line, start, o.scratch[k][:0])
					if !ok {
						return nil, syntaxErr(name, "malformed string", i)
					}
					v.b = o.scratch[k]
				}
			case c == '-' || c >= '0' && c <= '9':
				j := scanNumber(line, i)
				if j < 0 {
					return nil, syntaxErr(name, "malformed number", i)
				}
				v.kind, v.b, i = jsonNumber, line[i:j], j
			case c == 't' || c == 'f' || c == 'n':
				lit := literal(line[i:])
				if lit == "" {
					return nil, syntaxErr(name, "want a value", i)
				}
				v.kind, v.b, i = jsonBool, line[i:i+len(lit)], i+len(lit)
				if lit == "null" {
					v.kind = jsonNull
				}
			case c == '{' || c == '[':
				// Marked present (so that a repetition is still one), but
				// with no value: the caller sees the field as absent.
				v.kind = jsonComposite
				bad = append(bad, &features.FieldError{Field: name, Err: fmt.Errorf("%w: want a scalar, not an object or array", ErrJSONType)})
				if i, ok = skipValue(line, i); !ok {
					return nil, syntaxErr(name, "malformed value", i)
				}
			default:
				return nil, syntaxErr(name, "want a value", i)
			}
		}
		i = skipSpace(line, i)
		if i == len(line) {
			return nil, syntaxErr(FieldRecord, "object not closed", i)
		}
		switch line[i] {
		case '}':
			return o.end(line, i+1, bad)
		case ',':
			i = skipSpace(line, i+1)
		default:
			return nil, syntaxErr(FieldRecord, "want a comma or a closing brace", i)
		}
	}
}

// skipValue returns the index after the JSON value (of any kind, nested or
// not) that starts at b[i], or the index of the problem and false. It is
// only called on the error path, so it may allocate.
func skipValue(b []byte, i int) (int, bool) {
	dec := json.NewDecoder(bytes.NewReader(b[i:]))
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) && se.Offset > 0 {
			return i + int(se.Offset) - 1, false
		}
		return i, false
	}
	return i + int(dec.InputOffset()), true
}

// end checks that nothing but white space follows the object, and returns
// the members' problems found on the way.
func (o *jsonObject) end(line []byte, i int, bad features.FieldErrors) (features.FieldErrors, error) {
	if i = skipSpace(line, i); i != len(line) {
		return nil, syntaxErr(FieldRecord, "text after the object", i)
	}
	for k := range o.vals {
		if o.vals[k].kind == jsonNull || o.vals[k].kind == jsonComposite {
			o.vals[k] = jsonValue{} // null means absent; a composite was reported
		}
	}
	return bad, nil
}

func (o *jsonObject) index(key []byte) int {
	for k, name := range o.keys {
		if string(key) == name {
			return k
		}
	}
	return -1
}

func syntaxErr(field, what string, i int) error {
	return &features.FieldError{Field: field, Err: fmt.Errorf("%w JSON: %s at byte %d", ErrSyntax, what, i+1)}
}

// skipSpace returns the index of the first byte from i that is not JSON
// white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// plainString reports whether the string starting at b[i] (a quote) has no
// escape and no control character, and returns the index of its closing
// quote.
func plainString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			return j, true
		case c == '\\' || c < 0x20:
			return 0, false
		}
	}
	return 0, false
}

// unquote appends the contents of the JSON string starting at b[i] (a
// quote) to dst and returns the index after the closing quote. Invalid
// escapes, control characters and a missing closing quote fail; a lone
// UTF-16 surrogate becomes U+FFFD, as in encoding/json. Invalid UTF-8 is
// kept as is, for the identifier checks to reject.
func unquote(b []byte, i int, dst []byte) ([]byte, int, bool) {
	for j := i + 1; j < len(b); {
		c := b[j]
		switch {
		case c == '"':
			return dst, j + 1, true
		case c < 0x20:
			return dst, j, false
		case c != '\\':
			dst = append(dst, c)
			j++
			continue
		}
		if j+1 == len(b) {
			return dst, j, false
		}
		switch e := b[j+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(b, j+2)
			if !ok {
				return dst, j, false
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(b, j+2); ok && j+1 < len(b) && b[j] == '\\' && b[j+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						j += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, j, false
		}
		j += 2
	}
	return dst, len(b), false
}

// hex4 decodes the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// scanNumber returns the index after the JSON number at b[i], or -1.
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := digits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

// literal returns the JSON literal b starts with, or "".
func literal(b []byte) string {
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(b) >= len(lit) && string(b[:len(lit)]) == lit {
			return lit
		}
	}
	return ""
}
