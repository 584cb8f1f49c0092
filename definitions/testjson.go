package definitions

import (
	"bytes"
	"math"
	"strconv"

	"go.yaml.in/yaml/v3"

	"towerhook/internal/jsonx"
)

// json encodes a YAML value as compact JSON, keeping the order of mapping
// keys (a test's json body is sent as written). YAML's integers, floats,
// booleans and nulls become JSON's; every other scalar is a string.
func (d *testDecoder) json(v *yaml.Node, what string) []byte {
	var b bytes.Buffer
	d.appendJSON(&b, v, what, 0)
	return b.Bytes()
}

// Bounds of a test's JSON value: nesting, and size (aliases repeat what
// they point to, so a few lines of YAML could otherwise expand without end).
const (
	maxJSONDepth = 64
	maxJSONSize  = 4 << 20
)

func (d *testDecoder) appendJSON(b *bytes.Buffer, v *yaml.Node, what string, depth int) {
	v = resolve(v)
	switch {
	case b.Len() > maxJSONSize:
		if !d.tooLarge {
			d.tooLarge = true
			d.errf(v.Line, "%s: larger than %d MiB", what, maxJSONSize>>20)
		}
		return
	case depth > maxJSONDepth:
		d.errf(v.Line, "%s: nested too deeply", what)
		b.WriteString("null")
		return
	}
	switch v.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(v.Content); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, resolve(v.Content[i]).Value)
			b.WriteByte(':')
			d.appendJSON(b, v.Content[i+1], what, depth+1)
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, item := range v.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			d.appendJSON(b, item, what, depth+1)
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		appendJSONScalar(b, v)
	default:
		d.errf(v.Line, "%s: expected a JSON value, got %s", what, kindName(v))
		b.WriteString("null")
	}
}

// appendJSONScalar writes a YAML scalar as its JSON value.
func appendJSONScalar(b *bytes.Buffer, v *yaml.Node) {
	switch v.Tag {
	case "!!null":
		b.WriteString("null")
		return
	case "!!bool":
		var x bool
		if v.Decode(&x) == nil {
			b.WriteString(strconv.FormatBool(x))
			return
		}
	case "!!int":
		var x int64
		if v.Decode(&x) == nil {
			b.WriteString(strconv.FormatInt(x, 10))
			return
		}
	case "!!float":
		var x float64
		if v.Decode(&x) == nil && !math.IsInf(x, 0) && !math.IsNaN(x) {
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
			return
		}
	}
	writeJSONString(b, v.Value)
}

// writeJSONString writes s as a JSON string, without HTML escaping.
func writeJSONString(b *bytes.Buffer, s string) {
	b.Write(jsonx.AppendString(b.AvailableBuffer(), s))
}
