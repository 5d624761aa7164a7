#!/usr/bin/env bash
# The at-scale servers for development and the test suite, without Docker.
#
#   scripts/servers.sh fetch    download (cached in ~/.m2; a second fetch downloads nothing)
#   scripts/servers.sh start    (fetch if needed,) start what is not running yet, wait until healthy
#   scripts/servers.sh stop     stop only what this script started (pid files)
#   scripts/servers.sh status   what runs, who started it, is it healthy
#   scripts/servers.sh env      `eval "$(scripts/servers.sh env)"` before running the tests
#
# Versions (keep in step with scripts/servers/pom.xml):
#   Apache Kafka     3.9.2   org.apache.kafka:kafka_2.13, one KRaft broker+controller,
#                            127.0.0.1:9092 (controller 9093), auto.create.topics.enable=false
#   Elasticsearch    8.19.21 org.elasticsearch.distribution.integ-test-zip:elasticsearch (zip);
#                            runs on the system Java 17 (8.x needs 17+), single node on
#                            127.0.0.1:9200, security off. The integ-test zip holds only the
#                            core server plus x-pack-core/security: no analysis-common, no
#                            GET / (use /_cluster/health), no ingest-geoip.
#   PostgreSQL       Debian's package (15 on Debian 12), apt-get install postgresql if no
#                            pg_ctl; a private initdb cluster on 127.0.0.1:5432 (5433 if 5432
#                            is taken), database `yuqing`.
#
# Everything lives under .servers/ (git-ignored): downloads, data, logs, pid files.
# Elasticsearch and PostgreSQL refuse to run as root, so every server runs as an
# unprivileged user ($YUQING_SERVERS_USER, default `yuqing`, created if missing).
#
# PostgreSQL credentials: $YUQING_PG_USER (default yuqing) and $YUQING_PG_PASSWORD; without
# the latter a dev password is generated at first start and kept in .servers/pg/password
# (mode 600). Nothing secret is committed. `env` prints the URL with that password, for eval.
#
# Other knobs: YUQING_SERVERS_DIR (default <repo>/.servers, or /var/tmp/yuqing-servers-*
# when the unprivileged user cannot pass through the repo's parents), YUQING_SERVERS_TIMEOUT (seconds
# to wait for each server, default 120), KAFKA_HEAP (default 512m), ES_HEAP (default 768m).
set -euo pipefail

KAFKA_VERSION=3.9.2
ES_VERSION=8.19.21

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POM="$ROOT/scripts/servers/pom.xml"
RUN_USER="${YUQING_SERVERS_USER:-yuqing}"
TIMEOUT="${YUQING_SERVERS_TIMEOUT:-120}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
ES_HEAP="${ES_HEAP:-768m}"
KAFKA_PORT=9092
KAFKA_CONTROLLER_PORT=9093
ES_PORT=9200
PG_DB=yuqing
PG_USER="${YUQING_PG_USER:-yuqing}"

world_searchable() {  # every directory from $1 up to / lets others pass through
    local d="$1"
    while [[ "$d" != "/" ]]; do
        [[ $(( 8#$(stat -c %a "$d") & 1 )) -eq 1 ]] || return 1
        d="$(dirname "$d")"
    done
}

if [[ -n "${YUQING_SERVERS_DIR:-}" ]]; then
    SERVERS="$YUQING_SERVERS_DIR"
elif world_searchable "$ROOT"; then
    SERVERS="$ROOT/.servers"
else
    # e.g. a clone under /root: the unprivileged user could not reach .servers there
    SERVERS="/var/tmp/yuqing-servers-$(printf '%s' "$ROOT" | md5sum | cut -c1-8)"
fi
KAFKA_HOME="$SERVERS/kafka"
ES_HOME="$SERVERS/elasticsearch-$ES_VERSION"
ES_BASE="$SERVERS/es"          # config, data, logs, tmp, pid (owned by RUN_USER)
PG_BASE="$SERVERS/pg"          # data, socket, log, port, password (owned by RUN_USER)
RUN="$SERVERS/run"             # pid files of the servers this script started

log() { printf '%s\n' "servers: $*" >&2; }
die() { printf '%s\n' "servers: error: $*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }

our_pid() {  # our_pid NAME -> prints the pid if this script started NAME and it still runs
    local f="$RUN/$1.pid" pid
    [[ -f "$f" ]] || return 1
    pid="$(head -n1 "$f" 2>/dev/null || true)"
    if pid_alive "$pid"; then printf '%s\n' "$pid"; return 0; fi
    rm -f "$f"
    return 1
}

# Run a command as RUN_USER (root switches with setpriv, which execs: pids stay the server's).
if [[ $EUID -eq 0 ]]; then
    AS_USER=(setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --init-groups --reset-env --)
else
    AS_USER=()
fi
as_user() { "${AS_USER[@]}" "$@"; }

java_home() {
    local java
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then printf '%s\n' "$JAVA_HOME"; return; fi
    java="$(command -v java)" || die "java not found (Java 17+ is needed)"
    java="$(readlink -f "$java")"
    dirname "$(dirname "$java")"
}

check_java() {
    local v
    v="$("$(java_home)/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
    [[ -n "$v" && "$v" -ge 17 ]] || die "Java 17+ is needed (found: ${v:-none})"
}

pg_bindir() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/pg_ctl" ]] && { printf '%s\n' "$d"; return 0; }
    done
    if command -v pg_ctl >/dev/null; then dirname "$(readlink -f "$(command -v pg_ctl)")"; return 0; fi
    return 1
}

tail_log() {  # tail_log FILE: the last lines of a log, for an error message
    if [[ -f "$1" ]]; then
        printf '%s\n' "---- last lines of $1 ----" >&2
        tail -n 40 "$1" >&2
        printf '%s\n' "----" >&2
    fi
}

# ---------------------------------------------------------------------------- fetch

fetched() {
    [[ -f "$KAFKA_HOME/libs/kafka_2.13-$KAFKA_VERSION.jar" && -f "$KAFKA_HOME/.fetched-$KAFKA_VERSION" \
       && -x "$ES_HOME/bin/elasticsearch" ]]
}

unzip_to() {  # unzip_to ZIP DIR (unzip keeps the execute bits; the fallback restores them)
    if command -v unzip >/dev/null; then
        unzip -q -o "$1" -d "$2"
    else
        python3 -m zipfile -e "$1" "$2"
        chmod -R a+rX "$2"
        find "$2" -path '*/bin/*' -type f -exec chmod a+x {} +
        find "$2" -path '*/platform/*' -name '*.so' -exec chmod a+x {} +
    fi
}

cmd_fetch() {
    local started=$SECONDS
    if fetched && pg_bindir >/dev/null; then
        log "already fetched: Kafka $KAFKA_VERSION, Elasticsearch $ES_VERSION, PostgreSQL $(basename "$(dirname "$(pg_bindir)")")"
        return 0
    fi
    mkdir -p "$SERVERS" "$RUN"
    if ! fetched; then
        command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
        check_java
        # Stale jars of another Kafka version must not end up on the class path.
        if [[ -d "$KAFKA_HOME/libs" && ! -f "$KAFKA_HOME/.fetched-$KAFKA_VERSION" ]]; then
            rm -rf "$KAFKA_HOME/libs"
        fi
        log "downloading Kafka $KAFKA_VERSION and Elasticsearch $ES_VERSION with Maven (cached in ~/.m2)"
        mvn -q -B -ntp -Dstyle.color=never -f "$POM" -Dservers.dir="$SERVERS" \
            -Dkafka.version="$KAFKA_VERSION" -Delasticsearch.version="$ES_VERSION" package \
            >"$SERVERS/fetch.log" 2>&1 \
            || { tail_log "$SERVERS/fetch.log"; die "mvn could not fetch the servers"; }
        touch "$KAFKA_HOME/.fetched-$KAFKA_VERSION"
        if [[ ! -x "$ES_HOME/bin/elasticsearch" ]]; then
            rm -rf "$ES_HOME.partial"
            mkdir -p "$ES_HOME.partial"
            unzip_to "$SERVERS/downloads/elasticsearch-$ES_VERSION.zip" "$ES_HOME.partial"
            mv "$ES_HOME.partial/elasticsearch-$ES_VERSION" "$ES_HOME"
            rmdir "$ES_HOME.partial"
        fi
        rm -f "$SERVERS/downloads/elasticsearch-$ES_VERSION.zip"  # it stays in ~/.m2
    fi
    if ! pg_bindir >/dev/null; then
        log "installing PostgreSQL from Debian's packages"
        command -v apt-get >/dev/null || die "no pg_ctl and no apt-get: install PostgreSQL by hand"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq || die "apt-get update failed"
        apt-get install -y -qq --no-install-recommends postgresql >/dev/null \
            || die "apt-get install postgresql failed"
        pg_bindir >/dev/null || die "PostgreSQL installed but no pg_ctl under /usr/lib/postgresql/*/bin"
    fi
    log "fetched in $((SECONDS - started))s"
}

# ---------------------------------------------------------------------------- start

ensure_user() {
    if ! id -u "$RUN_USER" >/dev/null 2>&1; then
        [[ $EUID -eq 0 ]] || die "user $RUN_USER does not exist and only root can create it"
        log "creating the unprivileged user $RUN_USER"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$RUN_USER"
    fi
    [[ $EUID -eq 0 ]] || [[ "$(id -un)" == "$RUN_USER" ]] \
        || die "run as root (to switch to $RUN_USER) or as $RUN_USER"
    if ! as_user test -x "$SERVERS" 2>/dev/null; then
        die "user $RUN_USER cannot reach $SERVERS (a parent directory is not searchable by others);" \
            "set YUQING_SERVERS_DIR to a directory it can reach, e.g. /var/tmp/yuqing-servers"
    fi
}

own() { chown -R "$RUN_USER:$RUN_USER" "$@"; }

wait_for() {  # wait_for NAME LOG PID CHECK...: poll CHECK until it succeeds, the pid dies or time is up
    local name="$1" logfile="$2" pid="$3"; shift 3
    local deadline=$((SECONDS + TIMEOUT))
    until "$@"; do
        if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
            tail_log "$logfile"
            die "$name exited during start-up (log: $logfile)"
        fi
        if (( SECONDS >= deadline )); then
            tail_log "$logfile"
            die "$name not healthy after ${TIMEOUT}s (log: $logfile)"
        fi
        sleep 1
    done
}

kafka_healthy() {
    port_open "$KAFKA_PORT" && grep -q "Kafka Server started" "$KAFKA_HOME/logs/server.log" 2>/dev/null
}

start_kafka() {
    local pid cluster_id java
    if pid="$(our_pid kafka)"; then log "kafka: already running (pid $pid)"; return 0; fi
    if port_open "$KAFKA_PORT"; then log "kafka: something else listens on $KAFKA_PORT; using it"; return 0; fi
    port_open "$KAFKA_CONTROLLER_PORT" && die "kafka: port $KAFKA_CONTROLLER_PORT (controller) is taken"
    java="$(java_home)/bin/java"
    mkdir -p "$KAFKA_HOME/config" "$KAFKA_HOME/data" "$KAFKA_HOME/logs"
    cat >"$KAFKA_HOME/config/server.properties" <<EOF
# written by scripts/servers.sh
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_HOME/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=67108864
EOF
    cat >"$KAFKA_HOME/config/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=$KAFKA_HOME/logs/server.log
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=3
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
log4j.logger.state.change.logger=WARN
EOF
    own "$KAFKA_HOME/config" "$KAFKA_HOME/data" "$KAFKA_HOME/logs"
    local cp="$KAFKA_HOME/libs/*"
    local opts=(-Xms256m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true
                "-Dlog4j.configuration=file:$KAFKA_HOME/config/log4j.properties"
                "-Dkafka.logs.dir=$KAFKA_HOME/logs")
    if [[ ! -f "$KAFKA_HOME/data/meta.properties" ]]; then
        if [[ ! -f "$KAFKA_HOME/cluster.id" ]]; then
            "$java" -cp "$cp" "${opts[@]}" kafka.tools.StorageTool random-uuid >"$KAFKA_HOME/cluster.id.tmp" \
                || die "kafka: could not generate a cluster id"
            mv "$KAFKA_HOME/cluster.id.tmp" "$KAFKA_HOME/cluster.id"
        fi
        cluster_id="$(tr -d '[:space:]' <"$KAFKA_HOME/cluster.id")"
        log "kafka: formatting the KRaft storage (cluster id $cluster_id)"
        as_user "$java" -cp "$cp" "${opts[@]}" kafka.tools.StorageTool format --ignore-formatted \
            -t "$cluster_id" -c "$KAFKA_HOME/config/server.properties" >"$KAFKA_HOME/logs/format.out" 2>&1 \
            || { tail_log "$KAFKA_HOME/logs/format.out"; die "kafka: formatting the storage failed"; }
    fi
    : >"$KAFKA_HOME/logs/server.log"
    own "$KAFKA_HOME/logs"
    log "kafka: starting $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (KRaft, controller on $KAFKA_CONTROLLER_PORT)"
    rm -f "$RUN/kafka.pid"
    # In its own session (so it outlives this shell's process group); the pid written is
    # the JVM's, since bash execs setpriv which execs java.
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$RUN/kafka.pid" \
        "${AS_USER[@]}" \
        "$java" -cp "$cp" "${opts[@]}" kafka.Kafka "$KAFKA_HOME/config/server.properties" \
        >"$KAFKA_HOME/logs/kafka.out" 2>&1 </dev/null &
    for _ in 1 2 3 4 5 6 7 8 9 10; do [[ -s "$RUN/kafka.pid" ]] && break; sleep 0.2; done
    pid="$(cat "$RUN/kafka.pid" 2>/dev/null || true)"
    [[ -n "$pid" ]] || die "kafka: did not start"
    wait_for kafka "$KAFKA_HOME/logs/server.log" "$pid" kafka_healthy
    log "kafka: healthy (pid $pid)"
}

es_healthy() {  # cluster health yellow or green (curl if there is one, else bash's /dev/tcp)
    local path="/_cluster/health?wait_for_status=yellow&timeout=1s" head
    if command -v curl >/dev/null; then
        curl -fsS -m 5 "http://127.0.0.1:$ES_PORT$path" >/dev/null 2>&1
        return
    fi
    exec 3<>"/dev/tcp/127.0.0.1/$ES_PORT" 2>/dev/null || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
    IFS= read -r -t 5 head <&3 || true
    exec 3>&-
    [[ "$head" == "HTTP/1."?" 200"* ]]
}

start_es() {
    local pid
    if pid="$(our_pid elasticsearch)"; then log "elasticsearch: already running (pid $pid)"; return 0; fi
    if port_open "$ES_PORT"; then log "elasticsearch: something else listens on $ES_PORT; using it"; return 0; fi
    mkdir -p "$ES_BASE/config" "$ES_BASE/data" "$ES_BASE/logs" "$ES_BASE/tmp"
    if [[ ! -f "$ES_BASE/config/jvm.options" ]]; then
        cp -r "$ES_HOME/config/." "$ES_BASE/config/"
    fi
    mkdir -p "$ES_BASE/config/jvm.options.d"
    printf -- '-Xms%s\n-Xmx%s\n' "$ES_HEAP" "$ES_HEAP" >"$ES_BASE/config/jvm.options.d/heap.options"
    cat >"$ES_BASE/config/elasticsearch.yml" <<EOF
# written by scripts/servers.sh
cluster.name: yuqing-dev
node.name: yuqing-dev
discovery.type: single-node
network.host: 127.0.0.1
http.port: $ES_PORT
path.data: $ES_BASE/data
path.logs: $ES_BASE/logs
xpack.security.enabled: false
# A full-ish disk must not block the tests: watermarks as free space, not percentages.
cluster.routing.allocation.disk.watermark.low: 2gb
cluster.routing.allocation.disk.watermark.high: 1gb
cluster.routing.allocation.disk.watermark.flood_stage: 500mb
EOF
    own "$ES_BASE"
    rm -f "$ES_BASE/elasticsearch.pid"
    touch "$ES_BASE/logs/.starting"
    log "elasticsearch: starting $ES_VERSION on 127.0.0.1:$ES_PORT (heap $ES_HEAP)"
    if ! setsid -w "${AS_USER[@]}" \
            env ES_JAVA_HOME="$(java_home)" ES_PATH_CONF="$ES_BASE/config" ES_TMPDIR="$ES_BASE/tmp" \
            PATH=/usr/bin:/bin "$ES_HOME/bin/elasticsearch" -d -p "$ES_BASE/elasticsearch.pid" \
            >"$ES_BASE/logs/start.out" 2>&1 </dev/null; then
        tail_log "$ES_BASE/logs/start.out"
        # the server log only if this attempt got as far as writing to it
        [[ "$ES_BASE/logs/yuqing-dev.log" -nt "$ES_BASE/logs/.starting" ]] && tail_log "$ES_BASE/logs/yuqing-dev.log"
        die "elasticsearch: start failed"
    fi
    pid="$(cat "$ES_BASE/elasticsearch.pid" 2>/dev/null || true)"
    [[ -n "$pid" ]] || { tail_log "$ES_BASE/logs/start.out"; die "elasticsearch: no pid file"; }
    printf '%s\n' "$pid" >"$RUN/elasticsearch.pid"
    wait_for elasticsearch "$ES_BASE/logs/yuqing-dev.log" "$pid" es_healthy
    log "elasticsearch: healthy (pid $pid)"
}

pg_port() { cat "$PG_BASE/port" 2>/dev/null; }

pg_password() {
    if [[ -n "${YUQING_PG_PASSWORD:-}" ]]; then printf '%s\n' "$YUQING_PG_PASSWORD"; return; fi
    if [[ ! -f "$PG_BASE/password" ]]; then
        mkdir -p "$PG_BASE"
        (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$PG_BASE/password")
    fi
    cat "$PG_BASE/password"
}

pg_healthy() { "$(pg_bindir)/pg_isready" -q -h 127.0.0.1 -p "$(pg_port)" -d postgres; }

start_pg() {
    local bindir pid port pw
    bindir="$(pg_bindir)" || die "postgresql: no pg_ctl (run: scripts/servers.sh fetch)"
    mkdir -p "$PG_BASE/run"
    if [[ ! -f "$PG_BASE/port" ]]; then
        if port_open 5432; then port=5433; else port=5432; fi
        printf '%s\n' "$port" >"$PG_BASE/port"
    fi
    port="$(pg_port)"
    pw="$(pg_password)"
    own "$PG_BASE"
    chmod 700 "$PG_BASE/run"
    if pid="$(our_pid postgresql)"; then
        log "postgresql: already running (pid $pid)"
    elif port_open "$port"; then
        die "postgresql: port $port is taken by another server; remove $PG_BASE/port to pick another"
    else
        if [[ ! -f "$PG_BASE/data/PG_VERSION" ]]; then
            log "postgresql: initdb $PG_BASE/data"
            as_user "$bindir/initdb" -D "$PG_BASE/data" -U postgres -E UTF8 --locale=C.UTF-8 \
                --auth-local=trust --auth-host=scram-sha-256 >"$PG_BASE/initdb.log" 2>&1 \
                || { tail_log "$PG_BASE/initdb.log"; die "postgresql: initdb failed"; }
        fi
        log "postgresql: starting $(basename "$(dirname "$bindir")") on 127.0.0.1:$port"
        if ! setsid -w "${AS_USER[@]}" \
                "$bindir/pg_ctl" -D "$PG_BASE/data" -l "$PG_BASE/postgresql.log" -w -t "$TIMEOUT" \
                -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$PG_BASE/run'" \
                start >/dev/null; then
            tail_log "$PG_BASE/postgresql.log"
            die "postgresql: start failed"
        fi
        head -n1 "$PG_BASE/data/postmaster.pid" >"$RUN/postgresql.pid"
        wait_for postgresql "$PG_BASE/postgresql.log" "$(cat "$RUN/postgresql.pid")" pg_healthy
    fi
    # The role and the database; the password is set on every start (it may come from env).
    as_user "$bindir/psql" -q -X -v ON_ERROR_STOP=1 -h "$PG_BASE/run" -p "$port" -U postgres -d postgres \
        -v user="$PG_USER" -v pw="$pw" -v db="$PG_DB" >/dev/null <<'SQL' || die "postgresql: could not create the role and database"
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') AS need_role \gset
\if :need_role
CREATE ROLE :"user" LOGIN CREATEDB;
\endif
ALTER ROLE :"user" WITH LOGIN CREATEDB PASSWORD :'pw';
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') AS need_db \gset
\if :need_db
CREATE DATABASE :"db" OWNER :"user";
\endif
SQL
    log "postgresql: healthy (database $PG_DB, user $PG_USER)"
}

cmd_start() {
    local started=$SECONDS
    fetched && pg_bindir >/dev/null || cmd_fetch  # a no-op once fetched
    check_java
    mkdir -p "$RUN"
    ensure_user
    start_kafka
    start_es
    start_pg
    log "all healthy in $((SECONDS - started))s"
}

# ---------------------------------------------------------------------------- stop / status / env

stop_pid() {  # stop_pid NAME PID
    local name="$1" pid="$2" i
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 60; i++)); do
        pid_alive "$pid" || { log "$name: stopped"; return 0; }
        sleep 1
    done
    log "$name: still running after 60s, killing pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
    local pid
    if pid="$(our_pid postgresql)"; then
        as_user "$(pg_bindir)/pg_ctl" -D "$PG_BASE/data" -m fast -w -t 60 stop >/dev/null \
            || stop_pid postgresql "$pid"
        log "postgresql: stopped"
    else
        log "postgresql: not started by this script"
    fi
    rm -f "$RUN/postgresql.pid"
    if pid="$(our_pid elasticsearch)"; then stop_pid elasticsearch "$pid"; else log "elasticsearch: not started by this script"; fi
    rm -f "$RUN/elasticsearch.pid"
    if pid="$(our_pid kafka)"; then stop_pid kafka "$pid"; else log "kafka: not started by this script"; fi
    rm -f "$RUN/kafka.pid"
}

status_line() {  # status_line NAME PORT HEALTHCHECK
    local name="$1" port="$2" pid who health
    shift 2
    if pid="$(our_pid "$name")"; then who="started by this script, pid $pid"
    elif [[ -n "$port" ]] && port_open "$port"; then who="running, not started by this script"
    else printf '%-14s stopped\n' "$name"; return 1
    fi
    if "$@"; then health=healthy; else health=UNHEALTHY; fi
    printf '%-14s %s on 127.0.0.1:%s (%s)\n' "$name" "$health" "$port" "$who"
}

cmd_status() {
    local rc=0
    if fetched; then
        echo "fetched: Kafka $KAFKA_VERSION, Elasticsearch $ES_VERSION in $SERVERS"
    else
        echo "not fetched (run: scripts/servers.sh fetch)"
    fi
    status_line kafka "$KAFKA_PORT" kafka_healthy_any || rc=1
    status_line elasticsearch "$ES_PORT" es_healthy || rc=1
    status_line postgresql "$(pg_port || true)" pg_healthy || rc=1
    return $rc
}

kafka_healthy_any() { port_open "$KAFKA_PORT"; }

urlencode() {
    local LC_ALL=C s="$1" out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c="${s:i:1}"
        case "$c" in [A-Za-z0-9._~-]) out+="$c" ;; *) printf -v c '%%%02X' "'$c"; out+="$c" ;; esac
    done
    printf '%s' "$out"
}

cmd_env() {
    local port pw
    port="$(pg_port || echo 5432)"
    pw="$(urlencode "$(pg_password)")"
    printf 'export YUQING_KAFKA_BOOTSTRAP=%q\n' "127.0.0.1:$KAFKA_PORT"
    printf 'export YUQING_ELASTICSEARCH_URL=%q\n' "http://127.0.0.1:$ES_PORT"
    printf 'export YUQING_TEST_DATABASE_URL=%q\n' "postgresql+psycopg://$(urlencode "$PG_USER"):$pw@127.0.0.1:$port/$PG_DB"
}

case "${1:-}" in
    fetch) cmd_fetch ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *) echo "usage: $0 {fetch|start|stop|status|env}" >&2; exit 2 ;;
esac
