package main

import (
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
	}
	for i, tt := range tests {
		code, out, errOut := s.run(ctx, tt.cmd, "import", write("f.jsonl", tt.file))
		if got := out + errOut; code != tt.wantCode || !strings.Contains(got, tt.want) {
			t.Errorf("test %d: %s import = %d %q; want %d and %q", i, tt.cmd.name, code, got, tt.wantCode, tt.want)
		}
	}
	code, out, _ := s.run(ctx, itemsCommand(), "list")
	if want := `{"item":"SKU-1","category":"shoes","stores":["s1"],"active":true}` + "\n" + `{"item":"SKU-2","active":false}` + "\n"; code != exitOK || out != want {
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
