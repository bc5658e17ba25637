package certs

import (
	"context"
	"testing"
	"time"
)

type fakeStorage StorageStatus

func (f fakeStorage) StorageStatus() StorageStatus { return StorageStatus(f) }

type fakeTickets TicketStatus

func (f fakeTickets) TicketStatus() TicketStatus { return TicketStatus(f) }

// TestStatusPublish: Status reports what was published last, and nothing
// for what was not.
func TestStatusPublish(t *testing.T) {
	t.Cleanup(func() { PublishStatus(nil, nil) })
	local := new(LocalTicketKeys)
	tests := []struct {
		name        string
		st          StorageReporter
		tk          TicketReporter
		wantStorage *StorageStatus
		wantTickets *TicketStatus
	}{
		{name: "nothing"},
		{
			name:        "redis",
			st:          fakeStorage{Kind: "redis", Address: "10.0.0.5:6379", Prefix: "p", Healthy: true},
			tk:          fakeTickets{Source: TicketSourceShared},
			wantStorage: &StorageStatus{Kind: "redis", Address: "10.0.0.5:6379", Prefix: "p", Healthy: true},
			wantTickets: &TicketStatus{Source: TicketSourceShared},
		},
		{
			name:        "files and local keys",
			st:          FileStorage("/var/lib/httpd"),
			tk:          local,
			wantStorage: &StorageStatus{Kind: "files", Address: "/var/lib/httpd", Healthy: true},
			wantTickets: &TicketStatus{Source: TicketSourceLocal},
		},
		{name: "storage only", st: FileStorage("/d"), wantStorage: &StorageStatus{Kind: "files", Address: "/d", Healthy: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			PublishStatus(tt.st, tt.tk)
			got := Status()
			if (got.Storage == nil) != (tt.wantStorage == nil) || got.Storage != nil && *got.Storage != *tt.wantStorage {
				t.Errorf("storage %+v, want %+v", got.Storage, tt.wantStorage)
			}
			if (got.Tickets == nil) != (tt.wantTickets == nil) || got.Tickets != nil && *got.Tickets != *tt.wantTickets {
				t.Errorf("tickets %+v, want %+v", got.Tickets, tt.wantTickets)
			}
		})
	}
}

// TestLocalTicketStatus: the last rotation is when the newest key was
// made.
func TestLocalTicketStatus(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &LocalTicketKeys{Now: func() time.Time { return now }}
	if got := l.TicketStatus(); got.Source != TicketSourceLocal || !got.LastRotation.IsZero() {
		t.Errorf("before any key: %+v", got)
	}
	for _, step := range []time.Duration{0, time.Hour, 12 * time.Hour} {
		now = now.Add(step)
		if _, _, err := l.TicketKeys(context.Background(), 12*time.Hour, 3); err != nil {
			t.Fatal(err)
		}
	}
	// Keys made at 0 and 13h: the last rotation is 13h.
	if got, want := l.TicketStatus().LastRotation, now; !got.Equal(want) {
		t.Errorf("last rotation %s, want %s", got, want)
	}
}
