#!/usr/bin/env bash
# Fetches the Apache Kafka broker the tests and benchmarks run (jars from Maven Central, run with the machine's
# Java 17) into $MLMON_KAFKA_LIBS (default ~/.cache/mlmon-kafka-4.4.0/libs). Idempotent: does nothing when present.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' test/support/kafka/pom.xml)
libs="${MLMON_KAFKA_LIBS:-$HOME/.cache/mlmon-kafka-$version/libs}"
if compgen -G "$libs/kafka_2.13-$version.jar" >/dev/null; then
  echo "Kafka $version already in $libs"
  exit 0
fi
mkdir -p "$libs.partial"
mvn -q -B -f test/support/kafka/pom.xml dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$(cd "$libs.partial" && pwd)"
rm -rf "$libs" && mv "$libs.partial" "$libs"
echo "Kafka $version in $libs ($(ls "$libs" | wc -l) jars)"
