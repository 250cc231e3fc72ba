package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/discret-io/discret/features/synth"
)

// cancelOn is a writer that cancels a context once what was written to it
// holds a marker.
type cancelOn struct {
	syncWriter
	marker string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	n, err := w.syncWriter.Write(p)
	if strings.Contains(w.String(), w.marker) {
		w.cancel()
	}
	return n, err
}

// TestTrainInterruptedSaysWhatWasCharged: a private 'discret train'
// interrupted during its iterations says that what it spent is charged to
// the privacy ledger, as the ledger records, not only "interrupted".
func TestTrainInterruptedSaysWhatWasCharged(t *testing.T) {
	c := newCLI(t)
	gen := c.synthStore(300, 30, 3000, 5)
	c.mustRun("items", "import", filepath.Join(gen, synth.ItemsFile))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errOut := &cancelOn{marker: "iteration 1/", cancel: cancel}
	var out bytes.Buffer
	code := run(ctx, []string{"train", "--iterations", "6"}, &out, errOut, c.getenv)
	got := errOut.String()
	if code != exitFailure || !strings.Contains(got, "discret train: interrupted; the ε = ") ||
		!strings.Contains(got, "is charged to the privacy ledger (see 'discret privacy report')") {
		t.Fatalf("interrupted train = exit %d, stderr:\n%s\nwant exit %d, interrupted, and the ε charged", code, got, exitFailure)
	}
	r := decodeReport(t, c.mustRun("privacy", "report", "--json"))
	if len(r.Ledger) != 1 || r.Ledger[0]["status"] != statusFailed || !(r.Ledger[0]["epsilon"].(float64) > 0) {
		t.Errorf("ledger after the interrupted run = %v, want one failed entry with its ε", r.Ledger)
	}

	// Interrupted before any noise: nothing is charged, and nothing is said.
	c2 := newCLI(t)
	c2.synthStore(300, 30, 3000, 5)
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	var out2, errOut2 bytes.Buffer
	if code := run(ctx2, []string{"train"}, &out2, &errOut2, c2.getenv); code != exitFailure || errOut2.String() != "discret train: interrupted\n" {
		t.Errorf("train interrupted at once = exit %d, stderr %q; want %d and only \"interrupted\"", code, errOut2.String(), exitFailure)
	}
	if r := decodeReport(t, c2.mustRun("privacy", "report", "--json")); len(r.Ledger) != 0 {
		t.Errorf("ledger after a train interrupted at once = %v, want empty", r.Ledger)
	}
}
