package main

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"io"
	"os"

	"github.com/discret-io/discret/features/eventfile"
)

// spool is a temporary copy of standard input for `import -`, which reads
// its input twice (a validation pass, then the import pass). Standard input
// holds raw customer ids, which Discret never writes to disk in clear, so
// the copy is encrypted (AES-256 in CTR mode) under a random key that lives
// only in this process's memory: the file is unreadable to anyone, even
// before it is removed.
type spool struct {
	name    string
	key, iv []byte
}

// newSpool copies r to an encrypted temporary file in $TMPDIR.
func newSpool(r io.Reader) (*spool, error) {
	s := &spool{key: make([]byte, 32), iv: make([]byte, aes.BlockSize)}
	rand.Read(s.key) // crypto/rand.Read never returns an error
	rand.Read(s.iv)
	f, err := os.CreateTemp("", "discret-stdin-*.enc")
	if err != nil {
		return nil, fmt.Errorf("copy standard input: %w", err)
	}
	s.name = f.Name()
	bw := bufio.NewWriterSize(f, 256<<10)
	_, err = io.Copy(cipher.StreamWriter{S: s.stream(), W: bw}, r)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.remove()
		return nil, fmt.Errorf("copy standard input to %s: %w", s.name, err)
	}
	return s, nil
}

func (s *spool) stream() cipher.Stream {
	block, err := aes.NewCipher(s.key)
	if err != nil {
		panic(err) // unreachable: the key is 32 bytes
	}
	return cipher.NewCTR(block, s.iv)
}

// open returns the copy, decrypted and decompressed if it is gzip, from its
// beginning.
func (s *spool) open() (io.ReadCloser, error) {
	f, err := os.Open(s.name)
	if err != nil {
		return nil, fmt.Errorf("standard input (copied to %s): %w", s.name, err)
	}
	return eventfile.NewReader(decrypted{Reader: cipher.StreamReader{S: s.stream(), R: f}, Closer: f}, "standard input")
}

// remove deletes the copy.
func (s *spool) remove() { os.Remove(s.name) }

type decrypted struct {
	io.Reader
	io.Closer
}
