// Package httpapi is the HTTP adapter: it decodes requests into domain
// commands and projection queries, and maps every error to a status in one
// table (errors.go). Handlers hold no business rules and write no read model:
// writes go through the eventstore Writer, reads through projections.
package httpapi
