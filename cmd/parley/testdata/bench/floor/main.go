// Command floor measures what a relay costs on this machine with no protocol at all, the bound
// for two rows of the README's performance table that the direct one is not:
//
//	go run ./cmd/parley/testdata/bench/floor -mode hop-relay &        # copies bytes, one hop
//	taskset -c 0 go run ./cmd/parley/testdata/bench/floor -mode hop    # window 1: p50 direct and through it
//	go run ./cmd/parley/testdata/bench/floor -mode fanout-relay &      # writes every message to -n
//	taskset -c 0 go run ./cmd/parley/testdata/bench/floor -mode fanout -rate 4280
//
// Messages are 256 bytes with the send time in their first 8; latency is send to receipt.
// Nothing leaves 127.0.0.1.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"sync"
	"time"
)

func main() {
	mode := flag.String("mode", "hop", "hop-relay, hop, fanout-relay or fanout")
	relayAddr := flag.String("relay", "127.0.0.1:29001", "the relay's address")
	sinkAddr := flag.String("sink", "127.0.0.1:29002", "hop: where the relay delivers")
	n := flag.Int("n", 99, "fanout: recipients")
	rate := flag.Int("rate", 4280, "fanout: messages per second")
	d := flag.Duration("d", 4*time.Second, "fanout: how long to send")
	count := flag.Int("count", 50000, "hop: messages each way")
	flag.Parse()
	switch *mode {
	case "hop-relay":
		hopRelay(*relayAddr, *sinkAddr)
	case "hop":
		for _, via := range []string{"direct", "relay"} {
			ln, err := net.Listen("tcp", *sinkAddr)
			if err != nil {
				panic(err)
			}
			target := *sinkAddr
			if via == "relay" {
				target = *relayAddr
			}
			lat := hop(target, ln, *count)
			ln.Close()
			fmt.Printf("%s: p50 %v p90 %v p99 %v\n", via, lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)*99/100])
			time.Sleep(200 * time.Millisecond)
		}
	case "fanout-relay":
		fanoutRelay(*relayAddr, *n)
	case "fanout":
		fanout(*relayAddr, *n, *rate, *d)
	}
}

// hopRelay copies every byte from each connection it accepts to a new connection to sink.
func hopRelay(listen, sink string) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		panic(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			d, err := net.Dial("tcp", sink)
			if err != nil {
				panic(err)
			}
			buf := make([]byte, 65536)
			for {
				k, err := c.Read(buf)
				if err != nil {
					return
				}
				d.Write(buf[:k])
			}
		}()
	}
}

// hop sends count messages to target one at a time (window 1) and times each to the sink.
func hop(target string, sink net.Listener, count int) []time.Duration {
	got := make(chan time.Duration, 1)
	go func() {
		s, err := sink.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 256)
		for {
			if _, err := io.ReadFull(s, buf); err != nil {
				return
			}
			got <- time.Duration(time.Now().UnixNano() - int64(binary.BigEndian.Uint64(buf)))
		}
	}()
	c, err := net.Dial("tcp", target)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	msg := make([]byte, 256)
	lat := make([]time.Duration, 0, count)
	for i := 0; i < count; i++ {
		binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		c.Write(msg)
		lat = append(lat, <-got)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat
}

// fanoutRelay takes the sender's connection first, then n recipients', and writes every
// message it reads to each recipient at once, one write each.
func fanoutRelay(addr string, n int) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	in, err := ln.Accept()
	if err != nil {
		panic(err)
	}
	outs := make([]net.Conn, n)
	for i := range outs {
		if outs[i], err = ln.Accept(); err != nil {
			panic(err)
		}
	}
	buf := make([]byte, 256)
	for {
		if _, err := io.ReadFull(in, buf); err != nil {
			return
		}
		for _, o := range outs {
			o.Write(buf)
		}
	}
}

// fanout sends rate messages a second through the relay and times every copy.
func fanout(addr string, n, rate int, d time.Duration) {
	in, err := net.Dial("tcp", addr)
	if err != nil {
		panic(err)
	}
	time.Sleep(50 * time.Millisecond)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			panic(err)
		}
		time.Sleep(time.Millisecond) // accepted in order, after the sender
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256)
			var mine []time.Duration
			for {
				c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := io.ReadFull(c, buf); err != nil {
					break
				}
				mine = append(mine, time.Duration(time.Now().UnixNano()-int64(binary.BigEndian.Uint64(buf))))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	msg := make([]byte, 256)
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); wait > 0 {
			time.Sleep(wait)
		}
		binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		in.Write(msg)
	}
	in.Close()
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	k := len(lat)
	fmt.Printf("fan-out to %d at %d/s: %d copies, p50 %v p99 %v p99.9 %v\n", n, rate, k, lat[k/2], lat[k*99/100], lat[k*999/1000])
}
