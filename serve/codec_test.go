package serve

import (
	"errors"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	discretv1 "github.com/discret-io/discret/serve/api/discret/v1"
	"github.com/discret-io/discret/serve/apierr"
)

// str appends field num as a string (or bytes) field with value v.
func str(b []byte, num protowire.Number, v string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), v)
}

// sub appends field num as the embedded message m.
func sub(b []byte, num protowire.Number, m []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), m)
}

func TestInvalidUTF8Field(t *testing.T) {
	event := func(item string) []byte { return str(str(nil, 1, "c1"), 2, item) }
	events := (&discretv1.WriteEventsRequest{}).ProtoReflect().Descriptor()
	card := (&discretv1.ModelCard{}).ProtoReflect().Descriptor()
	for _, tt := range []struct {
		name string
		b    []byte
		md   protoreflect.MessageDescriptor
		want string
	}{
		{"valid", sub(sub(nil, 1, event("SKU-1")), 1, event("SKU-2")), events, ""},
		{"second event", sub(sub(nil, 1, event("SKU-1")), 1, event("SKU-\xff")), events, "events[1].item"},
		{"first of two bad", sub(sub(nil, 1, event("\xc3")), 1, event("\xff")), events, "events[0].item"},
		{"map key", sub(nil, 13, str(str(nil, 1, "lambda\x80"), 2, "0.4")), card, "parameters.key"},
		{"map value", sub(nil, 13, str(str(nil, 1, "lambda"), 2, "0.\xfe")), card, "parameters.value"},
		{"string field sent as a varint", protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 7), card, ""},
		{"unknown field", str(nil, 99, "\xff"), card, ""},
		{"truncated before the bad field", str(nil, 1, "v1")[:3], card, ""},
	} {
		got := invalidUTF8Field(tt.b, tt.md)
		if got != tt.want {
			t.Errorf("%s: invalidUTF8Field = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestRequestCodec: a message with a string that is not UTF-8 decodes as
// empty and is refused once, naming the field; other decoding errors and
// valid messages are the proto codec's.
func TestRequestCodec(t *testing.T) {
	c := newRequestCodec()
	decode := func(b []byte) (*discretv1.RecommendRequest, error) {
		m := &discretv1.RecommendRequest{}
		return m, c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, m)
	}
	m, err := decode(str(str(nil, 1, "c1"), 3, "st\xffore"))
	if err != nil || m.GetCustomer() != "" {
		t.Fatalf("Unmarshal = %v with customer %q, want nil and an empty message", err, m.GetCustomer())
	}
	err = c.rejected(m)
	var e *apierr.Error
	if !errors.As(err, &e) || e.Kind != apierr.InvalidArgument || e.Field != "store" {
		t.Errorf("rejected = %#v, want InvalidArgument on store", err)
	}
	if err := c.rejected(m); err != nil {
		t.Errorf("rejected again = %v, want nil: the record is taken once", err)
	}
	if m, err := decode(str(nil, 1, "c1")); err != nil || m.GetCustomer() != "c1" || c.rejected(m) != nil {
		t.Errorf("valid message: %v, %v", m, err)
	}
	if _, err := decode([]byte{0x0a, 0x05, 'a'}); err == nil {
		t.Error("truncated message decoded without error")
	}
}

// FuzzInvalidUTF8Field: on any bytes, invalidUTF8Field names a field
// whenever the protobuf decoder refuses the message for a string that is
// not UTF-8, and only when it refuses the message.
func FuzzInvalidUTF8Field(f *testing.F) {
	ev := func(c, item string) []byte { return str(str(nil, 1, c), 2, item) }
	f.Add(sub(nil, 1, ev("c1", "SKU-1")))
	f.Add(sub(sub(nil, 1, ev("c1", "SKU-1")), 1, ev("c\xff", "SKU-2")))
	f.Add(append(sub(nil, 1, ev("c1", "\xff")), 0x10, 0x01))
	f.Add([]byte{0x0a, 0x03, 0x0a, 0x01, 0xff})
	md := (&discretv1.WriteEventsRequest{}).ProtoReflect().Descriptor()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := invalidUTF8Field(b, md)
		err := proto.Unmarshal(b, &discretv1.WriteEventsRequest{})
		var u interface{ InvalidUTF8() bool }
		refused := errors.As(err, &u) && u.InvalidUTF8()
		// Bytes that break the wire format after a bad string may be
		// refused for that instead; the codec then keeps the decoder's error.
		if refused && path == "" || path != "" && err == nil {
			t.Errorf("Unmarshal = %v but invalidUTF8Field = %q", err, path)
		}
	})
}
