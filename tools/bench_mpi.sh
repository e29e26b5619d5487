#!/bin/sh
# Weak scaling of the data-parallel server at the secure preset (README: "Several
# machines"). The default task (1,024 training images, two epochs, batch 512) as two jobs
# of the same per-rank work: one group per step (global batch 512, lr 2) and two groups per
# step (global batch 1,024, lr $LR2, default 2; lr 4 is refused by the range pre-check:
# the exact trainer's logit spread reaches 20.2 > 0.9 V). Runs
#   r1t1: 1 rank, 1 thread (job G = 1)      r2t1: 2 ranks, 1 thread each (job G = 2)
#   r1t2: 1 rank, 2 threads (job G = 1; reference)
# and prints, one JSON object per run, time per step (median of the logged steps) and per
# epoch (the sum of an epoch's steps), bytes exchanged per step, peak memory per rank, and
# the test accuracy of the decrypted head (unflooded). Step times come from the log: key
# loading and the key cache's first build are not in them. Needs make MPI=1,
# Fashion-MNIST, ~25 GB of disk, about 30 minutes on 2 cores.
#   tools/bench_mpi.sh [WORKDIR]
set -eu
BT=${BT:-./bt_train}
BTMPI=${BTMPI:-build-mpi/bt_train}
MPIRUN=${MPIRUN:-mpirun --oversubscribe --bind-to core}
LR2=${LR2:-2}
w=${1:-/tmp/bt_bench_mpi}
mkdir -p "$w"
for g in 1 2; do
  if [ ! -f "$w/s$g/train.bin" ]; then
    lr=2; [ $g -eq 1 ] || lr=$LR2
    $BT keygen --client "$w/c$g" --server "$w/s$g" --groups $g --batch 512 --lr $lr > "$w/keygen$g.log" 2>&1
    $BT encrypt --client "$w/c$g" --server "$w/s$g" > "$w/encrypt$g.log" 2>&1
  fi
done
run() {  # name ranks threads group-job
  name=$1; np=$2; th=$3; g=$4
  rm -rf "$w/out-$name"
  if [ "$np" -eq 1 ]; then
    /usr/bin/time -v $BT train --server "$w/s$g" --out "$w/out-$name" --threads "$th" > "$w/$name.log" 2> "$w/$name.time"
  else
    /usr/bin/time -v $MPIRUN -np "$np" -x BT_THREADS="$th" $BTMPI train --server "$w/s$g" --out "$w/out-$name" \
      --threads "$th" > "$w/$name.log" 2> "$w/$name.time"
  fi
  steps=$(grep -c '^step ' "$w/$name.log")
  # per step: the median of the logged seconds per step
  med=$(grep '^step ' "$w/$name.log" | sed 's/.* \([0-9.]*\) s\/step/\1/' | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
  epoch=$(grep '^step ' "$w/$name.log" | sed 's/.* \([0-9.]*\) s\/step/\1/' | awk '{s+=$1} END {print s}')
  peak=$(grep -o 'peak memory [0-9.]* [GMK]iB' "$w/$name.log" | tail -1 | sed 's/peak memory //')
  rank_peak=$(grep -o 'largest rank [0-9.]* [GMK]iB' "$w/$name.log" | sed 's/largest rank //' || true)
  per_step=$(grep -o '([0-9.]* [GMKk]i*B per step)' "$w/$name.log" | tr -d '()' || true)
  $BT decrypt --client "$w/c$g" --head "$w/out-$name/head.bin" --out "$w/$name.safetensors" --no-flooding > /dev/null 2>&1
  acc=$($BT evaluate --head "$w/$name.safetensors" 2>/dev/null | grep -o 'images: [0-9.]*' | sed 's/images: //')
  printf '{"bench":"mpi_weak_scaling","run":"%s","ranks":%s,"threads_per_rank":%s,"groups":%s,"steps":%s,"seconds_per_step_median":%s,"epoch_seconds":%s,"peak_rss":"%s","largest_rank_rss":"%s","exchanged":"%s","test_accuracy":"%s"}\n' \
    "$name" "$np" "$th" "$g" "$steps" "$med" "$(echo "$epoch $steps $g" | awk '{print $1 / 2}')" "$peak" "${rank_peak:-}" "${per_step:-0}" "${acc:-}"
}
run r1t1 1 1 1
run r2t1 2 1 2
run r1t2 1 2 1
