package conformance

// Grafana Live with the records arriving over Kafka: a real Apache Kafka broker (test/support/kafka-broker.ts, KRaft
// from Maven Central's jars), `mlmon serve --kafka-brokers … --kafka-topic …` consuming it into the data directory,
// and a Go producer (franz-go, acks from all in-sync replicas) — the same live checks as over HTTP.

import (
	"bufio"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestLiveStreamsRecordsFromKafka(t *testing.T) {
	testLiveStreams(t, startKafkaCollector)
}

// startKafkaBroker starts a broker with the topics (NAME:PARTITIONS) and returns its bootstrap address; the broker
// stops with the test (and with this process: it also stops when its stdin closes).
func startKafkaBroker(t *testing.T, topics ...string) string {
	t.Helper()
	root := repoRoot(t)
	cmd := exec.Command("node", append([]string{"--require", "tsx/cjs", filepath.Join(root, "test", "support", "kafka-broker.ts")}, topics...)...)
	cmd.Dir = root
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	stderr := &lockedLog{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close() }) // runs after the stop below (cleanups run last-registered first)
	stopAtCleanup(t, cmd, syscall.SIGTERM, 40*time.Second)
	ready := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stdout)
		for scanner.Scan() {
			if bootstrap, found := strings.CutPrefix(scanner.Text(), "kafka bootstrap="); found {
				ready <- bootstrap
			}
		}
		close(ready)
	}()
	select {
	case bootstrap, ok := <-ready:
		if !ok {
			t.Fatalf("the Kafka broker did not start:\n%s", stderr.String())
		}
		return bootstrap
	case <-time.After(180 * time.Second):
		t.Fatalf("the Kafka broker did not start within 180 s:\n%s", stderr.String())
	}
	return ""
}

// startKafkaCollector runs a broker with the topic `predictions.live`, a collector consuming it into the data
// directory, and returns an ingestFunc that produces the records there (one message per record).
func startKafkaCollector(t *testing.T, dataDir string) ingestFunc {
	t.Helper()
	bootstrap := startKafkaBroker(t, "predictions.live:2")
	log := startMlmon(t, []string{"serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--kafka-brokers", bootstrap, "--kafka-topic", "predictions.live=live"}, nil, 20*time.Second)
	consuming := regexp.MustCompile(`consuming Kafka topics predictions\.live`)
	for deadline := time.Now().Add(60 * time.Second); !consuming.MatchString(log.String()); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the collector did not start consuming:\n%s", log.String())
		}
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	return func(t *testing.T, model string, records []map[string]any) {
		t.Helper()
		messages := make([]*kgo.Record, 0, len(records))
		for _, record := range records {
			value, _ := json.Marshal(record)
			messages = append(messages, &kgo.Record{Topic: "predictions." + model, Key: []byte(record["id"].(string)), Value: value})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := client.ProduceSync(ctx, messages...).FirstErr(); err != nil {
			t.Fatalf("producing %d records to Kafka: %v\ncollector:\n%s", len(records), err, log.String())
		}
	}
}
