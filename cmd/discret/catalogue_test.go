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
		{itemsCommand(), `{"item":"SKU-3","colour":"red"}` + "\n", exitFailure, "row 1: field colour: unknown field (the fields are item, category, stores, active)"},
		// Every bad row is listed, each with every mistyped field, in the
		// words of JSON rather than of Go; text after the object is refused.
		{itemsCommand(), `{"item":"SKU-7","stores":"s1"}` + "\n" + `{"item":"SKU-8","category":7,"active":"yes"}` + "\n" + `{"item":"SKU-9"} x` + "\n" + `{"item":"SKU-9","item":"SKU-10"}` + "\n" + `[1]` + "\n", exitFailure,
			"f.jsonl: 5 bad rows; nothing was stored:\n" +
				"  row 1: field stores: want an array of strings, such as [\"store-01\"]\n" +
				"  row 2: field category: want a string; field active: want true or false\n" +
				"  row 3: malformed JSON at byte 18: invalid character 'x' after top-level value\n" +
				"  row 4: field item: given more than once\n" +
				"  row 5: want a JSON object\n"},
		{couponsCommand(), `{"coupon":"C3","item":"SKU-1","stores":["s1"],"value":"-20%","valid_from":"2035-01-01","valid_until":"2035-02-01T00:00:00Z"}` + "\n", exitFailure, "row 1: field valid_from: want an RFC 3339 time, such as 2035-01-31T23:59:59Z"},
		{itemsCommand(), "\n", exitFailure, "nothing to import"},
		{couponsCommand(), `{"coupon":"C1","item":"SKU-1","stores":["s1"],"value":"-20%","valid_from":"2035-01-01T00:00:00Z","valid_until":"2035-02-01T00:00:00Z","active":true}` + "\n", exitOK, "stored 1 coupon\n"},
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
	if code, out, errOut := s.run(ctx, itemsCommand(), "import", write("f.jsonl.gz", gz.String())); code != exitOK || !strings.Contains(out, "stored 1 item\n") {
		t.Errorf("items import f.jsonl.gz = %d %q %q, want stored 1 item", code, out, errOut)
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
