// Package testport hands tests loopback ports to configure before a
// server binds them.
//
// A port found by listening on port 0 and closing comes from the kernel's
// ephemeral range, where any outgoing connection of a test running in
// parallel may take it before the server binds it. Free picks ports below
// that range instead, where only listeners that name a port go.
package testport

import (
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// lowest is the smallest port handed out: below it live well-known
// services.
const lowest = 10000

// Free returns n distinct loopback ports that were free when checked and
// lie outside the ephemeral range.
func Free(t testing.TB, n int) []int {
	t.Helper()
	high := ephemeralLow()
	seen := map[int]bool{}
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("testport: no free port between %d and %d", lowest, high)
		}
		p := lowest + rand.IntN(high-lowest)
		if seen[p] {
			continue
		}
		seen[p] = true
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		ln.Close()
		ports = append(ports, p)
	}
	return ports
}

// ephemeralLow is the first port of the kernel's ephemeral range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > lowest+1000 {
				return n
			}
		}
	}
	return 32768
}
