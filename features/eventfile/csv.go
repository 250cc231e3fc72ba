package eventfile

import (
	"bytes"
	"fmt"
	"io"
)

// csvReader splits lines into RFC 4180 records: fields separated by a comma,
// optionally enclosed in double quotes, in which a doubled quote stands for
// one quote and line breaks are kept (as "\n"). Empty lines are skipped, as
// by encoding/csv. Unlike encoding/csv it bounds the size of a record and
// goes on after a malformed one.
type csvReader struct {
	lr       *lineReader
	rec      []byte   // a record spanning several lines, joined by "\n"
	fieldBuf []byte   // unquoted field contents, back to back
	ends     []int    // end offset of each field in fieldBuf
	fields   [][]byte // the fields, slices of fieldBuf
}

// next returns the fields of the next record (valid until the following
// call) and the number of the line where it starts. A malformed record comes
// back as rowErr (a *features.FieldError) with nil fields; err is io.EOF at
// the end of the input or an I/O error.
func (c *csvReader) next() (fields [][]byte, line int, rowErr error, err error) {
	for {
		data, tooLong, err := c.lr.next()
		if err != nil {
			return nil, 0, nil, err
		}
		line = c.lr.n
		if tooLong {
			return nil, line, recordErr(ErrLineTooLong), c.skipQuoted(c.lr.quotes%2 == 1)
		}
		if len(data) == 0 {
			continue
		}
		incomplete, perr := c.parse(data)
		if !incomplete {
			if perr != nil {
				return nil, line, perr, nil
			}
			return c.fields, line, nil, nil
		}
		// A quoted field runs on: join the following lines.
		c.rec = append(c.rec[:0], data...)
		for incomplete {
			more, tooLong, err := c.lr.next()
			if err == io.EOF {
				return nil, line, recordErr(fmt.Errorf("%w CSV: quoted field not closed before the end of the input", ErrSyntax)), nil
			}
			if err != nil {
				return nil, 0, nil, err
			}
			if tooLong || len(c.rec)+1+len(more) > MaxLineLen {
				q := c.lr.quotes
				if !tooLong {
					q = bytes.Count(more, []byte{'"'})
				}
				return nil, line, recordErr(ErrLineTooLong), c.skipQuoted(q%2 == 0)
			}
			c.rec = append(c.rec, '\n')
			c.rec = append(c.rec, more...)
			incomplete, perr = c.parse(c.rec)
		}
		if perr != nil {
			return nil, line, perr, nil
		}
		return c.fields, line, nil, nil
	}
}

// skipQuoted skips the rest of a record too long to keep, whose last line
// read ends inside a quoted field if inside: lines up to the one where the
// number of quotes seen becomes even, as it does where a quoted field ends.
// An unterminated field thus runs to the end of the input, as in
// encoding/csv. It returns only read errors other than io.EOF.
func (c *csvReader) skipQuoted(inside bool) error {
	for inside {
		more, tooLong, err := c.lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		q := c.lr.quotes
		if !tooLong {
			q = bytes.Count(more, []byte{'"'})
		}
		inside = inside != (q%2 == 1)
	}
	return nil
}

// parse splits data, one record, into c.fields. It reports incomplete when
// data ends inside a quoted field.
func (c *csvReader) parse(data []byte) (incomplete bool, err error) {
	c.fieldBuf = c.fieldBuf[:0]
	c.ends = c.ends[:0]
	i := 0
	for {
		if i < len(data) && data[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(data[i:], '"')
				if j < 0 {
					return true, nil
				}
				c.fieldBuf = append(c.fieldBuf, data[i:i+j]...)
				i += j + 1
				if i < len(data) && data[i] == '"' {
					c.fieldBuf = append(c.fieldBuf, '"')
					i++
					continue
				}
				break
			}
			c.ends = append(c.ends, len(c.fieldBuf))
			if i == len(data) {
				break
			}
			if data[i] != ',' {
				return false, recordErr(fmt.Errorf("%w CSV: text after a closing quote at byte %d", ErrSyntax, i+1))
			}
			i++
			continue
		}
		j := bytes.IndexByte(data[i:], ',')
		end := len(data)
		if j >= 0 {
			end = i + j
		}
		if k := bytes.IndexByte(data[i:end], '"'); k >= 0 {
			return false, recordErr(fmt.Errorf("%w CSV: quote inside an unquoted field at byte %d", ErrSyntax, i+k+1))
		}
		c.fieldBuf = append(c.fieldBuf, data[i:end]...)
		c.ends = append(c.ends, len(c.fieldBuf))
		if j < 0 {
			break
		}
		i = end + 1
	}
	c.fields = c.fields[:0]
	start := 0
	for _, end := range c.ends {
		c.fields = append(c.fields, c.fieldBuf[start:end:end])
		start = end
	}
	return false, nil
}
