package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/discret-io/discret/features/store"
	"github.com/discret-io/discret/privacy"
)

const (
	killBatch     = 500
	killCustomers = 50
	killEvents    = 400_000 // far more than are committed before the kill
)

// killFile generates the same large import file every time it is opened:
// event n is a purchase of item "n" by customer n mod killCustomers.
func killFile() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		w := bufio.NewWriter(pw)
		for n := range killEvents {
			fmt.Fprintf(w, `{"customer":"kill-%d@example.com","item":"%d","type":"purchase","time":"%s"}`+"\n",
				n%killCustomers, n, now.Add(-time.Duration(n)*time.Millisecond).Format(time.RFC3339Nano))
		}
		pw.CloseWithError(w.Flush())
	}()
	return pr, nil
}

func killStoreOptions(dir string) store.Options {
	return store.Options{Dir: dir, Now: clock, EncryptionKey: bytes.Repeat([]byte{3}, 32), KeyCheck: bytes.Repeat([]byte{4}, 16)}
}

// TestKillWriterHelper is the writer process of TestKillDuringImport: it
// prints "ack N" after each durable commit, N being the events stored so far.
func TestKillWriterHelper(t *testing.T) {
	dir := os.Getenv("DISCRET_TEST_KILL_DIR")
	if dir == "" {
		t.Skip("helper process for TestKillDuringImport")
	}
	db, err := store.Open(killStoreOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	for c := range killCustomers {
		grant(t, db, fmt.Sprintf("kill-%d@example.com", c), privacy.Personalization)
	}
	in := newIngester(t, db, killBatch)
	fmt.Println("ready")
	_, err = in.Import(context.Background(), killFile, ImportOptions{MaxErrors: -1, Progress: func(p Progress) {
		fmt.Printf("ack %d\n", p.Stored)
	}})
	t.Fatalf("import finished before the kill: %v", err)
}

// TestKillDuringImport kills a writer with SIGKILL in the middle of a large
// import, reopens the store and checks that every acknowledged batch is
// present and that no batch is half-written.
func TestKillDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a writer process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillWriterHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "DISCRET_TEST_KILL_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked, _ = strconv.Atoi(n)
			if acked >= 40*killBatch {
				break
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out) // acks printed after ours are not counted
	cmd.Wait()
	if acked < 40*killBatch {
		t.Fatalf("writer acknowledged only %d events before exiting; stderr:\n%s", acked, stderr.String())
	}

	db, err := store.Open(killStoreOptions(dir))
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer db.Close()
	present := make([]bool, killEvents)
	total := 0
	for e, err := range db.Events(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		n, err := strconv.Atoi(e.Item)
		if err != nil || n < 0 || n >= killEvents {
			t.Fatalf("unexpected item %q", e.Item)
		}
		present[n] = true
		total++
	}
	for n := range acked {
		if !present[n] {
			t.Fatalf("acknowledged event %d is missing after SIGKILL (%d acknowledged, %d present)", n, acked, total)
		}
	}
	for b := 0; b < killEvents; b += killBatch {
		count := 0
		for n := b; n < b+killBatch; n++ {
			if present[n] {
				count++
			}
		}
		if count != 0 && count != killBatch {
			t.Fatalf("batch starting at event %d is half-written: %d of %d events", b, count, killBatch)
		}
	}
	t.Logf("%d events acknowledged, %d present after SIGKILL", acked, total)
}
