package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultStream is the name of the ledger stream.
const DefaultStream = "FACTSTORE"

// The headers of JetStream's atomic batch publish. JetStream stores them
// with every message of a batch, so a reader of the stream sees where a
// group commit ends: every message carries the batch id, only the last one
// the commit.
const (
	HeaderBatchID       = "Nats-Batch-Id"
	HeaderBatchSequence = "Nats-Batch-Sequence"
	HeaderBatchCommit   = "Nats-Batch-Commit"
)

// SubjectPrefix starts every event subject: factstore.events.<org>.<aggregate>.<type>.
const SubjectPrefix = "factstore.events."

// Subject is the NATS subject an event is published on.
func Subject(org, aggregate, eventType string) string {
	return SubjectPrefix + token(org) + "." + token(aggregate) + "." + eventType
}

// token makes s safe as one subject token (no dots, spaces or wildcards).
func token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', ' ', '*', '>', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

// StreamConfig is the ledger stream's configuration: no age, size or count
// limits, delete and purge denied, a duplicate window for retried publishes,
// and atomic batch publish for group commit.
func StreamConfig(name string, replicas int) jetstream.StreamConfig {
	if replicas <= 0 {
		replicas = 1
	}
	return jetstream.StreamConfig{
		Name:               name,
		Description:        "Factstore ledger: signed, hash-chained events",
		Subjects:           []string{SubjectPrefix + ">"},
		Retention:          jetstream.LimitsPolicy,
		Storage:            jetstream.FileStorage,
		MaxMsgs:            -1,
		MaxBytes:           -1,
		MaxAge:             0,
		MaxMsgsPerSubject:  -1,
		MaxMsgSize:         -1,
		Discard:            jetstream.DiscardNew,
		DenyDelete:         true,
		DenyPurge:          true,
		Duplicates:         2 * time.Minute,
		AllowAtomicPublish: true,
		AllowDirect:        true,
		Replicas:           replicas,
	}
}

// EnsureStream creates the ledger stream if it is missing and turns on the
// settings an existing one lacks. It never loosens protections.
func EnsureStream(ctx context.Context, js jetstream.JetStream, name string, replicas int) (jetstream.Stream, error) {
	want := StreamConfig(name, replicas)
	s, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("eventstore: create stream %s: %w", name, err)
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: look up stream %s: %w", name, err)
	}
	cfg := s.CachedInfo().Config
	if !cfg.AllowAtomicPublish || !cfg.DenyDelete || !cfg.DenyPurge || !cfg.AllowDirect {
		cfg.AllowAtomicPublish, cfg.DenyDelete, cfg.DenyPurge, cfg.AllowDirect = true, true, true, true
		if s, err = js.UpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("eventstore: update stream %s: %w", name, err)
		}
	}
	return s, nil
}
