package multilang

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Serializer names the encoding of the messages exchanged with a subprocess.
type Serializer string

// The serializers. JSON is Storm's; msgpack is the one pystorm and streamparse offer.
const (
	// JSON frames every message as one JSON value followed by a line "end".
	JSON Serializer = "json"
	// Msgpack writes messages as consecutive msgpack values with no delimiter: msgpack
	// values are self-delimiting. Strings travel as str and []byte as bin.
	Msgpack Serializer = "msgpack"
)

// DefaultMaxMessageBytes bounds one message read from a subprocess.
const DefaultMaxMessageBytes = 16 << 20

// headBytes is how much of a bad message an error quotes.
const headBytes = 80

// ParseSerializer reads the value of ConfSerializer: "json" or "msgpack", or one of the
// class names Storm and streamparse use for them.
func ParseSerializer(s string) (Serializer, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch {
	case v == "" || v == "json" || strings.HasSuffix(v, "jsonserializer"):
		return JSON, nil
	case v == "msgpack" || v == "messagepack" || strings.HasSuffix(v, "msgpackserializer") || strings.HasSuffix(v, "messagepackserializer"):
		return Msgpack, nil
	}
	return "", fmt.Errorf("config %s: %q is not a serializer; use \"json\" or \"msgpack\"", ConfSerializer, s)
}

// ProtocolError is a message from a subprocess that breaks the multi-lang protocol. It
// quotes the first bytes of the offending message so that the person reading the log can
// see what the subprocess wrote (often a stray print to stdout).
type ProtocolError struct {
	Reason string
	// Head is up to the first 80 bytes of the message.
	Head []byte
	// Size is how many bytes of the message were read before the error.
	Size int64
}

func (e *ProtocolError) Error() string {
	if e.Size == 0 && len(e.Head) == 0 {
		return e.Reason
	}
	return fmt.Sprintf("%s; the message starts with %s (%d bytes read)", e.Reason, strconv.Quote(string(e.Head)), e.Size)
}

// A Decoder reads the messages a subprocess writes to its stdout. ReadMessage returns
// io.EOF at a clean end of the stream (between messages) and a *ProtocolError for a
// message that cannot be read; it never reads more than the maximum size for one message.
type Decoder interface {
	ReadMessage() (any, error)
}

// NewDecoder returns a decoder for the serializer; maxBytes <= 0 means
// DefaultMaxMessageBytes.
func NewDecoder(s Serializer, r io.Reader, maxBytes int) Decoder {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxMessageBytes
	}
	br := bufio.NewReaderSize(r, min(64<<10, maxBytes))
	if s == Msgpack {
		return &msgpackDecoder{r: br, max: int64(maxBytes)}
	}
	return &jsonDecoder{r: br, max: int64(maxBytes)}
}

// Encode frames one message for a subprocess.
func Encode(s Serializer, v any) ([]byte, error) {
	if s == Msgpack {
		return appendMsgpack(nil, v, 0)
	}
	b, err := appendJSON(make([]byte, 0, 128), v, 0)
	if err != nil {
		return nil, err
	}
	return append(b, "\nend\n"...), nil
}

// jsonDecoder reads Storm's framing: a JSON value over one or more lines, then a line
// holding only "end". Blank lines between messages are skipped.
type jsonDecoder struct {
	r   *bufio.Reader
	max int64
	buf []byte
}

func (d *jsonDecoder) ReadMessage() (any, error) {
	d.buf = d.buf[:0]
	var n int64 // bytes read for this message, blank lines before it included
	started := false
	lineStart := 0
	for {
		chunk, err := d.r.ReadSlice('\n')
		n += int64(len(chunk))
		if n > d.max {
			d.buf = append(d.buf, chunk[:min(len(chunk), headBytes)]...)
			return nil, d.fail(fmt.Sprintf("message is larger than the limit of %d bytes (config %s) or is not terminated by a line \"end\"", d.max, ConfMaxMessageBytes), n)
		}
		if !started {
			trimmed := bytes.TrimLeft(chunk, " \t\r\n")
			if len(trimmed) == 0 && len(chunk) > 0 && chunk[len(chunk)-1] == '\n' {
				continue // a blank line between messages
			}
			if len(trimmed) > 0 {
				started = true
				if trimmed[0] != '{' && trimmed[0] != '[' {
					d.buf = append(d.buf, chunk...)
					return nil, d.fail("the subprocess wrote something that is not a multi-lang message (a JSON object followed by a line \"end\"); "+
						"it must not print to stdout: log through the protocol or write to stderr", n)
				}
			}
		}
		d.buf = append(d.buf, chunk...)
		switch {
		case err == bufio.ErrBufferFull:
			continue // the line goes on
		case err == io.EOF && !started:
			return nil, io.EOF // nothing but blanks since the last message
		case err != nil && err != io.EOF:
			return nil, err
		case err == io.EOF:
			return nil, d.fail("the stream ended in the middle of a message (no line \"end\" after it)", n)
		}
		// A whole line ends at len(d.buf).
		line := bytes.TrimRight(d.buf[lineStart:], "\r\n")
		if string(line) == "end" {
			body := d.buf[:lineStart]
			return d.parse(body, n)
		}
		lineStart = len(d.buf)
	}
}

func (d *jsonDecoder) parse(body []byte, n int64) (any, error) {
	v, err := parseJSON(body)
	switch {
	case err == errJSONEmpty:
		return nil, d.fail("empty message before the line \"end\"", n)
	case err == errJSONTrailing:
		return nil, d.fail("the message holds more than one JSON value before the line \"end\"", n)
	case err != nil:
		return nil, d.fail("the message is not valid JSON: "+err.Error(), n)
	}
	return v, nil
}

// lastBytes returns the first bytes of the last message read.
func (d *jsonDecoder) lastBytes() []byte { return bytes.Clone(d.buf[:min(len(d.buf), headBytes)]) }

func (d *jsonDecoder) fail(reason string, n int64) error {
	return &ProtocolError{Reason: reason, Head: bytes.Clone(d.buf[:min(len(d.buf), headBytes)]), Size: n}
}

// encodeTuple frames the message that gives a bolt one input, {"comp", "id", "stream",
// "task", "tuple"}, as Encode frames that map (JSON keys sorted, the same bytes),
// without building the map: it is written once per input.
func encodeTuple(s Serializer, id, comp, stream string, task int64, values []any) ([]byte, error) {
	var err error
	if s == Msgpack {
		b := make([]byte, 0, 96)
		b = append(b, 0x85)
		b = appendStr(appendStr(b, "comp"), comp)
		b = appendStr(appendStr(b, "id"), id)
		b = appendStr(appendStr(b, "stream"), stream)
		b = appendInt(appendStr(b, "task"), task)
		return appendMsgpack(appendStr(b, "tuple"), values, 1)
	}
	b := make([]byte, 0, 128)
	b = appendJSONString(append(b, `{"comp":`...), comp)
	b = appendJSONString(append(b, `,"id":`...), id)
	b = appendJSONString(append(b, `,"stream":`...), stream)
	b = strconv.AppendInt(append(b, `,"task":`...), task, 10)
	if b, err = appendJSON(append(b, `,"tuple":`...), values, 1); err != nil {
		return nil, err
	}
	return append(b, "}\nend\n"...), nil
}
