#!/usr/bin/env bash
# Stop the MLflow server started by mlflow/start_server.sh [DIR]: SIGTERM to its process group.
set -euo pipefail
DIR="${1:-${MLFLOW_SERVER_DIR:-$PWD/mlflow-server}}"
PIDFILE="$DIR/server.pid"
[[ -f "$PIDFILE" ]] || { echo "no $PIDFILE: nothing to stop" >&2; exit 1; }
PID="$(cat "$PIDFILE")"
if kill -TERM -- "-$PID" 2>/dev/null; then
    for _ in $(seq 1 20); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.5
    done
    echo "MLflow server $PID stopped"
else
    echo "MLflow server $PID was not running"
fi
rm -f "$PIDFILE"
