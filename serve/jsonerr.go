package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/discret-io/discret/features"
	"github.com/discret-io/discret/serve/apierr"
)

// A request body that does not decode is refused as every other bad
// request is: with a message that names the field at fault by its path in
// the request ("events[2].time: want a JSON string, got a number") and a
// google.rpc.BadRequest detail naming it. protojson's own error ("proto:
// (line 1:20): invalid value for string field time: 5") names a field but
// not where it is, and the gateway passes its text on without a detail.
//
// bodyError finds the path with protojson itself as the judge: the body's
// fields are decoded one at a time into an empty message, and a field that
// fails is searched further, element by element for a list, field by field
// for a message. It runs only once a body has failed to decode, so the
// requests that decode pay nothing for it. Values are never echoed: a
// customer id may be in any of them.

// bodyError returns the refusal of body, a request body that did not
// decode as a message of type md.
func bodyError(body []byte, md protoreflect.MessageDescriptor, decodeErr error) *apierr.Error {
	var raw json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return wholeBodyError("not JSON: %v, at byte %d", se, se.Offset)
		}
		return wholeBodyError("not JSON: %v", err)
	}
	if raw[0] != '{' {
		return wholeBodyError("want a JSON object (fields: %s), got %s", fieldList(md), jsonKind(raw))
	}
	if e := objectError(raw, md, ""); e != nil {
		return e
	}
	// Not found value by value: say what protojson says, without its
	// package prefix.
	msg := strings.TrimLeft(strings.TrimPrefix(decodeErr.Error(), "proto:"), " \u00a0")
	return wholeBodyError("not a valid %s: %s", md.Name(), msg)
}

// objectError returns the refusal of the first member of obj, a JSON
// object at path prefix, that a message of type md does not take, or nil.
func objectError(obj []byte, md protoreflect.MessageDescriptor, prefix string) *apierr.Error {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // {
		return nil
	}
	seen := map[protoreflect.FieldNumber]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil
		}
		// As protojson finds it: by JSON name, else by proto name.
		fd := md.Fields().ByJSONName(key)
		if fd == nil {
			fd = md.Fields().ByTextName(key)
		}
		if fd == nil {
			return apierr.Invalid(prefix+features.FieldLabel(key), fmt.Errorf("%w (the fields are %s)", features.ErrUnknownField, fieldList(md)))
		}
		path := prefix + string(fd.Name())
		if seen[fd.Number()] {
			return apierr.Invalid(path, features.ErrRepeated)
		}
		seen[fd.Number()] = true
		if e := fieldError(fd, val, path); e != nil {
			return e
		}
	}
	return nil
}

// fieldError returns the refusal of val as the value of field fd at path,
// or nil if protojson takes it.
func fieldError(fd protoreflect.FieldDescriptor, val []byte, path string) *apierr.Error {
	if decodes(fd, val) {
		return nil
	}
	switch {
	case fd.IsList():
		if val[0] != '[' {
			want, _ := expected(fd)
			return apierr.Invalidf(path, "want a JSON array, each element %s; got %s", want, jsonKind(val))
		}
		return listError(fd, val, path)
	case fd.IsMap():
		want, _ := expected(fd.MapValue())
		return apierr.Invalidf(path, "want a JSON object, each value %s", want)
	case isObject(fd) && val[0] == '{':
		if e := objectError(val, fd.Message(), path+"."); e != nil {
			return e
		}
	}
	return valueError(fd, val, path)
}

// listError returns the refusal of the first element of list, the JSON
// array value of the repeated field fd at path, that protojson does not
// take, or nil.
func listError(fd protoreflect.FieldDescriptor, list []byte, path string) *apierr.Error {
	dec := json.NewDecoder(bytes.NewReader(list))
	if _, err := dec.Token(); err != nil { // [
		return nil
	}
	for i := 0; dec.More(); i++ {
		var elem json.RawMessage
		if err := dec.Decode(&elem); err != nil {
			return nil
		}
		if decodes(fd, append(append([]byte{'['}, elem...), ']')) {
			continue
		}
		at := fmt.Sprintf("%s[%d]", path, i)
		if isObject(fd) && elem[0] == '{' {
			if e := objectError(elem, fd.Message(), at+"."); e != nil {
				return e
			}
		}
		return valueError(fd, elem, at)
	}
	return nil
}

// valueError is the refusal of val as a value (an element, for a list) of
// field fd at path: what is wanted, and what was given if it is of another
// JSON kind.
func valueError(fd protoreflect.FieldDescriptor, val []byte, path string) *apierr.Error {
	want, kind := expected(fd)
	got := jsonKind(val)
	switch {
	case kind != "" && got != kind:
		return apierr.Invalidf(path, "want %s, got %s", want, got)
	case fd.Kind() == protoreflect.StringKind:
		// A string that protojson refuses: an escape that is no
		// character, such as a lone surrogate.
		return apierr.Invalidf(path, "want %s of Unicode text", want)
	}
	return apierr.Invalidf(path, "want %s", want)
}

// decodes reports whether protojson takes val as the value of field fd,
// alone in a message of its type.
func decodes(fd protoreflect.FieldDescriptor, val []byte) bool {
	doc := make([]byte, 0, len(fd.JSONName())+len(val)+5)
	doc = append(doc, `{"`...)
	doc = append(doc, fd.JSONName()...)
	doc = append(doc, `":`...)
	doc = append(doc, val...)
	doc = append(doc, '}')
	return protojson.Unmarshal(doc, dynamicpb.NewMessage(fd.ContainingMessage())) == nil
}

// isObject reports whether a value of fd is a message that JSON writes as
// an object of its fields: not a well-known type, which has a JSON form of
// its own (a Timestamp is a string).
func isObject(fd protoreflect.FieldDescriptor) bool {
	return fd.Message() != nil && !fd.IsMap() && fd.Message().FullName().Parent() != "google.protobuf"
}

// expected describes the JSON values that protojson takes for a value (an
// element, for a list) of field fd, and returns their kind as jsonKind
// names it, or "" when it takes several (a whole number may be a JSON
// string of digits).
func expected(fd protoreflect.FieldDescriptor) (desc, kind string) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "true or false", "a boolean"
	case protoreflect.StringKind:
		return "a JSON string", "a string"
	case protoreflect.BytesKind:
		return "base64 in a JSON string", "a string"
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return fmt.Sprintf("a whole number from %d to %d", math.MinInt32, math.MaxInt32), ""
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return fmt.Sprintf("a whole number from 0 to %d", uint32(math.MaxUint32)), ""
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return fmt.Sprintf("a whole number from %d to %d", math.MinInt64, math.MaxInt64), ""
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(math.MaxUint64)), ""
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number", ""
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		names := make([]string, values.Len())
		for i := range names {
			names[i] = string(values.Get(i).Name())
		}
		return "one of " + strings.Join(names, ", "), ""
	}
	switch name := fd.Message().FullName(); {
	case name == "google.protobuf.Timestamp":
		return `an RFC 3339 time in a JSON string, such as "2026-11-24T10:00:00Z" (years 1 to 9999)`, "a string"
	case isObject(fd):
		return "an object (fields: " + fieldList(fd.Message()) + ")", "an object"
	default:
		return "the JSON form of " + string(name), ""
	}
}

// jsonKind names the kind of the JSON value v, with its article.
func jsonKind(v []byte) string {
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// fieldList lists the fields of a message of type md, for an error
// message: "events, allow_partial".
func fieldList(md protoreflect.MessageDescriptor) string {
	fields := md.Fields()
	names := make([]string, fields.Len())
	for i := range names {
		names[i] = string(fields.Get(i).Name())
	}
	return strings.Join(names, ", ")
}
