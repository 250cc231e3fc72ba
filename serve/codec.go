package serve

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/discret-io/discret/serve/apierr"
)

// requestCodec is gRPC's protobuf codec with one difference: a request
// whose string field is not valid UTF-8 is answered INVALID_ARGUMENT, naming
// the field, instead of INTERNAL.
//
// Protobuf strings must be UTF-8 and the protobuf decoder refuses a message
// whose string field is not, but grpc-go turns every decoding error into
// INTERNAL before any interceptor runs (rpc_util.go recv), which tells a
// client that sent bad bytes that the server failed. So when the only
// problem is UTF-8, requestCodec leaves the message empty, records the field
// at fault against the message, and reports success; the interceptors
// (rejected, called first on every request message) take the record and
// answer. Every other decoding error passes through unchanged.
type requestCodec struct {
	encoding.CodecV2
	// bad maps a decoded message (the pointer gRPC passed to Unmarshal) to
	// the path of its invalid field until rejected takes it.
	bad sync.Map
}

func newRequestCodec() *requestCodec {
	return &requestCodec{CodecV2: encoding.GetCodecV2(grpcproto.Name)}
}

// serverOption installs c on a gRPC server.
func (c *requestCodec) serverOption() grpc.ServerOption { return grpc.ForceServerCodecV2(c) }

func (c *requestCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	var u interface{ InvalidUTF8() bool }
	if err == nil || !errors.As(err, &u) || !u.InvalidUTF8() {
		return err
	}
	m, ok := v.(proto.Message)
	if !ok {
		return err
	}
	path := invalidUTF8Field(data.Materialize(), m.ProtoReflect().Descriptor())
	if path == "" { // not found: keep the decoder's error
		return err
	}
	proto.Reset(m)
	c.bad.Store(v, path)
	return nil
}

// rejected returns the refusal of a request message that Unmarshal decoded
// as empty, and forgets the record; nil for every other message.
func (c *requestCodec) rejected(req any) error {
	path, ok := c.bad.LoadAndDelete(req)
	if !ok {
		return nil
	}
	return apierr.Invalidf(path.(string), "not valid UTF-8 (protobuf strings are UTF-8 text)")
}

// invalidUTF8Field returns the path ("events[3].customer_id", with the
// protobuf field names) of the first string field of the wire-format
// message b, of type md, whose value is not valid UTF-8, or "" if there is
// none or b does not parse.
func invalidUTF8Field(b []byte, md protoreflect.MessageDescriptor) string {
	seen := map[protowire.Number]int{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return ""
		}
		value := b[:m]
		b = b[m:]
		fd := md.Fields().ByNumber(num)
		if fd == nil || typ != protowire.BytesType {
			continue
		}
		name := string(fd.Name())
		if fd.IsList() {
			name = fmt.Sprintf("%s[%d]", name, seen[num])
			seen[num]++
		}
		v, _ := protowire.ConsumeBytes(value)
		switch {
		case fd.Kind() == protoreflect.StringKind:
			if !utf8.Valid(v) {
				return name
			}
		case fd.Kind() == protoreflect.MessageKind: // a map entry is one too

			if p := invalidUTF8Field(v, fd.Message()); p != "" {
				return name + "." + p
			}
		}
	}
	return ""
}
