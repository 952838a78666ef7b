#!/bin/sh
# Colorize a folder in N shards with GNU parallel, on this machine or over ssh.
#
#   examples/parallel/colorize-shards.sh IN OUT [N]
#       N shards, N at a time on this machine (default N: the number of CPUs), one
#       colorize process and one thread each.
#   SSHLOGIN=8/node1,8/node2 examples/parallel/colorize-shards.sh IN OUT 64
#       64 shards over ssh, 8 at a time on each host (GNU parallel's --sshlogin; ":"
#       is this machine). IN, OUT and the colorize binary must be at the same absolute
#       paths on every host (a shared file system); PARALLEL_SSH may hold the ssh command
#       (e.g. "ssh -F my_config").
#
# Shard K of N (`colorize --shard K/N`) is the same set of photos wherever and whenever
# it runs, and --skip-existing keeps the photos a shard already finished: run the same
# command again after an interruption, a failed host or a Ctrl-C, and only what is
# missing is done. Failed shards are retried twice (--retries). Each shard appends one
# JSON line per photo to OUT/.reports/shard-K.jsonl; GNU parallel's own log of shards is
# OUT/.reports/joblog.
#
# Environment: COLORIZE (the binary; default: target/release/colorize beside examples/),
# COLORIZE_MODEL (default: the embedded default model), COLORIZE_JOBS (threads per
# shard, default 1), COLORIZE_ARGS (more options, e.g. "--format jpeg").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
colorize=${COLORIZE:-$here/../../target/release/colorize}
in=${1:?usage: colorize-shards.sh IN OUT [N]}
out=${2:?usage: colorize-shards.sh IN OUT [N]}
shards=${3:-$(nproc)}
# Absolute paths: remote hosts start in their home folder.
case $in in /*) ;; *) in=$(pwd)/$in ;; esac
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
case $colorize in /*) ;; *) colorize=$(cd "$(dirname "$colorize")" && pwd)/$(basename "$colorize") ;; esac
mkdir -p "$out/.reports"

if [ -n "${SSHLOGIN:-}" ]; then
    set -- --sshlogin "$SSHLOGIN"
else
    set -- --jobs "$shards"
fi
# --will-cite: no citation notice; --halt never: the other shards go on when one fails.
# -q: every argument is quoted (paths with spaces), for the remote shell too; {} is the
# shard number.
seq 1 "$shards" | parallel -q --will-cite --halt never --retries 3 --line-buffer --tag \
    --joblog "$out/.reports/joblog" "$@" \
    "$colorize" "$in" -o "$out" --shard "{}/$shards" --skip-existing \
    --report "$out/.reports/shard-{}.jsonl" --jobs "${COLORIZE_JOBS:-1}" \
    --model "${COLORIZE_MODEL:-default}" ${COLORIZE_ARGS:-}
