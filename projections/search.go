package projections

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/domain"
)

// The search read model. A document is keyed by its type and the sequence
// of the event that first produced it, so new documents are appended at the
// end of their type's range: keyed by id, every rebuild transaction
// rewrote most of the bucket's pages, as ids are random and flow documents
// hold a whole description. search_ids finds a document's key from its id,
// for the events that update or delete it.
var (
	bucketSearch    = []byte("search")     // type 0 seq -> document (see encode)
	bucketSearchIDs = []byte("search_ids") // type 0 id -> seq of the document's key
)

// errBadSearchDoc reports a stored search document that does not decode.
var errBadSearchDoc = errors.New("projections: malformed search document")

// searchDoc is one searchable resource: what a hit shows, and the
// lower-cased text a query is matched against.
type searchDoc struct {
	Type        string
	ID          string
	Title       string
	Description string
	Metadata    map[string]string
	Text        string
}

func searchText(parts ...string) string { return strings.ToLower(strings.Join(parts, "\x00")) }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func searchDocOf(te *trailEvent) *searchDoc {
	switch {
	case te.trail != nil:
		t := te.trail
		short := t.GitCommitSha
		if len(short) > 8 {
			short = short[:8]
		}
		return &searchDoc{Type: "trail", ID: t.ID, Title: short + " — " + t.GitBranch,
			Description: t.GitAuthor + " <" + t.GitAuthorEmail + ">",
			Metadata:    map[string]string{"flowId": t.FlowID, "name": t.Name, "gitCommitSha": t.GitCommitSha, "gitBranch": t.GitBranch, "status": t.Status},
			Text:        searchText(t.Name, t.GitCommitSha, t.GitBranch, t.GitAuthor, t.GitAuthorEmail)}
	case te.artifact != nil:
		a := te.artifact
		return &searchDoc{Type: "artifact", ID: a.ID, Title: a.ImageName + ":" + a.ImageTag, Description: a.Sha256Digest,
			Metadata: map[string]string{"trailId": a.TrailID, "flowId": a.FlowID, "reportedBy": a.ReportedBy},
			Text:     searchText(a.ImageName, a.ImageTag, a.Sha256Digest, a.ReportedBy)}
	case te.attestation != nil:
		a := te.attestation
		title := a.Type
		if a.Name != nil {
			title += " (" + *a.Name + ")"
		}
		return &searchDoc{Type: "attestation", ID: a.ID, Title: title, Description: a.Status,
			Metadata: map[string]string{"trailId": a.TrailID, "flowId": a.FlowID, "status": a.Status},
			Text:     searchText(a.Type, deref(a.Name))}
	}
	return nil
}

func flowSearchDoc(f *domain.Flow) *searchDoc {
	keys := make([]string, 0, len(f.Tags))
	for k := range f.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := []string{f.Name, f.Description}
	for _, k := range keys {
		parts = append(parts, k, f.Tags[k])
	}
	// The description is left out: it is the largest field, the text
	// holds it already, and Search takes it from the flow for the hits it
	// returns.
	return &searchDoc{Type: "flow", ID: f.ID, Title: f.Name,
		Metadata: map[string]string{"orgSlug": deref(f.OrgSlug)}, Text: searchText(parts...)}
}

// searchKey is a document's key in search_ids.
func searchKey(typ, id string) []byte { return []byte(typ + "\x00" + id) }

// docKey is a document's key in search: its type and the sequence pos.
func docKey(typ string, pos []byte) []byte {
	k := make([]byte, 0, len(typ)+1+len(pos))
	return append(append(append(k, typ...), 0), pos...)
}

// encodedDoc is a search document ready to store.
type encodedDoc struct {
	typ, id string
	value   []byte
}

// encode writes the document as length-prefixed strings (uvarint length,
// bytes): text, id, title, description, the number of metadata entries and
// then each key and value in key order. The text comes first so that a
// query tests it without decoding the rest, and encoding costs a copy,
// where JSON cost a scan of every byte for escaping.
func (d *searchDoc) encode() *encodedDoc {
	keys := make([]string, 0, len(d.Metadata))
	n := len(d.Text) + len(d.ID) + len(d.Title) + len(d.Description) + 5*binary.MaxVarintLen32
	for k, v := range d.Metadata {
		keys = append(keys, k)
		n += len(k) + len(v) + 2*binary.MaxVarintLen32
	}
	slices.Sort(keys)
	b := make([]byte, 0, n)
	for _, s := range []string{d.Text, d.ID, d.Title, d.Description} {
		b = appendString(b, s)
	}
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(appendString(b, k), d.Metadata[k])
	}
	return &encodedDoc{typ: d.Type, id: d.ID, value: b}
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// nextString splits one length-prefixed string off b.
func nextString(b []byte) (s, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, errBadSearchDoc
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

// docText returns the text of an encoded document without decoding it.
func docText(v []byte) ([]byte, error) {
	text, _, err := nextString(v)
	return text, err
}

// decodeDoc decodes a document of type typ stored by encode.
func decodeDoc(typ string, v []byte) (searchDoc, error) {
	d := searchDoc{Type: typ}
	var fields [4][]byte
	rest := v
	for i := range fields {
		var err error
		if fields[i], rest, err = nextString(rest); err != nil {
			return d, err
		}
	}
	d.Text, d.ID, d.Title, d.Description = string(fields[0]), string(fields[1]), string(fields[2]), string(fields[3])
	n, w := binary.Uvarint(rest)
	if w <= 0 || n > uint64(len(rest)) {
		return d, errBadSearchDoc
	}
	rest = rest[w:]
	d.Metadata = make(map[string]string, n)
	for range n {
		k, r, err := nextString(rest)
		if err != nil {
			return d, err
		}
		val, r, err := nextString(r)
		if err != nil {
			return d, err
		}
		d.Metadata[string(k)], rest = string(val), r
	}
	if len(rest) != 0 {
		return d, errBadSearchDoc
	}
	return d, nil
}

// put stores the document, at the key it already has or, for a new one,
// at the event sequence seq.
func (e *encodedDoc) put(tx *bolt.Tx, seq []byte) error {
	ids := tx.Bucket(bucketSearchIDs)
	id := searchKey(e.typ, e.id)
	pos := ids.Get(id)
	if pos == nil {
		pos = seq
		if err := ids.Put(id, seq); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketSearch).Put(docKey(e.typ, pos), e.value)
}

// deleteSearchDoc removes a document and its id entry.
func deleteSearchDoc(tx *bolt.Tx, typ, id string) error {
	ids := tx.Bucket(bucketSearchIDs)
	pos := ids.Get(searchKey(typ, id))
	if pos == nil {
		return nil
	}
	if err := tx.Bucket(bucketSearch).Delete(docKey(typ, pos)); err != nil {
		return err
	}
	return ids.Delete(searchKey(typ, id))
}

// updateSearchStatus rewrites the status a trail or attestation document
// shows.
func updateSearchStatus(tx *bolt.Tx, typ, id, status string) error {
	pos := tx.Bucket(bucketSearchIDs).Get(searchKey(typ, id))
	if pos == nil {
		return nil
	}
	b, key := tx.Bucket(bucketSearch), docKey(typ, pos)
	d, err := decodeDoc(typ, b.Get(key))
	if err != nil {
		return err
	}
	d.Metadata["status"] = status
	if typ == "attestation" {
		d.Description = status
	}
	return b.Put(key, d.encode().value)
}

// SearchResult is one search hit.
type SearchResult struct {
	Type        string            `json:"type"`
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
}

// SearchTypes are the resource types search covers.
var SearchTypes = []string{"flow", "trail", "artifact", "attestation"}

// Search matches q case-insensitively as a substring of the searchable
// fields of the resources of the given types (all when empty), at most
// limit results (in type order, then oldest first) and the total number of
// matches.
func (s *Store) Search(q string, types []string, limit int) ([]SearchResult, int, error) {
	out := []SearchResult{}
	total := 0
	needle := []byte(strings.ToLower(q))
	if len(types) == 0 {
		types = SearchTypes
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSearch).Cursor()
		for _, typ := range types {
			prefix := []byte(typ + "\x00")
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				text, err := docText(v)
				if err != nil {
					return err
				}
				if !bytes.Contains(text, needle) {
					continue
				}
				total++
				if len(out) < limit {
					d, err := decodeDoc(typ, v)
					if err != nil {
						return err
					}
					if typ == "flow" {
						if d.Description, err = flowDescription(tx, d.ID); err != nil {
							return err
						}
					}
					out = append(out, SearchResult{Type: d.Type, ID: d.ID, Title: d.Title, Description: d.Description, Metadata: d.Metadata})
				}
			}
		}
		return nil
	})
	return out, total, err
}

// flowDescription is the description of the flow with id ("" if it is gone).
func flowDescription(tx *bolt.Tx, id string) (string, error) {
	seq := tx.Bucket(bucketFlows).Get([]byte(id))
	if seq == nil {
		return "", nil
	}
	f, err := flowAt(tx, seq)
	if err != nil {
		return "", err
	}
	return f.Description, nil
}
