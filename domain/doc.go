// Package domain holds Factstore's aggregates, commands and events, and the
// pure decide/apply functions over them. It does no I/O and imports no NATS,
// bbolt or HTTP code: the writer feeds it state, it answers with events.
package domain
