package eventfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineReader reads physical lines of at most MaxLineLen bytes, numbering
// them from 1. It strips a UTF-8 byte order mark at the start of the input
// and the "\n" or "\r\n" line terminators.
type lineReader struct {
	br   *bufio.Reader
	n    int   // number of the line last returned
	err  error // sticky read error, io.EOF at the end
	bomd bool  // the byte order mark has been looked for
	// quotes is the number of '"' in the last line if it was too long, for
	// the CSV reader to skip a quoted field that runs on.
	quotes int
}

var bom = []byte("\xef\xbb\xbf")

func newLineReader(r io.Reader) *lineReader {
	// Room for the longest line plus "\r\n", so that a line of MaxLineLen
	// bytes is returned whole by ReadSlice.
	return &lineReader{br: bufio.NewReaderSize(r, MaxLineLen+2)}
}

// skipBOM drops a byte order mark at the start of the input.
func (r *lineReader) skipBOM() {
	if r.bomd {
		return
	}
	r.bomd = true
	b, err := r.br.Peek(len(bom))
	if bytes.Equal(b, bom) {
		r.br.Discard(len(bom))
	} else if err != nil && err != io.EOF {
		r.err = err // bufio.Reader reports an error once only
	}
}

// next returns the next line, valid until the following call. tooLong
// reports a line longer than MaxLineLen, whose content is discarded. At the
// end of the input err is io.EOF; any other error is an I/O error.
func (r *lineReader) next() (line []byte, tooLong bool, err error) {
	if r.err != nil {
		return nil, false, r.err
	}
	r.skipBOM()
	line, err = r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		r.quotes = bytes.Count(line, []byte{'"'})
		for errors.Is(err, bufio.ErrBufferFull) {
			line, err = r.br.ReadSlice('\n')
			r.quotes += bytes.Count(line, []byte{'"'})
		}
		if err != nil && err != io.EOF {
			r.err = err
			return nil, false, err
		}
		r.n++
		r.err = err // io.EOF or nil
		return nil, true, nil
	}
	if err != nil {
		if err != io.EOF || len(line) == 0 {
			r.err = err
			return nil, false, err
		}
		// A last line without terminator: drop a trailing "\r" as
		// encoding/csv does.
		r.err = io.EOF
		line = bytes.TrimSuffix(line, []byte{'\r'})
	} else {
		line = line[:len(line)-1]
		line = bytes.TrimSuffix(line, []byte{'\r'})
	}
	r.n++
	if len(line) > MaxLineLen {
		r.quotes = bytes.Count(line, []byte{'"'})
		return nil, true, nil
	}
	return line, false, nil
}

// head returns the start of the input, without consuming it, for format
// detection: at least the first non-blank line unless it is longer than the
// buffer. The error is a read error other than io.EOF.
func (r *lineReader) head() ([]byte, error) {
	r.skipBOM()
	if r.err != nil {
		return nil, r.err
	}
	for n := 4 << 10; ; n *= 2 {
		if n > r.br.Size() {
			n = r.br.Size()
		}
		b, err := r.br.Peek(n)
		if err == io.EOF {
			return b, nil
		}
		if err != nil || n == r.br.Size() || hasContentLine(b) {
			return b, err
		}
	}
}

// hasContentLine reports whether b holds a complete line that is not blank.
func hasContentLine(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		if len(bytes.TrimSpace(b[:i])) > 0 {
			return true
		}
		b = b[i+1:]
	}
}
