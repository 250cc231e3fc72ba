package rpc_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
)

// TestDocsNameEnumValuesAsSent: the READMEs name each value of the API's
// enums as clients receive it in JSON, by its full name
// (NON_PERSONALIZED_REASON_NO_CONSENT), and never by a shortened form that
// no client receives (NO_CONSENT).
func TestDocsNameEnumValuesAsSent(t *testing.T) {
	docs := map[string]string{}
	for _, path := range []string{"../../README.md", "../api/README.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		docs[path] = string(b)
	}
	readme := docs["../../README.md"]
	// Markdown wraps lines: a code span may hold a newline.
	span := regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	enums := discretv1.File_discret_v1_discret_proto.Enums()
	for i := range enums.Len() {
		values := enums.Get(i).Values()
		for j := range values.Len() {
			v := values.Get(j)
			if v.Number() == 0 {
				continue // UNSPECIFIED: never sent
			}
			if full := string(v.Name()); !strings.Contains(readme, "`"+full+"`") {
				t.Errorf("README.md does not name %s.%s as clients receive it: `%s`", enums.Get(i).Name(), full, full)
			}
		}
		for path, doc := range docs {
			for _, m := range span.FindAllStringSubmatch(doc, -1) {
				if v := shortened(values, m[1]); v != nil {
					t.Errorf("%s names `%s`, which no client receives: the value is %s", path, m[1], v.Name())
				}
			}
		}
	}
}

// shortened returns the value of values whose name ends with "_"+name,
// or nil.
func shortened(values protoreflect.EnumValueDescriptors, name string) protoreflect.EnumValueDescriptor {
	for j := range values.Len() {
		if v := values.Get(j); strings.HasSuffix(string(v.Name()), "_"+name) {
			return v
		}
	}
	return nil
}
