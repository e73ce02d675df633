package projections

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/factstore/factstore/domain"
	"github.com/factstore/factstore/ledger"
)

// Flow returns the flow with id.
func (s *Store) Flow(id string) (*domain.Flow, error) {
	var f *domain.Flow
	err := s.db.View(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketFlows).Get([]byte(id))
		if seq == nil {
			return domain.NotFound("flow", id)
		}
		var err error
		f, err = flowAt(tx, seq)
		return err
	})
	return f, err
}

// flowAt decodes the flow state held by the event at seq.
func flowAt(tx *bolt.Tx, seq []byte) (*domain.Flow, error) {
	data, err := eventData(tx, seq)
	if err != nil {
		return nil, err
	}
	f, err := decodeFlow(data)
	if err != nil {
		return nil, fmt.Errorf("projections: flow at %x: %w", seq, err)
	}
	return &f, nil
}

// Flows lists flows, oldest first; org, if not empty, filters by org slug.
func (s *Store) Flows(org string) ([]domain.Flow, error) {
	out := []domain.Flow{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFlows).ForEach(func(_, seq []byte) error {
			f, err := flowAt(tx, seq)
			if err != nil {
				return err
			}
			if org == "" || f.Org() == org {
				out = append(out, *f)
			}
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// Organisation returns the organisation with slug.
func (s *Store) Organisation(slug string) (*domain.Organisation, error) {
	var o *domain.Organisation
	err := s.db.View(func(tx *bolt.Tx) error {
		seq := tx.Bucket(bucketOrgs).Get([]byte(slug))
		if seq == nil {
			return domain.NotFound("organisation", slug)
		}
		var err error
		o, err = orgAt(tx, seq)
		return err
	})
	return o, err
}

func orgAt(tx *bolt.Tx, seq []byte) (*domain.Organisation, error) {
	data, err := eventData(tx, seq)
	if err != nil {
		return nil, err
	}
	o := new(domain.Organisation)
	if err := json.Unmarshal(data, o); err != nil {
		return nil, fmt.Errorf("projections: organisation at %x: %w", seq, err)
	}
	return o, nil
}

// Organisations lists organisations, oldest first.
func (s *Store) Organisations() ([]domain.Organisation, error) {
	out := []domain.Organisation{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOrgs).ForEach(func(_, seq []byte) error {
			o, err := orgAt(tx, seq)
			if err != nil {
				return err
			}
			out = append(out, *o)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].Slug < out[j].Slug
	})
	return out, err
}

// Event returns the envelope at seq.
func (s *Store) Event(seq uint64) (*ledger.Envelope, error) {
	var e *ledger.Envelope
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEvents).Get(seqKey(seq))
		if v == nil {
			return domain.NotFound("ledger entry", fmt.Sprint(seq))
		}
		var err error
		e, err = ledger.Decode(v)
		return err
	})
	return e, err
}

// EventByID returns the envelope with event id.
func (s *Store) EventByID(id string) (*ledger.Envelope, error) {
	var seq uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketEventIDs).Get([]byte(id))
		if v == nil {
			return domain.NotFound("event", id)
		}
		seq = binary.BigEndian.Uint64(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Event(seq)
}

// Page is one page of envelopes and the total number matching.
type Page struct {
	Events []*ledger.Envelope
	Total  int
}

// Entries pages through the whole ledger in chain order.
func (s *Store) Entries(page, size int) (Page, error) {
	var p Page
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		if last, _ := c.Last(); last != nil {
			p.Total = int(binary.BigEndian.Uint64(last))
		}
		skip := page * size
		k, v := c.First()
		if skip > 0 && skip < p.Total {
			// Sequences are contiguous from 1, so the page starts at skip+1.
			k, v = c.Seek(seqKey(uint64(skip) + 1))
		} else if skip >= p.Total {
			k = nil
		}
		for ; k != nil && len(p.Events) < size; k, v = c.Next() {
			e, err := ledger.Decode(v)
			if err != nil {
				return err
			}
			p.Events = append(p.Events, e)
		}
		return nil
	})
	return p, err
}

// RecordEvents returns every event about one aggregate id, in order.
func (s *Store) RecordEvents(recordID string) ([]*ledger.Envelope, error) {
	var out []*ledger.Envelope
	err := s.db.View(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		prefix := append([]byte(recordID), 0)
		c := tx.Bucket(bucketRecords).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+8; k, _ = c.Next() {
			e, err := ledger.Decode(events.Get(k[len(prefix):]))
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// AuditQuery filters the audit log. Zero values mean "any".
type AuditQuery struct {
	EventType string
	TrailID   string
	Actor     string
	From, To  time.Time
	Page      int
	Size      int
	SortDesc  bool
}

// Audit answers an audit query from the audit indexes. With at most one
// of eventType, trailId and actor and no time bounds, the index alone
// decides the match, so only the page's events are decoded.
func (s *Store) Audit(q AuditQuery) (Page, error) {
	var p Page
	err := s.db.View(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		filters := 0
		for _, f := range []string{q.EventType, q.TrailID, q.Actor} {
			if f != "" {
				filters++
			}
		}
		exact := filters <= 1 && q.From.IsZero() && q.To.IsZero()
		var seqs []uint64
		switch {
		case q.EventType != "":
			seqs = prefixSeqs(tx.Bucket(bucketAuditType), q.EventType)
		case q.TrailID != "":
			seqs = mergeSeqs(prefixSeqs(tx.Bucket(bucketRecords), q.TrailID), prefixSeqs(tx.Bucket(bucketAuditTrail), q.TrailID))
		case q.Actor != "":
			seqs = prefixSeqs(tx.Bucket(bucketAuditActor), q.Actor)
		case exact:
			return pageOfAll(events, q, &p)
		default:
			c := events.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				seqs = append(seqs, binary.BigEndian.Uint64(k))
			}
		}
		if q.SortDesc {
			slices.Reverse(seqs)
		}
		skip := q.Page * q.Size
		for _, seq := range seqs {
			inPage := p.Total >= skip && len(p.Events) < q.Size
			if exact && !inPage {
				p.Total++
				continue
			}
			e, err := ledger.Decode(events.Get(seqKey(seq)))
			if err != nil {
				return err
			}
			if !exact && !auditMatches(e, q) {
				continue
			}
			if inPage {
				p.Events = append(p.Events, e)
			}
			p.Total++
		}
		return nil
	})
	return p, err
}

// pageOfAll pages through every event without a filter: sequences are
// contiguous from 1, so the page's positions are computed, not searched.
func pageOfAll(events *bolt.Bucket, q AuditQuery, p *Page) error {
	c := events.Cursor()
	last, _ := c.Last()
	if last == nil {
		return nil
	}
	total := binary.BigEndian.Uint64(last)
	p.Total = int(total)
	skip := uint64(q.Page) * uint64(q.Size)
	for i := uint64(0); i < uint64(q.Size) && skip+i < total; i++ {
		seq := skip + i + 1
		if q.SortDesc {
			seq = total - skip - i
		}
		e, err := ledger.Decode(events.Get(seqKey(seq)))
		if err != nil {
			return err
		}
		p.Events = append(p.Events, e)
	}
	return nil
}

func auditMatches(e *ledger.Envelope, q AuditQuery) bool {
	if q.EventType != "" && domain.AuditEventType(e.Type, e.Data) != q.EventType {
		return false
	}
	if q.Actor != "" && e.Actor != q.Actor {
		return false
	}
	if q.TrailID != "" {
		if trail, _, _ := domain.AuditSubjects(e.Aggregate, e.AggregateID, e.Data); trail != q.TrailID {
			return false
		}
	}
	if !q.From.IsZero() || !q.To.IsZero() {
		t := e.OccurredAt()
		if !q.From.IsZero() && t.Before(q.From) {
			return false
		}
		if !q.To.IsZero() && t.After(q.To) {
			return false
		}
	}
	return true
}

// mergeSeqs merges two ascending lists of sequences into one, each
// sequence once.
func mergeSeqs(a, b []uint64) []uint64 {
	out := make([]uint64, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || (len(a) > 0 && a[0] < b[0]):
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0] < a[0]:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return out
}

func prefixSeqs(b *bolt.Bucket, value string) []uint64 {
	var out []uint64
	prefix := append([]byte(value), 0)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if len(k) == len(prefix)+8 {
			out = append(out, binary.BigEndian.Uint64(k[len(prefix):]))
		}
	}
	return out
}

// SeqAt returns the first applied sequence whose event time is at or after
// t (applied+1 if none). Event times are non-decreasing along the chain for
// one writer; with several writers the answer is approximate by clock skew.
func (s *Store) SeqAt(t time.Time) (uint64, error) {
	applied := s.Applied()
	lo, hi := uint64(1), applied+1
	err := s.db.View(func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		for lo < hi {
			mid := lo + (hi-lo)/2
			e, err := ledger.Decode(events.Get(seqKey(mid)))
			if err != nil {
				return err
			}
			if e.OccurredAt().Before(t) {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return nil
	})
	return lo, err
}
