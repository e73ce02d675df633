package custom

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/itchyny/gojq"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// program is the compiled form of a Type's rules, summary and schema.
// gojq codes and jsonschema schemas are safe for concurrent use.
type program struct {
	rules   []*gojq.Code
	summary []*gojq.Code
	schema  *jsonschema.Schema // nil when the type has no schema
}

// schemaURL names the uploaded schema in compiler and validation messages.
const schemaURL = "urn:factstore:type-schema"

// compile checks the definition and returns its compiled form, compiling
// only on the first call for a given content.
func (t *Type) compile() (*program, error) {
	if err := t.checkDefinition(); err != nil {
		return nil, err
	}
	rules, schema := t.rules(), t.schemaBytes()
	exprs := make([]string, len(t.Summary))
	for i, item := range t.Summary {
		exprs[i] = item.Expression
	}
	return programs.get(cacheKey(rules, exprs, schema), func() (*program, error) {
		return build(rules, exprs, schema)
	})
}

func build(rules, summary []string, schema []byte) (*program, error) {
	p := &program{rules: make([]*gojq.Code, len(rules)), summary: make([]*gojq.Code, len(summary))}
	for i, rule := range rules {
		code, err := compileJQ(rule)
		if err != nil {
			return nil, fmt.Errorf("%w: rule %d %q: %w", ErrInvalid, i+1, rule, err)
		}
		p.rules[i] = code
	}
	for i, expr := range summary {
		code, err := compileJQ(expr)
		if err != nil {
			return nil, fmt.Errorf("%w: summary expression %d %q: %w", ErrInvalid, i+1, expr, err)
		}
		p.summary[i] = code
	}
	if schema != nil {
		sch, err := compileSchema(schema)
		if err != nil {
			return nil, fmt.Errorf("%w: schema: %w", ErrInvalid, err)
		}
		p.schema = sch
	}
	return p, nil
}

// compileJQ compiles with gojq's defaults: no environment variables, no
// module loading and no input/inputs, so a rule sees only its input.
func compileJQ(expr string) (*gojq.Code, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		return nil, err
	}
	return gojq.Compile(q)
}

// compileSchema compiles an uploaded JSON Schema (2020-12 unless its
// $schema says otherwise). No loader is installed, so a $ref to a file or
// URL fails instead of reading the server's disk or the network; the
// draft meta-schemas are built into the library.
func compileSchema(schema []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(jsonschema.SchemeURLLoader{})
	if err = c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	sch, err := c.Compile(schemaURL)
	if err != nil {
		return nil, errors.New(oneLine(err.Error()))
	}
	return sch, nil
}

// oneLine folds the library's indented multi-line messages into one line.
func oneLine(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimLeft(strings.TrimSpace(l), "- ")
	}
	return strings.Join(lines, "; ")
}

// cacheKey hashes everything build reads, length-prefixed so that no two
// different definitions share a key.
func cacheKey(rules, summary []string, schema []byte) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	write := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	for _, list := range [][]string{rules, summary} {
		binary.BigEndian.PutUint64(n[:], uint64(len(list)))
		h.Write(n[:])
		for _, s := range list {
			write([]byte(s))
		}
	}
	write(schema)
	var key [sha256.Size]byte
	h.Sum(key[:0])
	return key
}

// maxCachedPrograms bounds the cache; past it an arbitrary entry goes.
const maxCachedPrograms = 1024

// programs caches compiled definitions by content, so a Type stays a plain
// copyable value and concurrent first uses compile once.
var programs = programCache{entries: map[[sha256.Size]byte]*cacheEntry{}}

type programCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]*cacheEntry
}

type cacheEntry struct {
	once sync.Once
	prog *program
	err  error
}

func (c *programCache) get(key [sha256.Size]byte, build func() (*program, error)) (*program, error) {
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		if len(c.entries) >= maxCachedPrograms {
			for k := range c.entries {
				delete(c.entries, k)
				break
			}
		}
		e = &cacheEntry{}
		c.entries[key] = e
	}
	c.mu.Unlock()

	e.once.Do(func() { e.prog, e.err = build() })
	if e.err != nil {
		// Bad definitions are not kept: they would only crowd out good ones.
		c.mu.Lock()
		if c.entries[key] == e {
			delete(c.entries, key)
		}
		c.mu.Unlock()
	}
	return e.prog, e.err
}
