package certs

import (
	"sync"
	"time"
)

// StorageStatus is what the status page shows of where certificates,
// ACME state and locks are kept.
type StorageStatus struct {
	// Kind is "redis" for a storage block, "files" for data_dir.
	Kind string `json:"kind"`
	// Address is the Redis host:port or socket (never the password), or
	// the data_dir folder.
	Address string `json:"address"`
	// Prefix starts every key in Redis; "" for files.
	Prefix string `json:"prefix,omitempty"`
	// Healthy is whether the last command reached the storage; Since is
	// when that last changed (or was first known), Checked when the
	// storage last answered or failed to.
	Healthy bool      `json:"healthy"`
	Since   time.Time `json:"since,omitzero"`
	Checked time.Time `json:"checked,omitzero"`
	// LastError is the last command that failed, and when, even after
	// the storage answered again; "" when none did.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// LastWrite is when a value was last written successfully.
	LastWrite time.Time `json:"last_write,omitzero"`
}

// Ticket-key sources, as TicketStatus.Source names them.
const (
	TicketSourceShared = "shared storage"
	TicketSourceLocal  = "local"
)

// TicketStatus is what the status page shows of the session-ticket keys.
type TicketStatus struct {
	// Source is TicketSourceShared or TicketSourceLocal.
	Source string `json:"source"`
	// LastRotation is when the key now encrypting new tickets started
	// to; zero before the first keys.
	LastRotation time.Time `json:"last_rotation,omitzero"`
	// LastError is the last failure to get the keys ("" when the last
	// attempt succeeded): the keys held meanwhile keep serving.
	LastError string `json:"last_error,omitempty"`
}

// StorageReporter reports a storage's status; a shared storage
// implements it.
type StorageReporter interface {
	StorageStatus() StorageStatus
}

// TicketReporter reports a session-ticket key source's status.
type TicketReporter interface {
	TicketStatus() TicketStatus
}

// FleetStatus is the storage and session-ticket part of the status page.
// Either may be nil when the server did not publish it.
type FleetStatus struct {
	Storage *StorageStatus `json:"storage,omitempty"`
	Tickets *TicketStatus  `json:"session_tickets,omitempty"`
}

var published struct {
	mu      sync.Mutex
	storage StorageReporter
	tickets TicketReporter
}

// PublishStatus makes st and tk what Status reports, for the status page
// of this process; nil for either stops reporting it. The server calls it
// once it has chosen its storage.
func PublishStatus(st StorageReporter, tk TicketReporter) {
	published.mu.Lock()
	defer published.mu.Unlock()
	published.storage, published.tickets = st, tk
}

// Status asks the published storage and ticket key source for their
// status. It does not wait for the storage: a reporter answers with what
// it knows.
func Status() FleetStatus {
	published.mu.Lock()
	st, tk := published.storage, published.tickets
	published.mu.Unlock()
	var out FleetStatus
	if st != nil {
		s := st.StorageStatus()
		out.Storage = &s
	}
	if tk != nil {
		t := tk.TicketStatus()
		out.Tickets = &t
	}
	return out
}

// FileStorage reports a data_dir folder as the storage: always healthy,
// as far as the status page goes (a folder that cannot be written shows
// in the log).
type FileStorage string

// StorageStatus implements StorageReporter.
func (f FileStorage) StorageStatus() StorageStatus {
	return StorageStatus{Kind: "files", Address: string(f), Healthy: true}
}

// TicketStatus implements TicketReporter.
func (l *LocalTicketKeys) TicketStatus() TicketStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := TicketStatus{Source: TicketSourceLocal}
	if len(l.keys) > 0 {
		ts.LastRotation = l.keys[0].created
	}
	return ts
}
