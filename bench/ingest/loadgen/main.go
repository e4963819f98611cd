// Command loadgen is the ingest benchmark's load generator (bench/ingest): an independent process that POSTs NDJSON
// batches of prediction records to a collector (or to the floor server) over a fixed number of keep-alive
// connections for a fixed duration, as fast as the answers come back (a closed loop per connection).
//
// Each record has -numeric numeric and -categorical categorical features, a unique id, the current time as ts, a
// version, a prediction, a score and a latency. A batch answered 429, 503 or 507 is a refusal: the connection waits
// the answer's Retry-After (at most -max-retry-after) and sends the same batch again, as a well-behaved client does.
//
// At the end it prints one JSON object on stdout: acknowledged records and batches, refusals by status, the
// acknowledgement latency (request start to the whole answer; percentiles by nearest rank), and the records
// acknowledged in each second of the run. Only the standard library is used.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

type config struct {
	url           string
	token         string
	connections   int
	batch         int
	numeric       int
	categorical   int
	duration      time.Duration
	prefix        string
	maxRetryAfter time.Duration
}

// result is what the load generator prints.
type result struct {
	URL                  string             `json:"url"`
	Connections          int                `json:"connections"`
	BatchRecords         int                `json:"batchRecords"`
	Features             map[string]int     `json:"features"`
	DurationSeconds      float64            `json:"durationSeconds"`
	AckedBatches         int                `json:"ackedBatches"`
	AckedRecords         int                `json:"ackedRecords"`
	AckedPerSecond       float64            `json:"ackedRecordsPerSecond"`
	BytesPerRecord       float64            `json:"bytesPerRecord"`
	Refusals             map[string]int     `json:"refusals"`
	Errors               int                `json:"errors"`
	FirstError           string             `json:"firstError,omitempty"`
	AckLatencyMs         map[string]float64 `json:"ackLatencyMs"`
	AckedPerSecondSeries []int              `json:"ackedPerSecondSeries"`
}

// recorder gathers the outcomes of every connection.
type recorder struct {
	mu         sync.Mutex
	start      time.Time
	latencies  []float64
	perSecond  []int
	refusals   map[string]int
	errors     int
	firstError string
	batches    int
	records    int
	bytes      int
}

func (r *recorder) ack(at time.Time, latency time.Duration, records, size int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	second := int(at.Sub(r.start) / time.Second)
	for len(r.perSecond) <= second {
		r.perSecond = append(r.perSecond, 0)
	}
	r.perSecond[second] += records
	r.latencies = append(r.latencies, float64(latency.Microseconds())/1000)
	r.batches++
	r.records += records
	r.bytes += size
}

func (r *recorder) refuse(status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refusals[strconv.Itoa(status)]++
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors++
	if r.firstError == "" {
		r.firstError = err.Error()
	}
}

var categories = []string{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"}

// appendBatch writes batch `seq` of connection `conn` as NDJSON: one record per line, ids <prefix>-<conn>-<seq>-<j>.
func appendBatch(buf []byte, cfg *config, rng *rand.Rand, conn, seq int) []byte {
	now := time.Now().UnixMilli()
	for j := 0; j < cfg.batch; j++ {
		buf = append(buf, `{"id":"`...)
		buf = append(buf, cfg.prefix...)
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(conn), 10)
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(seq), 10)
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(j), 10)
		buf = append(buf, `","ts":`...)
		buf = strconv.AppendInt(buf, now, 10)
		buf = append(buf, `,"version":"v1","features":{`...)
		for f := 0; f < cfg.numeric; f++ {
			if f > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `"num_`...)
			buf = strconv.AppendInt(buf, int64(f), 10)
			buf = append(buf, `":`...)
			buf = strconv.AppendFloat(buf, float64(rng.IntN(1_000_000))/1000, 'f', -1, 64)
		}
		for c := 0; c < cfg.categorical; c++ {
			if c > 0 || cfg.numeric > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, `"cat_`...)
			buf = strconv.AppendInt(buf, int64(c), 10)
			buf = append(buf, `":"`...)
			buf = append(buf, categories[rng.IntN(len(categories))]...)
			buf = append(buf, '"')
		}
		buf = append(buf, `},"prediction":`...)
		buf = strconv.AppendInt(buf, int64(rng.IntN(2)), 10)
		buf = append(buf, `,"score":`...)
		buf = strconv.AppendFloat(buf, float64(rng.IntN(10_000))/10_000, 'f', -1, 64)
		buf = append(buf, `,"latency_ms":`...)
		buf = strconv.AppendInt(buf, int64(5+rng.IntN(50)), 10)
		buf = append(buf, "}\n"...)
	}
	return buf
}

// retryAfter reads a Retry-After of whole seconds, defaulting to one second, capped at max.
func retryAfter(header string, max time.Duration) time.Duration {
	wait := time.Second
	if seconds, err := strconv.Atoi(header); err == nil && seconds >= 0 {
		wait = time.Duration(seconds) * time.Second
	}
	return min(wait, max)
}

// sender runs one connection's closed loop until the deadline.
func sender(cfg *config, client *http.Client, rec *recorder, conn int, deadline time.Time) {
	rng := rand.New(rand.NewPCG(uint64(conn), uint64(time.Now().UnixNano())))
	endpoint := cfg.url
	var body []byte
	for seq := 0; time.Now().Before(deadline); seq++ {
		body = appendBatch(body[:0], cfg, rng, conn, seq)
		for time.Now().Before(deadline) {
			req, err := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
			if err != nil {
				rec.fail(err)
				return
			}
			req.Header.Set("Content-Type", "application/x-ndjson")
			if cfg.token != "" {
				req.Header.Set("Authorization", "Bearer "+cfg.token)
			}
			started := time.Now()
			res, err := client.Do(req)
			if err != nil {
				rec.fail(err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			done := time.Now()
			if res.StatusCode == http.StatusOK {
				rec.ack(done, done.Sub(started), cfg.batch, len(body))
				break
			}
			if res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable ||
				res.StatusCode == http.StatusInsufficientStorage {
				rec.refuse(res.StatusCode)
				time.Sleep(retryAfter(res.Header.Get("Retry-After"), cfg.maxRetryAfter))
				continue
			}
			rec.fail(fmt.Errorf("status %d", res.StatusCode))
			break
		}
	}
}

// percentile is the nearest-rank p-th percentile (0-100) of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	return sorted[max(0, min(len(sorted)-1, rank))]
}

func main() {
	cfg := &config{}
	flag.StringVar(&cfg.url, "url", "", "endpoint to POST batches to (e.g. http://127.0.0.1:8787/api/v1/models/bench/predictions)")
	flag.StringVar(&cfg.token, "token", "", "bearer token")
	flag.IntVar(&cfg.connections, "connections", 4, "concurrent keep-alive connections")
	flag.IntVar(&cfg.batch, "batch", 1000, "records per batch")
	flag.IntVar(&cfg.numeric, "numeric", 20, "numeric features per record")
	flag.IntVar(&cfg.categorical, "categorical", 3, "categorical features per record")
	flag.DurationVar(&cfg.duration, "duration", time.Minute, "how long to send")
	flag.StringVar(&cfg.prefix, "prefix", "load", "prefix of the record ids (unique per run)")
	flag.DurationVar(&cfg.maxRetryAfter, "max-retry-after", 5*time.Second, "longest wait after a refusal")
	flag.Parse()
	if cfg.url == "" || cfg.connections < 1 || cfg.batch < 1 {
		fmt.Fprintln(os.Stderr, "loadgen: -url is required, -connections and -batch must be >= 1")
		os.Exit(2)
	}
	client := &http.Client{
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: cfg.connections,
			MaxConnsPerHost:     cfg.connections,
			DisableCompression:  true,
		},
		Timeout: 120 * time.Second,
	}
	rec := &recorder{start: time.Now(), refusals: map[string]int{}}
	deadline := rec.start.Add(cfg.duration)
	var wg sync.WaitGroup
	for conn := 0; conn < cfg.connections; conn++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sender(cfg, client, rec, conn, deadline)
		}()
	}
	wg.Wait()
	elapsed := time.Since(rec.start).Seconds()
	slices.Sort(rec.latencies)
	out := result{
		URL:             cfg.url,
		Connections:     cfg.connections,
		BatchRecords:    cfg.batch,
		Features:        map[string]int{"numeric": cfg.numeric, "categorical": cfg.categorical},
		DurationSeconds: elapsed,
		AckedBatches:    rec.batches,
		AckedRecords:    rec.records,
		AckedPerSecond:  float64(rec.records) / elapsed,
		Refusals:        rec.refusals,
		Errors:          rec.errors,
		FirstError:      rec.firstError,
		AckLatencyMs: map[string]float64{
			"p50": percentile(rec.latencies, 50),
			"p99": percentile(rec.latencies, 99),
			"max": percentile(rec.latencies, 100),
		},
		AckedPerSecondSeries: rec.perSecond,
	}
	if rec.records > 0 {
		out.BytesPerRecord = float64(rec.bytes) / float64(rec.records)
	}
	encoder := json.NewEncoder(os.Stdout)
	if err := encoder.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
