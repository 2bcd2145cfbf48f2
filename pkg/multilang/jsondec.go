package multilang

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// parseJSON decodes one JSON value, the body of a multi-lang message, into the values
// encoding/json produces for an any with UseNumber, after fromJSON: map[string]any,
// []any, string, bool, nil, and numbers as int64, uint64 or float64. It accepts exactly
// what encoding/json accepts (a fuzz test compares the two) and replaces invalid UTF-8
// and unpaired surrogates in strings with U+FFFD as encoding/json does. It is the reader
// goroutine's work for every message a subprocess sends; encoding/json, going through
// a Decoder, json.Number and a second pass, cost about 60 allocations per message.
func parseJSON(b []byte) (any, error) {
	p := jsonParser{b: b}
	p.space()
	if p.i == len(p.b) {
		return nil, errJSONEmpty
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.b) {
		return nil, errJSONTrailing
	}
	return v, nil
}

var (
	errJSONEmpty    = errors.New("empty message")
	errJSONTrailing = errors.New("more than one JSON value")
)

// jsonMaxDepth is encoding/json's nesting limit.
const jsonMaxDepth = 10000

type jsonParser struct {
	b   []byte
	i   int
	buf []byte // scratch for strings with escapes
}

func (p *jsonParser) fail(what string) error {
	if p.i >= len(p.b) {
		return fmt.Errorf("unexpected end of JSON input (%s)", what)
	}
	return fmt.Errorf("invalid character %q at offset %d (%s)", p.b[p.i], p.i, what)
}

func (p *jsonParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int) (any, error) {
	if p.i >= len(p.b) {
		return nil, p.fail("looking for a value")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		return p.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	}
	return nil, p.fail("looking for a value")
}

func (p *jsonParser) literal(word string) error {
	for k := 0; k < len(word); k++ {
		if p.i >= len(p.b) || p.b[p.i] != word[k] {
			return p.fail("in literal " + word)
		}
		p.i++
	}
	return nil
}

func (p *jsonParser) object(depth int) (any, error) {
	if depth > jsonMaxDepth {
		return nil, fmt.Errorf("exceeded max depth %d", jsonMaxDepth)
	}
	p.i++ // {
	m := make(map[string]any)
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, p.fail("looking for the beginning of an object key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, p.fail("after an object key")
		}
		p.i++
		p.space()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("after an object key:value pair")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, p.fail("after an object key:value pair")
		}
	}
}

func (p *jsonParser) array(depth int) (any, error) {
	if depth > jsonMaxDepth {
		return nil, fmt.Errorf("exceeded max depth %d", jsonMaxDepth)
	}
	p.i++ // [
	a := []any{}
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		p.space()
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.space()
		if p.i >= len(p.b) {
			return nil, p.fail("after an array element")
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, p.fail("after an array element")
		}
	}
}

// str reads a string; p.b[p.i] is its opening quote.
func (p *jsonParser) str() (string, error) {
	p.i++
	start := p.i
	// Fast path: no escapes, ASCII or valid UTF-8.
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p.i++
	}
	p.buf = append(p.buf[:0], p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(p.buf), nil
		case c < 0x20:
			return "", p.fail("in string literal")
		case c == '\\':
			if err := p.escape(); err != nil {
				return "", err
			}
		case c < utf8.RuneSelf:
			p.buf = append(p.buf, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			p.buf = utf8.AppendRune(p.buf, r) // RuneError for invalid UTF-8, as encoding/json
			p.i += size
		}
	}
	return "", p.fail("in string literal")
}

// escape reads the escape sequence at p.i into p.buf.
func (p *jsonParser) escape() error {
	p.i++ // backslash
	if p.i >= len(p.b) {
		return p.fail("in string escape code")
	}
	c := p.b[p.i]
	switch c {
	case '"', '\\', '/':
		p.buf = append(p.buf, c)
	case 'b':
		p.buf = append(p.buf, '\b')
	case 'f':
		p.buf = append(p.buf, '\f')
	case 'n':
		p.buf = append(p.buf, '\n')
	case 'r':
		p.buf = append(p.buf, '\r')
	case 't':
		p.buf = append(p.buf, '\t')
	case 'u':
		r, ok := hex4(p.b[p.i+1:])
		if !ok {
			return p.fail("in \\u hexadecimal character escape")
		}
		p.i += 4
		if utf16.IsSurrogate(r) {
			if len(p.b) > p.i+2 && p.b[p.i+1] == '\\' && p.b[p.i+2] == 'u' {
				if r2, ok := hex4(p.b[p.i+3:]); ok {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						p.buf = utf8.AppendRune(p.buf, d)
						p.i += 7
						return nil
					}
				}
			}
			r = utf8.RuneError
		}
		p.buf = utf8.AppendRune(p.buf, r)
	default:
		return p.fail("in string escape code")
	}
	p.i++
	return nil
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number reads a number with JSON's grammar and converts it as jsonNumber does.
func (p *jsonParser) number() (any, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case p.i < len(p.b) && p.b[p.i] >= '1' && p.b[p.i] <= '9':
		digits()
	default:
		return nil, p.fail("in numeric literal")
	}
	integer := true
	if p.i < len(p.b) && p.b[p.i] == '.' {
		integer = false
		p.i++
		if digits() == 0 {
			return nil, p.fail("after decimal point in numeric literal")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		integer = false
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return nil, p.fail("in exponent of numeric literal")
		}
	}
	if integer && p.i-start <= 18 { // fits in an int64 whatever the digits
		var n int64
		neg := p.b[start] == '-'
		for _, c := range p.b[start+btoi(neg) : p.i] {
			n = n*10 + int64(c-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	}
	s := string(p.b[start:p.i])
	if integer {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		if u, err := strconv.ParseUint(s, 10, 64); err == nil {
			return u, nil
		}
	}
	f, _ := strconv.ParseFloat(s, 64) // the grammar holds, so only a range error: ±Inf or 0
	return f, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
