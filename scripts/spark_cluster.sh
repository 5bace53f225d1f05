#!/usr/bin/env bash
# A Spark standalone cluster on loopback: one master and two workers, from the Spark that pyspark ships.
#
#   scripts/spark_cluster.sh start   # prints the master URL (spark://127.0.0.1:PORT) on stdout
#   scripts/spark_cluster.sh stop    # stops the processes this script started, and only those
#
# State (pids, logs, the master URL, work dirs) lives in $SPARK_CLUSTER_DIR (default /tmp/lakehouse-spark-cluster).
# PYTHON (default .venv/bin/python, else python3) finds SPARK_HOME and is the executors' Python.
# WORKER_MEMORY (default 1g) and WORKER_CORES (default 1) size each worker.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
state="${SPARK_CLUSTER_DIR:-/tmp/lakehouse-spark-cluster}"
python="${PYTHON:-}"
if [[ -z "$python" ]]; then
  if [[ -x "$here/.venv/bin/python" ]]; then python="$here/.venv/bin/python"; else python="$(command -v python3)"; fi
fi

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION PYTHON-CONDITION
  local deadline=$((SECONDS + $1))
  until "$python" -c "$3" 2>/dev/null; do
    if (( SECONDS > deadline )); then
      echo "spark_cluster: timed out waiting for $2; logs in $state/logs" >&2
      return 1
    fi
    sleep 0.5
  done
}

start() {
  if alive "$state/master.pid"; then
    echo "spark_cluster: already running ($(cat "$state/master.url")); stop it first" >&2
    exit 1
  fi
  export SPARK_HOME
  SPARK_HOME="$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
  export SPARK_LOCAL_IP=127.0.0.1 SPARK_MASTER_HOST=127.0.0.1
  export SPARK_DAEMON_MEMORY="${SPARK_DAEMON_MEMORY:-256m}"
  export PYSPARK_PYTHON="$python"
  export SPARK_LOG_DIR="$state/logs"
  mkdir -p "$state/logs" "$state/work"
  local port ui
  port="$(free_port)"; ui="$(free_port)"
  local url="spark://127.0.0.1:$port"

  # spark-class execs java, so $! is the JVM's pid.
  setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$port" --webui-port "$ui" >"$state/logs/master.log" 2>&1 </dev/null &
  echo $! >"$state/master.pid"
  echo "$url" >"$state/master.url"
  echo "http://127.0.0.1:$ui" >"$state/master.ui"
  wait_for 60 "the master on port $port" \
    "import socket; socket.create_connection(('127.0.0.1', $port), 1).close()"

  for i in 1 2; do
    setsid "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
      --host 127.0.0.1 --port "$(free_port)" --webui-port "$(free_port)" \
      --cores "${WORKER_CORES:-1}" --memory "${WORKER_MEMORY:-1g}" --work-dir "$state/work/worker$i" \
      "$url" >"$state/logs/worker$i.log" 2>&1 </dev/null &
    echo $! >"$state/worker$i.pid"
  done
  wait_for 90 "two workers to register" \
    "import json, urllib.request; d = json.load(urllib.request.urlopen('http://127.0.0.1:$ui/json/', timeout=2)); \
assert len([w for w in d['workers'] if w['state'] == 'ALIVE']) >= 2"
  echo "$url"
}

stop() {
  local stopped=0
  for name in worker1 worker2 master; do
    local pidfile="$state/$name.pid"
    if alive "$pidfile"; then
      local pid; pid="$(cat "$pidfile")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
      stopped=$((stopped + 1))
    fi
    rm -f "$pidfile"
  done
  rm -f "$state/master.url" "$state/master.ui"
  echo "spark_cluster: stopped $stopped process(es)" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
