package discretv1_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// TestDescriptorFresh compiles discret.proto with protoc and compares the
// result with the descriptor embedded in discret.pb.go: they differ when
// the .proto was edited without `make generate`. It needs protoc (Debian's
// protobuf-compiler and libprotobuf-dev) and is skipped without it; `make
// check` regenerates everything and compares byte for byte (comments
// included, which this test cannot see).
func TestDescriptorFresh(t *testing.T) {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc not installed (apt-get install protobuf-compiler libprotobuf-dev)")
	}
	if _, err := os.Stat("/usr/include/google/protobuf/timestamp.proto"); err != nil {
		t.Skip("well-known protos not installed (apt-get install libprotobuf-dev)")
	}
	out := filepath.Join(t.TempDir(), "set.pb")
	cmd := exec.Command(protoc, "-I", "../..", "-I", "/usr/include", "--descriptor_set_out="+out, "discret/v1/discret.proto")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, b)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.File) != 1 {
		t.Fatalf("protoc produced %d files, want 1", len(set.File))
	}
	embedded := protodesc.ToFileDescriptorProto(discretv1.File_discret_v1_discret_proto)
	if !proto.Equal(set.File[0], embedded) {
		t.Error("discret.pb.go is stale: discret.proto changed since it was generated; run `make generate`")
	}
}

// TestOpenAPIFollowsHTTPRules checks the committed OpenAPI document against
// discret.http.yaml: every rule's method and path must be in it, with the
// right operation.
func TestOpenAPIFollowsHTTPRules(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(discretv1.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	rules := httpRules(t)
	if len(rules) < 13 {
		t.Fatalf("read %d rules from discret.http.yaml; the parser is broken", len(rules))
	}
	for _, r := range rules {
		op, ok := doc.Paths[r.path][r.method]
		if !ok {
			t.Errorf("OpenAPI lacks %s %s (%s): run `make generate`", r.method, r.path, r.selector)
			continue
		}
		// The operation id is Service_Method, numbered from 2 on for a
		// method's additional bindings.
		parts := strings.Split(r.selector, ".")
		want := parts[len(parts)-2] + "_" + parts[len(parts)-1]
		if r.binding > 1 {
			want += strconv.Itoa(r.binding)
		}
		if op.OperationID != want {
			t.Errorf("OpenAPI %s %s is %s, want %s", r.method, r.path, op.OperationID, want)
		}
	}
}

type httpRule struct {
	selector, method, path string
	binding                int // 1 for the rule's own, 2… for its additional_bindings
}

// httpRules reads the rules of discret.http.yaml. The file's shape is
// fixed (selector, then one method line, then those of its
// additional_bindings), so a line scanner suffices.
func httpRules(t *testing.T) []httpRule {
	f, err := os.Open("discret.http.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rules []httpRule
	var cur httpRule
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "- "))
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.Trim(strings.TrimSpace(val), `"`)
		switch key {
		case "selector":
			cur = httpRule{selector: val}
		case "get", "post", "put", "delete", "patch":
			cur.method, cur.path = key, val
			cur.binding++
			rules = append(rules, cur)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rules
}
