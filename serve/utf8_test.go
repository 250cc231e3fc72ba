package serve_test

import (
	"fmt"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wire is a request already in the protobuf wire format, sent as is by
// rawCodec: a Go client cannot marshal a string that is not UTF-8.
type wire []byte

// rawCodec is the proto codec, except that it sends a wire unchanged.
type rawCodec struct{ encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if w, ok := v.(wire); ok {
		return mem.BufferSlice{mem.SliceBuffer(w)}, nil
	}
	return c.CodecV2.Marshal(v)
}

var sendRaw = grpc.ForceCodecV2(rawCodec{encoding.GetCodecV2(grpcproto.Name)})

// badString returns the wire bytes that, appended to the encoding of m, add
// a string field of m (or of a message field of m, recursively) whose value
// is not UTF-8, and the path the server should name; ok is false if m has
// no string field.
func badString(m protoreflect.Message) (b []byte, path string, ok bool) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() {
			continue
		}
		name := string(fd.Name())
		if fd.IsList() {
			name = fmt.Sprintf("%s[%d]", name, m.Get(fd).List().Len())
		}
		tag := protowire.AppendTag(nil, fd.Number(), protowire.BytesType)
		switch fd.Kind() {
		case protoreflect.StringKind:
			return protowire.AppendString(tag, "caf\xe9"), name, true // Latin-1, not UTF-8
		case protoreflect.MessageKind:
			var sub protoreflect.Message
			if fd.IsList() {
				sub = m.Get(fd).List().NewElement().Message()
			} else {
				sub = m.Get(fd).Message()
			}
			if inner, p, ok := badString(sub); ok {
				return protowire.AppendBytes(tag, inner), name + "." + p, true
			}
		}
	}
	return nil, "", false
}

// TestGRPCInvalidUTF8: a gRPC request with a string field that is not UTF-8
// is the client's mistake. Every RPC that has a string field answers
// INVALID_ARGUMENT naming that field (grpc-go alone answers INTERNAL: it
// turns every decoding error into one before any interceptor runs), after
// authentication as on REST, and leaves nothing behind: the same request,
// valid, then succeeds. Health checks, unary and streamed, answer the same.
func TestGRPCInvalidUTF8(t *testing.T) {
	h := start(t, nil)
	all := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+h.tokens["all"])
	tested := 0
	for _, c := range apiCalls {
		valid, err := proto.Marshal(c.req)
		if err != nil {
			t.Fatal(err)
		}
		extra, path, ok := badString(c.req.ProtoReflect())
		if !ok {
			continue
		}
		tested++
		bad := wire(append(valid, extra...))
		err = h.conn.Invoke(t.Context(), c.method, bad, c.resp(), sendRaw)
		if st := status.Convert(err); st.Code() != codes.Unauthenticated {
			t.Errorf("%s without a key, %s not UTF-8 = %v %q, want Unauthenticated first", c.name, path, st.Code(), st.Message())
		}
		err = h.conn.Invoke(all, c.method, bad, c.resp(), sendRaw)
		st := status.Convert(err)
		if want := path + ": not valid UTF-8"; st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), want) {
			t.Errorf("%s with %s not UTF-8 = %v %q, want InvalidArgument %q…", c.name, path, st.Code(), st.Message(), want)
		}
		if field := badRequestField(st); field != path {
			t.Errorf("%s: BadRequest field violation on %q, want %q", c.name, field, path)
		}
		if st := h.invoke(t.Context(), c.method, h.tokens["all"], c.req, c.resp()); st.Code() != c.ok {
			t.Errorf("%s, valid, after the invalid one = %v %q, want %v", c.name, st.Code(), st.Message(), c.ok)
		}
	}
	if tested < len(apiCalls)/2 {
		t.Errorf("only %d of %d RPCs have a string field to corrupt", tested, len(apiCalls))
	}

	check := wire(protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "\xff"))
	err := h.conn.Invoke(t.Context(), healthpb.Health_Check_FullMethodName, check, &healthpb.HealthCheckResponse{}, sendRaw)
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "service: not valid UTF-8") {
		t.Errorf("health Check with a service name not UTF-8 = %v %q, want InvalidArgument on service", st.Code(), st.Message())
	}
	stream, err := h.conn.NewStream(t.Context(), &grpc.StreamDesc{ServerStreams: true}, healthpb.Health_Watch_FullMethodName, sendRaw)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.SendMsg(check); err != nil {
		t.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	err = stream.RecvMsg(&healthpb.HealthCheckResponse{})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "service: not valid UTF-8") {
		t.Errorf("health Watch with a service name not UTF-8 = %v %q, want InvalidArgument on service", st.Code(), st.Message())
	}
	if strings.Contains(h.logs.String(), `"level":"ERROR"`) {
		t.Errorf("a client's bad bytes were logged as a server error:\n%s", h.logs)
	}
}

// badRequestField returns the field of st's BadRequest detail, if any.
func badRequestField(st *status.Status) string {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) > 0 {
			return br.FieldViolations[0].Field
		}
	}
	return ""
}
