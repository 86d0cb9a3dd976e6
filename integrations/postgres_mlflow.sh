#!/usr/bin/env bash
# PostgreSQL + MLflow server on this machine, without Docker: one PostgreSQL with two databases
# (optuna: the search storage; mlflow: MLflow's backend store), and mlflow/start_server.sh on it.
#
#   integrations/postgres_mlflow.sh start [DIR] [MLFLOW_PORT]   # DIR default ./search-services
#   integrations/postgres_mlflow.sh stop [DIR]
#
# start prints the two URLs and writes them to DIR/env (source it: AUTOML_NAS_STORAGE,
# MLFLOW_TRACKING_URI). DIR/postgres holds the database (deleted by stop), DIR/mlflow the MLflow
# server's log, pid and artifacts (kept). As root, DIR must be reachable by the postgres user.
# Needs python3 (with mlflow and psycopg2-binary for the server: the project's .venv has them).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
COMMAND="${1:?usage: $0 start|stop [DIR] [MLFLOW_PORT]}"
DIR="${2:-$PWD/search-services}"
PORT="${3:-5000}"
PYTHON="${PYTHON:-python3}"

case "$COMMAND" in
start)
    mkdir -p "$DIR"
    DIR="$(cd "$DIR" && pwd)"
    STORAGE="$("$PYTHON" "$HERE/postgres/local_postgres.py" start --dir "$DIR/postgres" \
        --database optuna --extra-database mlflow)"
    # The MLflow server gets its URL without the password (start_server.sh puts the URL on its
    # command line, which every user sees in `ps`); libpq reads the password from PGPASSWORD.
    USERINFO="${STORAGE#*://}"; USERINFO="${USERINFO%%@*}"
    MLFLOW_URL="${STORAGE%%://*}://${USERINFO%%:*}@${STORAGE#*@}"
    if ! PGPASSWORD="${USERINFO#*:}" MLFLOW_BACKEND_STORE_URI="${MLFLOW_URL%/optuna}/mlflow" \
        "$HERE/../mlflow/start_server.sh" "$DIR/mlflow" "$PORT"; then
        "$HERE/../mlflow/stop_server.sh" "$DIR/mlflow" || true
        "$PYTHON" "$HERE/postgres/local_postgres.py" stop "$DIR/postgres"
        exit 1
    fi
    # DIR/env holds the password: mode 0600 from its creation (umask in a subshell, then chmod
    # for a file left by an earlier run), never readable by other users even for a moment.
    (
        umask 077
        printf 'export AUTOML_NAS_STORAGE=%q\nexport MLFLOW_TRACKING_URI=%q\n' \
            "$STORAGE" "http://127.0.0.1:$PORT" >"$DIR/env.tmp"
    )
    chmod 600 "$DIR/env.tmp"
    mv -f "$DIR/env.tmp" "$DIR/env"
    echo "Optuna storage: $STORAGE"
    echo "MLflow:         http://127.0.0.1:$PORT (backend: PostgreSQL database mlflow)"
    echo "source $DIR/env to use both; stop with: $0 stop $DIR"
    ;;
stop)
    "$HERE/../mlflow/stop_server.sh" "$DIR/mlflow" || true
    "$PYTHON" "$HERE/postgres/local_postgres.py" stop "$DIR/postgres"
    rm -f "$DIR/env"
    ;;
*)
    echo "usage: $0 start|stop [DIR] [MLFLOW_PORT]" >&2
    exit 2
    ;;
esac
