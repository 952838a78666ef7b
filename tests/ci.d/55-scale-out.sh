#!/bin/bash
# Scale-out recipes on real engines (docs/scale-out.md):
#   1. Slurm: munged, slurmctld and slurmd on this machine with a generated slurm.conf;
#      examples/slurm/colorize-array.sbatch as a 4-task array over 12 generated photos;
#      one task is cancelled midway (scancel) and requeued (scontrol requeue); then every
#      output must exist and decode, and no temporary file may be left.
#   2. GNU parallel: examples/parallel/colorize-shards.sh, 4 shards on this machine,
#      interrupted midway and run again; the same checks.
#   3. GNU parallel over --sshlogin: sshd on 127.0.0.1 (port 22022) with generated keys,
#      the same 4 shards run through ssh; the same checks.
# Needs root and apt-get (it installs slurm-wlm, munge, parallel, openssh-server when
# missing); elsewhere it says "skipped" and exits 77 (the suite's "skipped" status). Uses target/release/colorize as built
# by the main run. Bounded: every wait has a timeout; about a minute on 2 cores.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BIN=$ROOT/target/release/colorize
say() { echo "55-scale-out: $*"; }
fail() { say "FAILED: $*"; exit 1; }

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    say "skipped: needs root and apt-get to install and start Slurm, munge and sshd"
    exit 77
fi
[ -x "$BIN" ] || fail "$BIN is not built (cargo build --release --features train)"
missing=()
command -v slurmctld >/dev/null || missing+=(slurm-wlm)
command -v munged >/dev/null || missing+=(munge)
command -v parallel >/dev/null || missing+=(parallel)
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || missing+=(openssh-server openssh-client)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -qq >/dev/null
    timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        fail "apt-get install ${missing[*]}"
fi

T=$(mktemp -d /tmp/colorize-scale-out.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    sleep 1
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
    if [ "${KEEP:-0}" = 1 ]; then say "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# --- 12 generated 1-megapixel photos (dots and spaces in their names), and a checker.
cat >"$T/photos.py" <<'PY'
import os, struct, sys, zlib

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

def write_png(path, w, h, seed):
    rows = []
    for y in range(h):
        base = (y * 255 // h + seed * 37) % 256
        row = bytes((base + (x * (seed + 3)) // 16 + ((x ^ y) & 15)) % 256 for x in range(w))
        rows.append(b"\0" + row)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"".join(rows), 1)) + chunk(b"IEND", b""))

def check_png(path):
    """A full decode: signature, every chunk's CRC, the inflated size from IHDR."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, "bad CRC in " + kind.decode()
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + n
    w, h, depth, colour = ihdr[:4]
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    assert colour in (2, 6), "not a colour image"
    assert len(zlib.decompress(idat)) == h * (1 + w * channels * depth // 8), "truncated"
    return w, h

if sys.argv[1] == "make":
    for i in range(1, 13):
        write_png(os.path.join(sys.argv[2], "box %d/photo.1952.%02d.png" % (i % 3 + 1, i)), 1152, 864, i)
else:  # check IN OUT: every input has its output, decoded at the same size; no temp files
    inp, out = sys.argv[2], sys.argv[3]
    bad = []
    for d, _, files in os.walk(inp):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), inp)
            try:
                if check_png(os.path.join(out, rel)) != (1152, 864):
                    bad.append(rel + ": wrong size")
            except Exception as e:
                bad.append("%s: %s" % (rel, e))
    for d, _, files in os.walk(out):
        bad += [os.path.join(d, f) + ": temporary file left" for f in files if "colorize-tmp" in f]
    print("\n".join(bad) or "all %s outputs decode, no temporary files" % out)
    sys.exit(1 if bad else 0)
PY
python3 "$T/photos.py" make "$T/photos" || fail "generating photos"
check() { timeout 120 python3 "$T/photos.py" check "$T/photos" "$1" || fail "$2: outputs"; }
# Each shard's outputs, to watch one of them.
outputs_of() { "$BIN" "$T/photos" -o "$1" --shard "$2/4" --dry-run 2>/dev/null | cut -f2; }
count_existing() { local n=0 f; while IFS= read -r f; do [ -f "$f" ] && n=$((n + 1)); done; echo $n; }
# The fullest shard is the one interrupted (the widest window to catch it midway).
victim=1 most=0
for k in 1 2 3 4; do
    n=$(outputs_of "$T/x" "$k" | wc -l)
    if [ "$n" -gt "$most" ]; then victim=$k most=$n; fi
done
say "12 photos in 4 shards; shard $victim ($most photos) will be interrupted"

# --- 1. Slurm -------------------------------------------------------------------------
slurm() {
    local host; host=$(hostname -s)
    mkdir -p "$T/slurm/state" "$T/slurm/spool" "$T/slurm/log" "$T/munge"
    # munged as root with its own key, socket and files in $T.
    dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
    chmod 755 "$T/munge"; chmod 600 "$T/munge/munge.key"
    munged --force --foreground --socket="$T/munge/sock" --key-file="$T/munge/munge.key" \
        --pid-file="$T/munge/pid" --seed-file="$T/munge/seed" --log-file="$T/munge/log" 2>"$T/munge/out" &
    pids+=($!)
    cat >"$T/slurm/slurm.conf" <<EOF
ClusterName=colorize-ci
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$T/munge/sock
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$T/slurm/state
SlurmdSpoolDir=$T/slurm/spool
SlurmctldPidFile=$T/slurm/slurmctld.pid
SlurmdPidFile=$T/slurm/slurmd.pid
SlurmctldLogFile=$T/slurm/log/slurmctld.log
SlurmdLogFile=$T/slurm/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
JobRequeue=1
KillWait=10
MinJobAge=600
SchedulerParameters=sched_interval=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=4 RealMemory=2000 State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF=$T/slurm/slurm.conf
    for i in $(seq 50); do [ -S "$T/munge/sock" ] && break; sleep 0.1; done
    slurmctld -D -c -i >"$T/slurm/log/slurmctld.out" 2>&1 &
    pids+=($!)
    slurmd -D >"$T/slurm/log/slurmd.out" 2>&1 &
    pids+=($!)
    local up=
    for i in $(seq 60); do
        if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then up=1; break; fi
        sleep 0.5
    done
    [ -n "$up" ] || { tail -20 "$T"/slurm/log/*; fail "Slurm did not come up"; }
    say "Slurm $(sinfo -V | cut -d' ' -f2) up: $(sinfo -h -N -o '%N %T %c CPUs')"

    local out=$T/out-slurm job
    job=$(COLORIZE=$BIN COLORIZE_MODEL=default sbatch --parsable --array=1-4 --cpus-per-task=1 --time=10 \
        --chdir="$T/slurm" --output="$T/slurm/log/task-%a.out" \
        "$ROOT/examples/slurm/colorize-array.sbatch" "$T/photos" "$out") || fail "sbatch"
    job=${job%%;*}
    say "submitted array job $job; waiting for task $victim to be midway"
    local mine; mine=$(outputs_of "$out" "$victim")
    local caught= done_n=0
    for i in $(seq 1200); do
        done_n=$(count_existing <<<"$mine")
        [ "$done_n" -ge 1 ] && break
        sleep 0.05
    done
    [ "$done_n" -ge 1 ] || { squeue -o '%i %T %r'; fail "Slurm: task $victim wrote nothing in 60 s"; }
    [ "$done_n" -lt "$most" ] && caught=$done_n
    scancel "${job}_${victim}" || fail "scancel"
    say "cancelled task ${job}_${victim} with ${caught:-all} of $most outputs written"
    [ -n "$caught" ] || say "note: the task finished before it could be cancelled midway"
    # Wait for the cancellation to land, then requeue the task.
    for i in $(seq 100); do
        squeue -h -j "${job}_${victim}" -o '%T' 2>/dev/null | grep -qE 'RUNNING|COMPLETING' || break
        sleep 0.2
    done
    sacct_state=$(scontrol show job "${job}_${victim}" 2>/dev/null | grep -o 'JobState=[A-Z]*')
    say "task $victim: $sacct_state; requeueing it"
    resubmit() {
        SHARDS=4 COLORIZE=$BIN sbatch --parsable --array="$victim" --cpus-per-task=1 --time=10 \
            --chdir="$T/slurm" --output="$T/slurm/log/retry-%a.out" \
            "$ROOT/examples/slurm/colorize-array.sbatch" "$T/photos" "$out" >/dev/null ||
            fail "resubmitting shard $victim"
    }
    local resubmitted=
    if scontrol requeue "${job}_${victim}" 2>"$T/requeue.err"; then
        # Slurm holds a requeued job about two minutes (Reason=BeginTime); not here.
        scontrol update JobId="${job}_${victim}" StartTime=now ||
            say "note: could not move the requeued task's start time forward"
    else
        say "scontrol requeue: $(cat "$T/requeue.err"); resubmitting shard $victim instead"
        resubmit
        resubmitted=1
    fi
    # Done when the queue is empty and the task's outputs are all there. Slurm sometimes
    # accepts the requeue of a just-cancelled array task and then never runs it (seen on a
    # loaded machine: the queue empty at once); after 5 s of an empty queue with outputs
    # missing, the shard is submitted again, which resumes it the same way.
    local left= empty_polls=0
    for i in $(seq 900); do
        left=$(squeue -h -o '%i %T %r' 2>/dev/null)
        if [ -n "$left" ]; then
            empty_polls=0
        elif [ "$(count_existing <<<"$mine")" -ge "$most" ]; then
            break
        else
            empty_polls=$((empty_polls + 1))
            if [ "$empty_polls" -ge 25 ] && [ -z "$resubmitted" ]; then
                say "note: no requeued task ran ($(count_existing <<<"$mine") of $most outputs, queue empty for 5 s); resubmitting shard $victim"
                resubmit
                resubmitted=1
                empty_polls=0
            fi
        fi
        sleep 0.2
    done
    [ -z "$left" ] || { say "still queued: $left"; scontrol show job | grep -E "JobId|JobState|Time="; fail "Slurm jobs did not finish"; }
    grep -H 'colorize:' "$T"/slurm/log/task-*.out "$T"/slurm/log/retry-*.out 2>/dev/null |
        sed "s|^$T/slurm/log/|  |"
    check "$out" "Slurm"
    local lines; lines=$(cat "$out"/.reports/*.jsonl | grep -c '"status":"colorized"')
    [ "$lines" = 12 ] || fail "Slurm: $lines 'colorized' report lines, expected 12 (one per photo)"
    say "Slurm: ok (12 photos, reports: 12 colorized lines)"
    # Stop the daemons now (the trap would too).
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    pids=()
    unset SLURM_CONF
}

# --- 2. GNU parallel on this machine ----------------------------------------------------
parallel_local() {
    local out=$T/out-parallel
    # Interrupted midway (as Ctrl-C would), then the same command again.
    setsid env COLORIZE="$BIN" "$ROOT/examples/parallel/colorize-shards.sh" "$T/photos" "$out" 4 \
        >"$T/parallel-1.log" 2>&1 &
    local runner=$!
    local mine; mine=$(outputs_of "$out" "$victim")
    for i in $(seq 1200); do
        local n; n=$(count_existing <<<"$mine")
        [ "$n" -ge 1 ] && break
        sleep 0.05
    done
    kill -TERM -- "-$runner" 2>/dev/null
    timeout 60 tail --pid="$runner" -f /dev/null
    # The whole process group, not only the runner: a colorize that parallel signalled may
    # still be finishing its image, and a rerun beside it would race it for the same outputs.
    for i in $(seq 600); do
        kill -0 -- "-$runner" 2>/dev/null || break
        sleep 0.1
    done
    say "parallel: interrupted with $(find "$out" -name '*.png' | wc -l) of 12 written"
    COLORIZE=$BIN timeout 300 "$ROOT/examples/parallel/colorize-shards.sh" "$T/photos" "$out" 4 \
        >"$T/parallel-2.log" 2>&1 || { cat "$T/parallel-2.log"; fail "parallel: second run"; }
    grep -h 'colorize: [0-9]* colorized' "$T/parallel-2.log" | sed 's/^/  /'
    check "$out" "parallel"
    say "parallel: ok"
}

# --- 3. GNU parallel over ssh to 127.0.0.1 ----------------------------------------------
parallel_ssh() {
    local sshd; sshd=$(command -v sshd || echo /usr/sbin/sshd)
    mkdir -p "$T/ssh" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/host_key" || fail "ssh-keygen"
    ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/user_key" || fail "ssh-keygen"
    cp "$T/ssh/user_key.pub" "$T/ssh/authorized_keys"
    chmod 600 "$T/ssh/authorized_keys"
    cat >"$T/ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port 22022
HostKey $T/ssh/host_key
AuthorizedKeysFile $T/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $T/ssh/sshd.pid
EOF
    cat >"$T/ssh/config" <<EOF
Host colorize-ci
    HostName 127.0.0.1
    Port 22022
    User root
    IdentityFile $T/ssh/user_key
    IdentitiesOnly yes
    StrictHostKeyChecking no
    UserKnownHostsFile /dev/null
    LogLevel ERROR
    BatchMode yes
EOF
    "$sshd" -D -e -f "$T/ssh/sshd_config" 2>"$T/ssh/sshd.log" &
    pids+=($!)
    local ok=
    for i in $(seq 50); do
        timeout 10 ssh -F "$T/ssh/config" colorize-ci true 2>/dev/null && { ok=1; break; }
        sleep 0.2
    done
    [ -n "$ok" ] || { cat "$T/ssh/sshd.log"; fail "sshd on 127.0.0.1:22022"; }
    local out=$T/out-ssh
    PARALLEL_SSH="ssh -F $T/ssh/config" SSHLOGIN=2/colorize-ci COLORIZE=$BIN \
        timeout 300 "$ROOT/examples/parallel/colorize-shards.sh" "$T/photos" "$out" 4 \
        >"$T/ssh.log" 2>&1 || { cat "$T/ssh.log"; fail "parallel --sshlogin"; }
    grep -q 'colorize-ci' "$out/.reports/joblog" || fail "parallel did not run over ssh"
    check "$out" "parallel over ssh"
    say "parallel --sshlogin: ok ($(awk 'NR>1 {print $2}' "$out/.reports/joblog" | sort -u | tr '\n' ' '))"
}

start=$SECONDS
slurm
parallel_local
parallel_ssh
say "ok ($((SECONDS - start)) s)"
