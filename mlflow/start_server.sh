#!/usr/bin/env bash
# Start a local MLflow tracking server on 127.0.0.1 with a database backend and an artifact store.
#
#   mlflow/start_server.sh [DIR] [PORT]          # DIR default ./mlflow-server, PORT default 5000
#   MLFLOW_BACKEND_STORE_URI=postgresql://mlflow:secret@127.0.0.1:5432/mlflow mlflow/start_server.sh
#   mlflow/stop_server.sh [DIR]
#
# DIR receives mlflow.db (SQLite backend unless MLFLOW_BACKEND_STORE_URI is set), artifacts/,
# server.log and server.pid. The server runs in its own session (setsid): its PID is also its
# process group, so `kill -TERM -- -PID` stops it and its workers.
set -euo pipefail

DIR="${1:-${MLFLOW_SERVER_DIR:-$PWD/mlflow-server}}"
PORT="${2:-${MLFLOW_PORT:-5000}}"
WAIT="${MLFLOW_SERVER_WAIT:-90}"
MLFLOW_BIN="${MLFLOW_BIN:-mlflow}"

mkdir -p "$DIR/artifacts"
DIR="$(cd "$DIR" && pwd)"
BACKEND="${MLFLOW_BACKEND_STORE_URI:-sqlite:///$DIR/mlflow.db}"
PIDFILE="$DIR/server.pid"
LOG="$DIR/server.log"

if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "an MLflow server already runs from $DIR (pid $(cat "$PIDFILE")); stop it with mlflow/stop_server.sh $DIR" >&2
    exit 1
fi

# Job execution (a background job runner) and extra workers only slow the start on a small box.
MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$MLFLOW_BIN" server \
    --backend-store-uri "$BACKEND" \
    --artifacts-destination "$DIR/artifacts" \
    --host 127.0.0.1 --port "$PORT" --workers 1 \
    >"$LOG" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PIDFILE"

for _ in $(seq 1 "$WAIT"); do
    if curl -fsS --max-time 2 "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
        if [[ "$BACKEND" == sqlite:///* && "${MLFLOW_SQLITE_WAL:-1}" == 1 ]]; then
            # Write-ahead log: about half the cost per commit, and readers do not block writers.
            "${PYTHON:-python3}" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1], timeout=20).execute("PRAGMA journal_mode=WAL")' \
                "${BACKEND#sqlite:///}" || echo "could not switch $BACKEND to WAL mode (continuing)" >&2
        fi
        echo "MLflow server ready: http://127.0.0.1:$PORT (pid $PID, backend ${BACKEND%%://*}, log $LOG)"
        exit 0
    fi
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "the MLflow server exited during start; last lines of $LOG:" >&2
        tail -n 20 "$LOG" >&2
        exit 1
    fi
    sleep 1
done
echo "the MLflow server did not answer on port $PORT within ${WAIT}s; see $LOG (pid $PID left running)" >&2
exit 1
