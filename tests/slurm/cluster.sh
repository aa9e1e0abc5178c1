#!/usr/bin/env bash
# Single-node throw-away SLURM cluster (Debian 12 / Slurm 22.05) for CI tests.
#
#   cluster.sh install            apt packages (idempotent; no-op if installed)
#   cluster.sh up     STATE_DIR   start munged, mariadbd, slurmdbd, slurmctld,
#                                 slurmd; wait until the node is idle and sacct
#                                 works; write STATE_DIR/env.sh and print it
#   cluster.sh down   STATE_DIR   stop everything `up` started (waits on PIDs)
#   cluster.sh status STATE_DIR   show daemons / sinfo / squeue (rc 0 iff all up)
#
# All state (configs, spool, logs, database, sockets, pid files) lives under
# STATE_DIR. The one thing outside it: `up` makes the symlink
# /etc/slurm/slurm.conf -> STATE_DIR/etc/slurm.conf (removed by `down`),
# because srun inside snakemake jobs cannot see SLURM_CONF (see
# link_etc_conf). `up` also prints SLURM_CONF and writes it to
# STATE_DIR/env.sh (. STATE_DIR/env.sh); both point at the same file.
# One cluster per machine at a time (fixed ports, the /etc symlink).
#
# Must run as root. Daemons run as root (munge/mysql would need to traverse
# STATE_DIR, which is often under a 0700 directory such as pytest's tmp dir).
#
# Environment knobs:
#   LINID_SLURM_PORT_BASE  (6817)  slurmctld=BASE, slurmd=+1, slurmdbd=+2,
#                                  mariadbd=+3 (all bound to 127.0.0.1 / local)
#   LINID_SLURM_TIMEOUT    (90)    seconds for each wait loop in `up`
#   LINID_SLURM_CLUSTER    (linid) ClusterName
#   LINID_SLURM_ACCOUNT    (linid) account added for the invoking user
#   LINID_SLURM_NO_ETC_LINK (unset) if set, do not create the /etc symlink
#   LINID_SLURM_KEEP_ON_FAILURE (unset) if set, a failed `up` leaves the
#                                  daemons running for debugging (default:
#                                  it dumps the logs and runs `down`)
set -euo pipefail

PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
PORT_BASE=${LINID_SLURM_PORT_BASE:-6817}
CTLD_PORT=$PORT_BASE
SLURMD_PORT=$((PORT_BASE + 1))
DBD_PORT=$((PORT_BASE + 2))
DB_PORT=$((PORT_BASE + 3))
TIMEOUT=${LINID_SLURM_TIMEOUT:-90}
CLUSTER=${LINID_SLURM_CLUSTER:-linid}
ACCOUNT=${LINID_SLURM_ACCOUNT:-linid}
PARTITION=debug
DB_USER=slurm
DB_PASS=slurmdbpass
DB_NAME=slurm_acct_db
# start order; `down` stops in reverse order
DAEMONS=(munged mariadbd slurmdbd slurmctld slurmd)

log() { printf '[cluster.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
CLEANUP_ON_DIE=0
die() {
    log "ERROR: $*"
    dump_logs
    if ((CLEANUP_ON_DIE)); then
        CLEANUP_ON_DIE=0
        log "stopping the daemons started so far"
        cmd_down "$S" || true
    fi
    exit 1
}

dump_logs() {
    [[ -n ${S:-} && -d ${S:-}/log ]] || return 0
    local f
    for f in "$S"/log/*.log; do
        [[ -f $f ]] || continue
        printf '\n===== %s (last 40 lines) =====\n' "$f" >&2
        tail -n 40 "$f" >&2 || true
    done
}

need_root() { [[ $(id -u) -eq 0 ]] || { echo "cluster.sh: must run as root" >&2; exit 1; }; }

set_state_dir() {
    [[ $# -ge 1 && -n $1 ]] || { echo "usage: cluster.sh $CMD STATE_DIR" >&2; exit 2; }
    mkdir -p "$1"
    S=$(cd "$1" && pwd -P)
    ETC=$S/etc
    RUN=$S/run
    LOGD=$S/log
    export SLURM_CONF=$ETC/slurm.conf
}

# ---------------------------------------------------------------- processes
# We start every daemon in the foreground under setsid, with stdio detached
# (so a caller capturing our output never hangs on an inherited pipe) and
# record $! in $RUN/<name>.pid. Only those PIDs are ever signalled.
pidfile() { echo "$RUN/$1.pid"; }

# prints the PID if the recorded process is alive and is really that daemon
daemon_pid() {
    local name=$1 pf pid comm
    pf=$(pidfile "$name")
    [[ -f $pf ]] || return 1
    pid=$(<"$pf")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    # comm is truncated to 15 chars; mariadbd may show as mariadbd or mysqld
    case $name in
        mariadbd) [[ $comm == mariadbd || $comm == mysqld ]] || return 1 ;;
        *) [[ $comm == "$name" ]] || return 1 ;;
    esac
    echo "$pid"
}

start_daemon() {
    local name=$1
    shift
    local out=$LOGD/$name.stdout.log
    if daemon_pid "$name" >/dev/null; then
        log "$name already running (pid $(daemon_pid "$name"))"
        return 0
    fi
    log "starting $name"
    setsid "$@" </dev/null >>"$out" 2>&1 &
    local pid=$! i
    echo "$pid" >"$(pidfile "$name")"
    # until the exec happened, /proc/PID/comm still reads bash/setsid
    for ((i = 0; i < 100; i++)); do # 10 s
        daemon_pid "$name" >/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || die "$name exited right after start (see $out)"
        sleep 0.1
    done
    die "$name (pid $pid) did not start within 10 s"
}

# stop_daemons NAME...: SIGTERM all of them, then wait on their PIDs
# (slurmctld removes its own pid file well before it exits), SIGKILL after 30 s
stop_daemons() {
    local name pid i pids=() names=()
    for name in "$@"; do
        if pid=$(daemon_pid "$name"); then
            log "stopping $name (pid $pid)"
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
            names+=("$name")
        fi
        rm -f "$(pidfile "$name")"
    done
    ((${#pids[@]})) || return 0
    for ((i = 0; i < 300; i++)); do # 30 s
        alive_pids "${pids[@]}" >/dev/null || return 0
        sleep 0.1
    done
    log "still alive after SIGTERM + 30 s, sending SIGKILL: $(alive_pids "${pids[@]}")"
    for pid in $(alive_pids "${pids[@]}"); do kill -KILL "$pid" 2>/dev/null || true; done
    for ((i = 0; i < 50; i++)); do
        alive_pids "${pids[@]}" >/dev/null || return 0
        sleep 0.1
    done
    log "WARNING: could not kill: $(alive_pids "${pids[@]}")"
}

# prints the PIDs still alive; false if none
alive_pids() {
    local pid found=1
    for pid in "$@"; do
        if kill -0 "$pid" 2>/dev/null; then
            echo "$pid"
            found=0
        fi
    done
    return $found
}

# wait_for DESC DAEMON CMD...: retry CMD until it succeeds; fail if DAEMON dies
# or TIMEOUT expires.
wait_for() {
    local desc=$1 daemon=$2
    shift 2
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if [[ -n $daemon ]] && ! daemon_pid "$daemon" >/dev/null; then
            die "$daemon died while waiting for: $desc"
        fi
        ((SECONDS < deadline)) || die "timed out after ${TIMEOUT}s waiting for: $desc"
        sleep 0.3
    done
}

# ---------------------------------------------------------------- install
cmd_install() {
    need_root
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
            missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        log "packages already installed"
        return 0
    fi
    log "installing: ${missing[*]}"
    # Keep the packages' init scripts from starting system-wide daemons
    # (munge on /run/munge, mariadb on :3306, ...). Only add a policy if the
    # image has none (Docker images usually ship one that denies everything).
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
    fi
    local rc=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
    } || rc=$?
    ((added_policy)) && rm -f "$policy"
    ((rc == 0)) || { log "apt-get failed (rc $rc)"; exit "$rc"; }
    log "packages installed"
}

# ---------------------------------------------------------------- config
write_configs() {
    local host cpus boards sockets cores threads mem
    host=$(hostname -s)
    # real hardware as slurmd sees it, e.g.
    # NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
    local hw
    hw=$(slurmd -C | head -n 1)
    cpus=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
    boards=$(sed -n 's/.*Boards=\([0-9]*\).*/\1/p' <<<"$hw")
    sockets=$(sed -n 's/.*SocketsPerBoard=\([0-9]*\).*/\1/p' <<<"$hw")
    cores=$(sed -n 's/.*CoresPerSocket=\([0-9]*\).*/\1/p' <<<"$hw")
    threads=$(sed -n 's/.*ThreadsPerCore=\([0-9]*\).*/\1/p' <<<"$hw")
    mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
    [[ -n $cpus && -n $mem ]] || die "could not parse 'slurmd -C': $hw"

    # fake GPU: a device file whose name ends in a digit (-> index 0)
    mkdir -p "$S/dev"
    ln -sfn /dev/null "$S/dev/nvidia0"

    cat >"$ETC/slurm.conf" <<EOF
# generated by tests/slurm/cluster.sh -- do not edit
ClusterName=$CLUSTER
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$RUN/munge.socket.2
CredType=cred/munge
StateSaveLocation=$S/spool/slurmctld
SlurmdSpoolDir=$S/spool/slurmd
SlurmctldPidFile=$RUN/slurmctld.daemon.pid
SlurmdPidFile=$RUN/slurmd.daemon.pid
SlurmctldLogFile=$LOGD/slurmctld.log
SlurmdLogFile=$LOGD/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=$DBD_PORT
# connections to slurmdbd take their munge socket from here, not AuthInfo
AccountingStoragePass=$RUN/munge.socket.2
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
ReturnToService=2
SlurmctldTimeout=120
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
MinJobAge=300
Waittime=0
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus Boards=${boards:-1} SocketsPerBoard=${sockets:-1} CoresPerSocket=${cores:-$cpus} ThreadsPerCore=${threads:-1} RealMemory=$mem Gres=gpu:1 State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

    cat >"$ETC/gres.conf" <<EOF
AutoDetect=off
NodeName=$host Name=gpu File=$S/dev/nvidia0
EOF

    # cgroup.conf is not used (proctrack/linuxproc, task/none) but slurmd
    # looks for it; keep it explicit and harmless.
    cat >"$ETC/cgroup.conf" <<EOF
CgroupPlugin=autodetect
EOF

    cat >"$ETC/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$RUN/munge.socket.2
DbdAddr=127.0.0.1
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$RUN/slurmdbd.daemon.pid
LogFile=$LOGD/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
    chmod 600 "$ETC/slurmdbd.conf"

    cat >"$S/env.sh" <<EOF
export SLURM_CONF=$ETC/slurm.conf
export LINID_SLURM_STATE=$S
EOF
}

# /etc/slurm/slurm.conf -> STATE_DIR/etc/slurm.conf. Needed because the
# snakemake slurm-jobstep plugin strips every SLURM_* variable (SLURM_CONF
# included) before running `srun` inside the job, so that srun only finds the
# compiled-in default path. We never overwrite a real file there.
ETC_LINK=/etc/slurm/slurm.conf
link_etc_conf() {
    [[ -n ${LINID_SLURM_NO_ETC_LINK:-} ]] && return 0
    if [[ -e $ETC_LINK && ! -L $ETC_LINK ]]; then
        die "$ETC_LINK is a real file; refusing to replace it (set LINID_SLURM_NO_ETC_LINK=1 to skip; then srun inside snakemake jobs will fail)"
    fi
    if [[ -L $ETC_LINK && $(readlink "$ETC_LINK") != "$SLURM_CONF" ]]; then
        log "WARNING: replacing $ETC_LINK -> $(readlink "$ETC_LINK") (another cluster.sh state dir?)"
    fi
    mkdir -p "$(dirname "$ETC_LINK")"
    ln -sfn "$SLURM_CONF" "$ETC_LINK"
}
unlink_etc_conf() {
    if [[ -L $ETC_LINK && $(readlink "$ETC_LINK") == "$SLURM_CONF" ]]; then
        rm -f "$ETC_LINK"
    fi
}

mysql_root() { mariadb --no-defaults --protocol=socket -S "$RUN/mysqld.sock" -u root "$@"; }

# ---------------------------------------------------------------- up
node_state() { sinfo -h -N -n "$(hostname -s)" -o '%T' 2>/dev/null | head -n 1; }
node_idle() { [[ $(node_state) == idle ]]; }
sacct_works() { timeout 10 sacct -n -X -S now-1hour -o jobid >/dev/null; }

all_running() {
    local d
    for d in "${DAEMONS[@]}"; do daemon_pid "$d" >/dev/null || return 1; done
}

cmd_up() {
    need_root
    set_state_dir "$@"
    local t0=$SECONDS
    command -v slurmctld >/dev/null || die "slurm not installed: run '$0 install' first"

    if all_running && node_idle && sacct_works; then
        log "cluster already up"
        link_etc_conf
        cat "$S/env.sh"
        return 0
    fi
    # partial leftovers from a crashed run: stop them and start clean
    cmd_down "$S" 2>/dev/null || true
    # from here on a failure tears down what was started (keep the logs)
    CLEANUP_ON_DIE=${LINID_SLURM_KEEP_ON_FAILURE:+0}
    CLEANUP_ON_DIE=${CLEANUP_ON_DIE:-1}

    mkdir -p "$ETC" "$RUN" "$LOGD" "$S/spool/slurmctld" "$S/spool/slurmd" "$S/munge"
    chmod 755 "$S" "$RUN"
    write_configs
    link_etc_conf

    # --- munge: private key + socket
    if [[ ! -s $S/munge/munge.key ]]; then
        dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 status=none
    fi
    chmod 700 "$S/munge"
    chmod 400 "$S/munge/munge.key"
    rm -f "$RUN"/munge.socket.2*
    start_daemon munged munged --foreground --force \
        --key-file="$S/munge/munge.key" \
        --socket="$RUN/munge.socket.2" \
        --pid-file="$RUN/munged.daemon.pid" \
        --seed-file="$S/munge/munged.seed" \
        --log-file="$LOGD/munged.log"
    wait_for "munge credentials" munged \
        bash -c "munge -n -S '$RUN/munge.socket.2' | unmunge -S '$RUN/munge.socket.2'"

    # --- mariadb: private datadir on 127.0.0.1:$DB_PORT
    local db=$S/mysql
    if [[ ! -d $db/mysql ]]; then
        log "initialising mariadb datadir"
        rm -rf "$db"
        mkdir -p "$db"
        mariadb-install-db --no-defaults --datadir="$db" --user=root \
            --auth-root-authentication-method=socket --skip-test-db \
            >"$LOGD/mariadb-install.log" 2>&1 || die "mariadb-install-db failed"
    fi
    rm -f "$RUN/mysqld.sock"
    start_daemon mariadbd mariadbd --no-defaults --user=root --datadir="$db" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --socket="$RUN/mysqld.sock" \
        --pid-file="$RUN/mariadbd.daemon.pid" --log-error="$LOGD/mariadbd.log" \
        --skip-name-resolve --innodb-buffer-pool-size=64M \
        --innodb-lock-wait-timeout=900 --max-allowed-packet=16M
    wait_for "mariadbd accepting connections" mariadbd mysql_root -e 'SELECT 1'
    mysql_root <<EOF || die "creating the slurm database user failed"
CREATE DATABASE IF NOT EXISTS $DB_NAME;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
EOF

    # --- slurmdbd
    start_daemon slurmdbd slurmdbd -D
    wait_for "slurmdbd answering sacctmgr" slurmdbd timeout 10 sacctmgr -n list cluster
    if [[ -z $(timeout 10 sacctmgr -n -P list cluster "$CLUSTER" format=cluster) ]]; then
        timeout 20 sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr add cluster failed"
    fi

    # --- slurmctld
    start_daemon slurmctld slurmctld -D -f "$SLURM_CONF"
    wait_for "slurmctld answering scontrol ping" slurmctld \
        bash -c "timeout 10 scontrol ping | grep -q UP"

    # account + user association (so jobs carry an account; the slurm executor
    # plugin looks one up with sacct/sacctmgr when none is given)
    local user
    user=$(id -un)
    if [[ -z $(timeout 10 sacctmgr -n -P list account "$ACCOUNT" format=account) ]]; then
        timeout 20 sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" \
            description=ci organization=ci >/dev/null || die "sacctmgr add account failed"
    fi
    if ! timeout 10 sacctmgr -n -P list assoc user="$user" account="$ACCOUNT" format=user | grep -qx "$user"; then
        timeout 20 sacctmgr -i add user "$user" account="$ACCOUNT" \
            defaultaccount="$ACCOUNT" cluster="$CLUSTER" >/dev/null || die "sacctmgr add user failed"
    fi

    # --- slurmd
    start_daemon slurmd slurmd -D -f "$SLURM_CONF"
    local deadline=$((SECONDS + TIMEOUT)) st
    while :; do
        st=$(node_state || true)
        case $st in
            idle) break ;;
            drain* | down* | *drain | fail* | inval*)
                # stale DRAIN/DOWN from an earlier run: reset it
                timeout 10 scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true ;;
        esac
        daemon_pid slurmd >/dev/null || die "slurmd died while waiting for the node to become idle"
        daemon_pid slurmctld >/dev/null || die "slurmctld died while waiting for the node to become idle"
        ((SECONDS < deadline)) || {
            sinfo -N -l >&2 || true
            scontrol show node >&2 || true
            die "timed out after ${TIMEOUT}s waiting for node $(hostname -s) to be idle (state: '${st:-?}')"
        }
        sleep 0.3
    done
    wait_for "sacct working" slurmdbd sacct_works

    log "cluster up in $((SECONDS - t0)) s; state in $S"
    cat "$S/env.sh"
}

# ---------------------------------------------------------------- down
cmd_down() {
    need_root
    set_state_dir "$@"
    # cancel jobs first so slurmd can reap its slurmstepds
    if daemon_pid slurmctld >/dev/null; then
        local jobs
        jobs=$(timeout 10 squeue -h -o '%i' 2>/dev/null || true)
        if [[ -n $jobs ]]; then
            log "cancelling jobs: $(echo $jobs)"
            # shellcheck disable=SC2086
            timeout 10 scancel $jobs 2>/dev/null || true
            local i
            for ((i = 0; i < 100; i++)); do # 20 s
                [[ -z $(timeout 10 squeue -h -t R,CG -o '%i' 2>/dev/null || true) ]] && break
                sleep 0.2
            done
        fi
    fi
    # slurmctld still talks to slurmdbd while shutting down; munged last
    stop_daemons slurmd slurmctld
    stop_daemons slurmdbd
    stop_daemons mariadbd munged
    rm -f "$RUN"/munge.socket.2* "$RUN/mysqld.sock"
    unlink_etc_conf
    log "cluster down"
}

# ---------------------------------------------------------------- status
cmd_status() {
    set_state_dir "$@"
    local d rc=0 pid
    for d in "${DAEMONS[@]}"; do
        if pid=$(daemon_pid "$d"); then
            printf '%-10s running (pid %s)\n' "$d" "$pid"
        else
            printf '%-10s stopped\n' "$d"
            rc=1
        fi
    done
    if daemon_pid slurmctld >/dev/null; then
        echo "--- sinfo"
        timeout 10 sinfo -N -o '%N %T %c %m %G' || rc=1
        echo "--- squeue"
        timeout 10 squeue || rc=1
    fi
    echo "--- env ($S/env.sh)"
    cat "$S/env.sh" 2>/dev/null || true
    return $rc
}

CMD=${1:-}
shift || true
case $CMD in
    install) cmd_install ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    *)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
