#!/usr/bin/env bash
# Throw-away servers on loopback for the multi-machine tests (and for trying the
# team set-up by hand): PostgreSQL, an S3 endpoint (moto's server mode), an MLflow
# tracking server (PostgreSQL backend store, artifacts proxied to S3), and a
# one-node Slurm cluster (munge, slurmctld, slurmd).
#
#   .ci/services.sh start [pg] [s3] [mlflow] [slurm]   start them (default: all)
#   eval "$(.ci/services.sh env)"                      export what the tests read
#   .ci/services.sh status                             what is running
#   .ci/services.sh stop                               stop them, delete their state
#
# State (data, logs, pids, the env file) lives in $QML_OPS_SERVICES_DIR
# (default /tmp/qml-ops-services). Ports: QML_OPS_CI_PG_PORT (55432),
# QML_OPS_CI_S3_PORT (55433), QML_OPS_CI_MLFLOW_PORT (55434), QML_OPS_CI_SLURM_PORT
# (56817; slurmd uses the next one). PostgreSQL and Slurm are installed with
# apt-get when missing; Slurm needs root (its daemons run as root here).
# Exported for the tests:
#   QML_OPS_TEST_PG_URL           admin URL (trust auth, no password)
#   QML_OPS_TEST_PG_PASSWORD_URL  a role that must give its (random) password
#   QML_OPS_TEST_S3_ENDPOINT      the moto S3 endpoint (any access key works)
#   QML_OPS_TEST_MLFLOW_URL       the MLflow tracking server
#   QML_OPS_TEST_MLFLOW_BUCKET    the bucket its artifacts go to
#   QML_OPS_TEST_SLURM=1, SLURM_CONF
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${QML_OPS_SERVICES_DIR:-/tmp/qml-ops-services}"
VENV="${QML_OPS_SERVICES_VENV:-$REPO/.venv}"
PG_PORT="${QML_OPS_CI_PG_PORT:-55432}"
S3_PORT="${QML_OPS_CI_S3_PORT:-55433}"
MLFLOW_PORT="${QML_OPS_CI_MLFLOW_PORT:-55434}"
SLURM_PORT="${QML_OPS_CI_SLURM_PORT:-56817}"
MLFLOW_BUCKET=qml-ops-mlflow
PG_ROLE=qmlops                # the password-protected role (MLflow's backend store uses it)
S3_KEY=qml-ops-test           # moto accepts any key; these stay in the servers' environment
ENV_FILE="$STATE/env"

say() { echo ">> $*"; }
die() { echo "services: $*" >&2; exit 1; }
is_root() { [ "$(id -u)" = 0 ]; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {  # wait_for SECONDS WHAT COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "$what did not come up (see $STATE/*.log)"
    sleep 0.5
  done
}
add_env() { echo "export $1=$(printf %q "$2")" >>"$ENV_FILE"; }
apt_install() {
  is_root || die "$* not installed (and not root to apt-get it)"
  say "installing $* (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- PostgreSQL -------------------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
as_pg() { if is_root; then runuser -u postgres -- "$@"; else "$@"; fi; }
psql_admin() { as_pg "$(pg_bin)/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"; }

start_pg() {
  [ -n "$(pg_bin)" ] || apt_install postgresql
  port_busy "$PG_PORT" && die "port $PG_PORT is in use (set QML_OPS_CI_PG_PORT)"
  local bin; bin="$(pg_bin)"
  mkdir -p "$STATE/pg" && chmod 755 "$STATE"
  is_root && chown postgres "$STATE/pg"
  as_pg "$bin/initdb" -D "$STATE/pg/data" -U postgres --auth=trust >/dev/null
  # the test role must give its password over TCP (scram); everyone else is trusted
  { echo "host all $PG_ROLE 127.0.0.1/32 scram-sha-256"; cat "$STATE/pg/data/pg_hba.conf"; } >"$STATE/pg/hba"
  as_pg cp "$STATE/pg/hba" "$STATE/pg/data/pg_hba.conf"
  as_pg "$bin/pg_ctl" -D "$STATE/pg/data" -l "$STATE/pg/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $STATE/pg -c max_connections=300 -c fsync=off" start >/dev/null
  local password; password="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  echo "$password" >"$STATE/pg/password" && chmod 600 "$STATE/pg/password"
  psql_admin -c "CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$password'"
  add_env QML_OPS_TEST_PG_URL "postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/postgres"
  add_env QML_OPS_TEST_PG_PASSWORD_URL "postgresql+psycopg2://$PG_ROLE:$password@127.0.0.1:$PG_PORT/postgres"
  say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}

stop_pg() {
  [ -d "$STATE/pg/data" ] || return 0
  as_pg "$(pg_bin)/pg_ctl" -D "$STATE/pg/data" -m immediate stop >/dev/null 2>&1 || true
}

# --- S3 (moto server) ---------------------------------------------------------
start_s3() {
  [ -x "$VENV/bin/moto_server" ] || die "$VENV/bin/moto_server missing: run 'make env' (moto[server] is a test extra)"
  port_busy "$S3_PORT" && die "port $S3_PORT is in use (set QML_OPS_CI_S3_PORT)"
  setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$STATE/s3.log" 2>&1 < /dev/null &
  echo $! >"$STATE/s3.pid"
  wait_for 60 "moto S3 server" curl -sf "http://127.0.0.1:$S3_PORT/moto-api/"
  add_env QML_OPS_TEST_S3_ENDPOINT "http://127.0.0.1:$S3_PORT"
  say "S3 (moto) on http://127.0.0.1:$S3_PORT"
}

# --- MLflow tracking server ---------------------------------------------------
start_mlflow() {
  [ -f "$STATE/pg/password" ] || die "mlflow needs pg (start pg first)"
  [ -f "$STATE/s3.pid" ] || die "mlflow needs s3 (start s3 first)"
  port_busy "$MLFLOW_PORT" && die "port $MLFLOW_PORT is in use (set QML_OPS_CI_MLFLOW_PORT)"
  psql_admin -c "CREATE DATABASE mlflow OWNER $PG_ROLE"
  AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_KEY AWS_DEFAULT_REGION=us-east-1 \
    "$VENV/bin/python" - "http://127.0.0.1:$S3_PORT" "$MLFLOW_BUCKET" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])
PY
  # Credentials only in the server's environment: libpq reads PGPASSWORD, boto3 the AWS_* keys.
  env PGPASSWORD="$(cat "$STATE/pg/password")" \
    MLFLOW_BACKEND_STORE_URI="postgresql+psycopg2://$PG_ROLE@127.0.0.1:$PG_PORT/mlflow" \
    MLFLOW_ARTIFACTS_DESTINATION="s3://$MLFLOW_BUCKET/artifacts" \
    MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$S3_PORT" \
    AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_KEY AWS_DEFAULT_REGION=us-east-1 \
    MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true \
    setsid "$VENV/bin/mlflow" server --host 127.0.0.1 --port "$MLFLOW_PORT" --workers 2 \
    >"$STATE/mlflow.log" 2>&1 < /dev/null &
  echo $! >"$STATE/mlflow.pid"
  wait_for 180 "MLflow server" curl -sf "http://127.0.0.1:$MLFLOW_PORT/health"
  add_env QML_OPS_TEST_MLFLOW_URL "http://127.0.0.1:$MLFLOW_PORT"
  add_env QML_OPS_TEST_MLFLOW_BUCKET "$MLFLOW_BUCKET"
  say "MLflow server on http://127.0.0.1:$MLFLOW_PORT (backend: PostgreSQL database mlflow; artifacts: s3://$MLFLOW_BUCKET/artifacts)"
}

# --- Slurm (one node: this machine) -------------------------------------------
slurm_conf() { echo "$STATE/slurm/slurm.conf"; }

start_slurm() {
  is_root || die "the one-node Slurm runs its daemons as root: run as root, or use your cluster"
  command -v slurmctld >/dev/null && command -v munged >/dev/null || apt_install slurm-wlm munge
  port_busy "$SLURM_PORT" && die "port $SLURM_PORT is in use (set QML_OPS_CI_SLURM_PORT)"
  local munge="$STATE/munge" slurm="$STATE/slurm" node; node="$(hostname -s)"
  # munged insists on its own, non-writable-by-others folders; the key stays private
  mkdir -p "$munge/private" "$slurm/state" "$slurm/spool" "$slurm/log"
  chown -R munge:munge "$munge" && chmod 755 "$munge" && chmod 700 "$munge/private"
  runuser -u munge -- mungekey -c -k "$munge/private/munge.key"
  runuser -u munge -- munged --key-file="$munge/private/munge.key" --socket="$munge/munge.socket" \
    --pid-file="$munge/munged.pid" --log-file="$munge/munged.log" --seed-file="$munge/private/munged.seed"
  cat >"$(slurm_conf)" <<EOF
# one-node Slurm for the qml-ops tests (written by .ci/services.sh)
ClusterName=qmlops
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$SLURM_PORT
SlurmdPort=$((SLURM_PORT + 1))
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$munge/munge.socket
StateSaveLocation=$slurm/state
SlurmdSpoolDir=$slurm/spool
SlurmctldPidFile=$slurm/slurmctld.pid
SlurmdPidFile=$slurm/slurmd.pid
SlurmctldLogFile=$slurm/log/slurmctld.log
SlurmdLogFile=$slurm/log/slurmd.log
# no cgroups: plain process tracking, no task binding
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
# finished jobs stay visible to scontrol for 10 minutes (there is no accounting database)
MinJobAge=600
NodeName=$node NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF; SLURM_CONF="$(slurm_conf)"
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  wait_for 60 "Slurm (node idle in sinfo)" bash -c "sinfo -h -o %T | grep -qx idle"
  add_env QML_OPS_TEST_SLURM 1
  add_env SLURM_CONF "$SLURM_CONF"
  say "Slurm $(sinfo -V | awk '{print $2}'): node $node idle (SLURM_CONF=$SLURM_CONF)"
}

stop_slurm() {
  [ -f "$(slurm_conf)" ] || return 0
  export SLURM_CONF; SLURM_CONF="$(slurm_conf)"
  scancel --user "$(id -un)" >/dev/null 2>&1 || true
  scontrol shutdown >/dev/null 2>&1 || true
  local pid_file pid
  for pid_file in "$STATE/slurm/slurmd.pid" "$STATE/slurm/slurmctld.pid"; do
    pid="$(cat "$pid_file" 2>/dev/null || true)"
    for _ in $(seq 20); do { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || break; sleep 0.5; done
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  runuser -u munge -- munged -s --socket="$STATE/munge/munge.socket" >/dev/null 2>&1 || true
}

stop_pid() {  # a process this script started (its pid file), and its process group
  local pid; pid="$(cat "$STATE/$1.pid" 2>/dev/null || true)"
  [ -n "$pid" ] || return 0
  kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 -- "-$pid" 2>/dev/null || true
}

# --- commands ------------------------------------------------------------------
cmd_start() {
  local wanted=("$@")
  [ ${#wanted[@]} -gt 0 ] || wanted=(pg s3 mlflow slurm)
  [ ! -e "$ENV_FILE" ] || die "already started ($ENV_FILE exists): '$0 stop' first"
  mkdir -p "$STATE" && : >"$ENV_FILE" && chmod 600 "$ENV_FILE"
  local name
  for name in "${wanted[@]}"; do
    case "$name" in
      pg|s3|mlflow|slurm) "start_$name" ;;
      *) die "unknown service '$name' (pg, s3, mlflow, slurm)" ;;
    esac
  done
}

cmd_stop() {
  stop_slurm
  stop_pid mlflow
  stop_pid s3
  stop_pg
  rm -rf "$STATE"
}

cmd_status() {
  [ -f "$ENV_FILE" ] || { echo "not started"; return 0; }
  # shellcheck disable=SC1090
  source "$ENV_FILE"
  [ -z "${QML_OPS_TEST_PG_URL:-}" ] || { port_busy "$PG_PORT" && echo "pg: up ($PG_PORT)" || echo "pg: DOWN"; }
  [ -z "${QML_OPS_TEST_S3_ENDPOINT:-}" ] || { curl -sf "$QML_OPS_TEST_S3_ENDPOINT/moto-api/" >/dev/null && echo "s3: up ($QML_OPS_TEST_S3_ENDPOINT)" || echo "s3: DOWN"; }
  [ -z "${QML_OPS_TEST_MLFLOW_URL:-}" ] || { curl -sf "$QML_OPS_TEST_MLFLOW_URL/health" >/dev/null && echo "mlflow: up ($QML_OPS_TEST_MLFLOW_URL)" || echo "mlflow: DOWN"; }
  [ -z "${QML_OPS_TEST_SLURM:-}" ] || echo "slurm: $(sinfo -h -o '%n %T' 2>/dev/null || echo DOWN)"
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) cmd_stop ;;
  env) [ -f "$ENV_FILE" ] && cat "$ENV_FILE" || die "not started: '$0 start' first" ;;
  status) cmd_status ;;
  *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
