package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCatalogueCommands(t *testing.T) {
	s := newServeEnv(t, true)
	ctx := t.Context()
	write := func(name, content string) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		cmd      *command
		file     string
		wantCode int
		want     string // in stdout, or stderr on failure
	}{
		{itemsCommand(), `{"item":"SKU-1","category":"shoes","stores":["s1"],"active":true}` + "\n\n" + `{"item":"SKU-2","active":false}` + "\n", exitOK, "stored 2 items"},
		{itemsCommand(), `{"item":"SKU-3"}` + "\n" + `{"item":"","active":true}` + "\n", exitFailure, "row 2"},
		{itemsCommand(), `{"item":"SKU-3","colour":"red"}` + "\n", exitFailure, `unknown field "colour"`},
		{itemsCommand(), "\n", exitFailure, "nothing to import"},
		{couponsCommand(), `{"coupon":"C1","item":"SKU-1","stores":["s1"],"value":"-20%","valid_from":"2035-01-01T00:00:00Z","valid_until":"2035-02-01T00:00:00Z","active":true}` + "\n", exitOK, "stored 1 coupons"},
		{couponsCommand(), `{"coupon":"C2","item":"SKU-1","stores":["s1"],"value":"-20%","valid_from":"2035-02-01T00:00:00Z","valid_until":"2035-01-01T00:00:00Z"}` + "\n", exitFailure, "valid_until"},
		// A byte order mark and CRLF line ends, as spreadsheet exports write.
		{itemsCommand(), "\xef\xbb\xbf" + `{"item":"SKU-4","active":true}` + "\r\n" + `{"item":"SKU-5","active":true}` + "\r\n", exitOK, "stored 2 items"},
		// Two lines for one identifier: refused, nothing stored (SKU-9 is
		// not listed below).
		{itemsCommand(), `{"item":"SKU-9"}` + "\n" + `{"item":"SKU-1","category":"hats"}` + "\n" + `{"item":"SKU-1","category":"shoes","stores":["s1"],"active":true}` + "\n", exitFailure, `row 3: "SKU-1" is also on row 2`},
		{couponsCommand(), `{"coupon":"C1","item":"SKU-1","stores":["s1"],"value":"-20%","valid_from":"2035-01-01T00:00:00Z","valid_until":"2035-02-01T00:00:00Z","active":true}` + "\n" + `{"coupon":"C1","item":"SKU-2","stores":["s1"],"value":"-20%","valid_from":"2035-01-01T00:00:00Z","valid_until":"2035-02-01T00:00:00Z","active":true}` + "\n", exitFailure, `row 2: "C1" is also on row 1`},
		{itemsCommand(), `{"item":"SKU-9","category":"` + strings.Repeat("x", 2<<20) + `"}` + "\n", exitFailure, "row 1: longer than"},
	}
	for i, tt := range tests {
		code, out, errOut := s.run(ctx, tt.cmd, "import", write("f.jsonl", tt.file))
		if got := out + errOut; code != tt.wantCode || !strings.Contains(got, tt.want) {
			t.Errorf("test %d: %s import = %d %q; want %d and %q", i, tt.cmd.name, code, got, tt.wantCode, tt.want)
		}
	}
	// A gzip file is read directly.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(`{"item":"SKU-6","active":true}` + "\n"))
	zw.Close()
	if code, out, errOut := s.run(ctx, itemsCommand(), "import", write("f.jsonl.gz", gz.String())); code != exitOK || !strings.Contains(out, "stored 1 items") {
		t.Errorf("items import f.jsonl.gz = %d %q %q, want stored 1 items", code, out, errOut)
	}
	code, out, _ := s.run(ctx, itemsCommand(), "list")
	if want := `{"item":"SKU-1","category":"shoes","stores":["s1"],"active":true}` + "\n" + `{"item":"SKU-2","active":false}` + "\n" +
		`{"item":"SKU-4","active":true}` + "\n" + `{"item":"SKU-5","active":true}` + "\n" + `{"item":"SKU-6","active":true}` + "\n"; code != exitOK || out != want {
		t.Errorf("items list = %d %q, want %q", code, out, want)
	}
	code, out, _ = s.run(ctx, couponsCommand(), "list")
	if code != exitOK || !strings.Contains(out, `"coupon":"C1"`) || strings.Count(out, "\n") != 1 {
		t.Errorf("coupons list = %d %q, want C1", code, out)
	}
	if code, _, _ := s.run(ctx, itemsCommand(), "import"); code != exitUsage {
		t.Errorf("items import without FILE = %d, want %d", code, exitUsage)
	}
}
