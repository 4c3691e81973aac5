package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemoryProbe reads the daemon's memory from what it offers: its
// profiler (heap, after a forced GC when asked), its Prometheus metrics
// (go_memstats_heap_alloc_bytes, process_resident_memory_bytes) and, on
// the same machine, /proc/<pid>/status (VmRSS, VmHWM). A source left
// empty is not used; with none the readings are zero.
type MemoryProbe struct {
	// PprofURL is the daemon's profiler, e.g. "http://127.0.0.1:6060"
	// ([http] pprof_listen).
	PprofURL string
	// MetricsURL is its metrics, e.g. "http://127.0.0.1:8080/metrics".
	MetricsURL string
	// PID is the daemon's process on this machine; 0: unknown.
	PID int
	// HTTP is the client for both; nil: http.DefaultClient.
	HTTP *http.Client
}

// Memory is one reading, in bytes; 0 is "unknown".
type Memory struct {
	Heap int64 // HeapAlloc: live heap (after GC) or live plus garbage
	RSS  int64 // resident set
	Peak int64 // the process's peak resident set so far (VmHWM)
}

// Read takes a reading; gc forces a collection first (profiler only) so
// that the heap is what is live.
func (p *MemoryProbe) Read(ctx context.Context, gc bool) (Memory, error) {
	return p.read(ctx, gc, false)
}

// read takes a reading; cheap prefers the metrics to the profiler (whose
// heap profile costs the daemon more than a scrape), for sampling.
func (p *MemoryProbe) read(ctx context.Context, gc, cheap bool) (Memory, error) {
	var m Memory
	if p == nil {
		return m, nil
	}
	var errs []string
	if p.PprofURL != "" && (!cheap || p.MetricsURL == "") {
		q := "/debug/pprof/heap?debug=1"
		if gc {
			q += "&gc=1"
		}
		v, err := p.scrape(ctx, strings.TrimSuffix(p.PprofURL, "/")+q, "# HeapAlloc = ", " ")
		if err != nil {
			errs = append(errs, err.Error())
		}
		m.Heap = v
	}
	if p.MetricsURL != "" && (m.Heap == 0 || p.PID == 0) {
		if m.Heap == 0 {
			v, err := p.scrape(ctx, p.MetricsURL, "go_memstats_heap_alloc_bytes ", "")
			if err != nil {
				errs = append(errs, err.Error())
			}
			m.Heap = v
		}
		if p.PID == 0 {
			v, err := p.scrape(ctx, p.MetricsURL, "process_resident_memory_bytes ", "")
			if err != nil {
				errs = append(errs, err.Error())
			}
			m.RSS = v
		}
	}
	if p.PID != 0 {
		rss, peak, err := procStatus(p.PID)
		if err != nil {
			errs = append(errs, err.Error())
		}
		m.RSS, m.Peak = rss, peak
	}
	if len(errs) > 0 {
		return m, fmt.Errorf("loadgen: memory: %s", strings.Join(errs, "; "))
	}
	return m, nil
}

// scrape reads the number after prefix on a line of the document at url
// (up to sep, if not empty).
func (p *MemoryProbe) scrape(ctx context.Context, url, prefix, sep string) (int64, error) {
	hc := p.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		if sep != "" {
			v, _, _ = strings.Cut(v, sep)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64) // Prometheus writes 1.2e+07
		if err != nil {
			return 0, fmt.Errorf("GET %s: %q: %w", url, sc.Text(), err)
		}
		return int64(f), nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	return 0, fmt.Errorf("GET %s: no line %q", url, strings.TrimSpace(prefix))
}

// procStatus reads VmRSS and VmHWM of a process (Linux).
func procStatus(pid int) (rss, peak int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/status: %q: %w", pid, line, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, nil
}

// sampler keeps the highest heap and RSS seen while a scenario runs.
type sampler struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	max  Memory
}

// sample reads p every interval until the returned sampler is stopped.
func (p *MemoryProbe) sample(ctx context.Context, interval time.Duration) *sampler {
	s := &sampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if m, err := p.read(ctx, false, true); err == nil {
				s.mu.Lock()
				s.max.Heap, s.max.RSS, s.max.Peak = max(s.max.Heap, m.Heap), max(s.max.RSS, m.RSS), max(s.max.Peak, m.Peak)
				s.mu.Unlock()
			}
			select {
			case <-s.stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// end stops the sampler and returns the highest readings.
func (s *sampler) end() Memory {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max
}
