package vhost

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"sync"
	"time"
	"weak"

	"httpd/certs"
	"httpd/conf"
)

// ticketRetry is how soon the keys are asked for again after the source
// failed; the keys held meanwhile keep serving.
const ticketRetry = time.Minute

// ticketTimeout bounds each call to the key source the server makes by
// itself. Handshakes never wait for the source: they use the keys set.
const ticketTimeout = 10 * time.Second

// ticketKeys keeps the session-ticket keys of a server's TLS listeners,
// across generations: a reload keeps them, so a client resumes its
// session after a SIGHUP as before it. The keys come from a
// certs.TicketKeySource; a timer asks it again when the newest is due to
// rotate, and each rotation is set on every listener's tls.Config. The
// zero value is ready; stop ends the timer.
type ticketKeys struct {
	mu sync.Mutex // guards every field below
	// src is the key source; nil until first used, then Server.TicketKeys
	// or a certs.LocalTicketKeys.
	src certs.TicketKeySource
	log *slog.Logger
	// on is whether listeners opened now offer tickets (see opening);
	// rotation is the running config's ticket_rotation.
	on       bool
	rotation time.Duration
	keys     [][32]byte // newest first; nil until the source answered
	// configs are the tls.Configs the keys are set on. Weak: a listener
	// that closes drops its config, and the next rotation drops it here.
	configs []weak.Pointer[tls.Config]
	timer   *time.Timer // the next refresh
	stopped bool
}

// opening records whether the listeners a load is about to open offer
// session tickets. Only register reads it, so a load that fails changes
// nothing that serves. The first load also sets the rotation the first
// keys are made with.
func (t *ticketKeys) opening(s conf.ServerTLS, log *slog.Logger) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.on = s.SessionTickets
	if t.keys == nil {
		t.rotation, t.log = s.TicketRotation, log
	}
}

// apply puts the settings of a config that is now serving into effect:
// a new rotation interval reschedules the next refresh. Listeners keep
// the session_tickets setting they opened with; a change is logged.
func (t *ticketKeys) apply(prev *conf.Config, cfg *conf.Config, log *slog.Logger) {
	if prev != nil && prev.Server.TLS.SessionTickets != cfg.Server.TLS.SessionTickets && hasTLSListener(prev) {
		log.Warn("server.tls.session_tickets changed: TLS listeners already open keep their setting until a restart")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.log = log
	if t.rotation == cfg.Server.TLS.TicketRotation {
		return
	}
	t.rotation = cfg.Server.TLS.TicketRotation
	if t.keys != nil {
		_ = t.refresh() // logs its error
	}
}

func hasTLSListener(cfg *conf.Config) bool {
	for _, v := range cfg.VHosts {
		for _, l := range v.Listeners {
			if l.TLS {
				return true
			}
		}
	}
	return false
}

// register sets the keys on cfg and keeps them rotated there; with
// session tickets off it turns them off on cfg instead. It fetches the
// first keys when there are none yet. If the source cannot give any,
// cfg keeps crypto/tls's own keys (rotated in the process) until it can.
func (t *ticketKeys) register(cfg *tls.Config, src certs.TicketKeySource) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.on {
		cfg.SessionTicketsDisabled = true
		return
	}
	if t.src == nil {
		t.src = src
		if t.src == nil {
			t.src = new(certs.LocalTicketKeys)
		}
	}
	if t.keys == nil && !t.stopped {
		_ = t.refresh() // logs its error
	}
	t.followLocked(cfg)
}

func (t *ticketKeys) followLocked(cfg *tls.Config) {
	if cfg.SessionTicketsDisabled {
		return
	}
	if t.keys != nil {
		cfg.SetSessionTicketKeys(t.keys)
	}
	t.configs = append(t.configs, weak.Make(cfg))
}

// refresh is refreshLocked bounded by ticketTimeout. t.mu is held.
func (t *ticketKeys) refresh() error {
	ctx, cancel := context.WithTimeout(context.Background(), ticketTimeout)
	defer cancel()
	return t.refreshLocked(ctx)
}

// refreshLocked asks the source for the keys, sets them on every live
// config and schedules the next refresh. t.mu is held.
func (t *ticketKeys) refreshLocked(ctx context.Context) error {
	if t.src == nil || t.stopped {
		return nil
	}
	rotation := t.rotation
	if rotation <= 0 {
		rotation = conf.DefaultTicketRotation
	}
	keys, next, err := t.src.TicketKeys(ctx, rotation, certs.TicketKeysKept)
	if err == nil && len(keys) == 0 {
		err = errors.New("the key source returned no key")
	}
	if err != nil {
		if t.log != nil {
			t.log.Error("session-ticket keys: keeping the keys held until the source answers", "err", err, "retry", ticketRetry)
		}
		next = ticketRetry
	} else {
		t.keys = keys
		live := t.configs[:0]
		for _, w := range t.configs {
			if cfg := w.Value(); cfg != nil {
				cfg.SetSessionTicketKeys(keys)
				live = append(live, w)
			}
		}
		clear(t.configs[len(live):])
		t.configs = live
	}
	if t.timer != nil {
		t.timer.Stop()
	}
	t.timer = time.AfterFunc(max(next, time.Second), func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		_ = t.refresh() // logs its error
	})
	return err
}

// stop ends the refreshes. The configs keep the keys they have.
func (t *ticketKeys) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	if t.timer != nil {
		t.timer.Stop()
	}
}

// RefreshTicketKeys asks the session-ticket key source for the keys now
// and sets them on every TLS listener, rotating them if the newest is
// due. The server does this by itself when a rotation is due; a fleet
// may call it when another server has rotated the shared keys. With no
// TLS listener yet, or session tickets off, it does nothing.
func (s *Server) RefreshTicketKeys(ctx context.Context) error {
	t := &s.tickets
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refreshLocked(ctx)
}
