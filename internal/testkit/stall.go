package testkit

import (
	"fmt"
	"io"
	"net"
	"testing"
)

// StalledServer serves one connection on loopback: it reads the request,
// writes a 503 problem whose headers promise more body than it sends (body
// and then 100 bytes more), and holds the connection open until the test
// ends, as a server that stalls mid-body does. It returns the server's URL.
func StalledServer(t testing.TB, body string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() {
		close(release)
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		c.Read(buf)
		fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\nContent-Length: %d\r\n\r\n", len(body)+100)
		io.WriteString(c, body)
		<-release
	}()
	return "http://" + ln.Addr().String()
}
