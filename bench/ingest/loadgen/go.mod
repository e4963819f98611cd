module github.com/mlmon/modelmonitor/bench/ingest/loadgen

go 1.26
