#!/bin/sh
# The data-parallel server from the command line (make MPI=1 test-mpi runs it): bt_train
# built with MPI, under $MPIRUN (default "mpirun --oversubscribe --bind-to none").
#   1. the client makes keys and data on the small insecure ring (REAL bootstrapping), a
#      job of 3 groups per step; the server trains as one rank: the reference head.bin;
#   2. two ranks train it: the same head.bin, byte for byte;
#   3. two ranks, rank 1 killed (SIGKILL) in the middle of step 2: the job stops with an
#      error on every rank, nothing half-written; three ranks --resume: the same head.bin;
#   4. encrypted inference on three ranks: the same predictions as on one;
#   5. ranks given different training sets refuse before any step;
#   6. commands that hold client files refuse to run on several ranks.
# Ends with "tests: N passed, M failed".
set -u
BT_TRAIN=${BT_TRAIN:-build-mpi/bt_train}
MPIRUN=${MPIRUN:-mpirun --oversubscribe --bind-to none}
export BT_THREADS=1
seed=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
w=$(mktemp -d /tmp/bt_mpi_cli_XXXXXX)
trap 'rm -rf "$w"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "mpi_cli: Fashion-MNIST missing (apt-get install dataset-fashion-mnist)"
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

job="--preset N12_test_boot --allow-insecure --insecure-seed $seed --batch 128 --groups 3 --epochs 1 --lr 1"
data="--train 600 --val 64 --test 128"
$BT_TRAIN keygen --client "$w/c" --server "$w/s" $job > "$w/keygen.log" 2>&1 &&
  $BT_TRAIN encrypt --client "$w/c" --server "$w/s" --allow-insecure --insecure-seed $seed $data > "$w/encrypt.log" 2>&1
check "client: keygen and encrypt (3 groups per step)" '[ $? -eq 0 ]' || { cat "$w/keygen.log" "$w/encrypt.log"; }

$BT_TRAIN train --server "$w/s" --out "$w/one" --allow-insecure > "$w/one.log" 2>&1
check "one rank: train" '[ -f "$w/one/head.bin" ]' || tail -20 "$w/one.log"

$MPIRUN -np 2 $BT_TRAIN train --server "$w/s" --out "$w/two" --allow-insecure > "$w/two.log" 2>&1
check "two ranks: train" '[ -f "$w/two/head.bin" ]' || tail -20 "$w/two.log"
check "two ranks: the one-rank head byte for byte" 'cmp -s "$w/one/head.bin" "$w/two/head.bin"'
check "two ranks: the log names the ranks and the bytes exchanged" 'grep -q "2 ranks" "$w/two.log" && grep -q "exchanged" "$w/two.log"'

BT_TEST_KILL_RANK_AT_STEP=1:2 $MPIRUN -np 2 $BT_TRAIN train --server "$w/s" --out "$w/kill" --allow-insecure > "$w/kill.log" 2>&1
rc=$?
check "rank 1 killed in step 2: the job stops with an error" '[ $rc -ne 0 ] && [ ! -f "$w/kill/head.bin" ]' || tail -20 "$w/kill.log"
check "rank 1 killed in step 2: the checkpoint of step 1 is complete, no temporary file left as a checkpoint" \
  '[ -f "$w/kill/checkpoints/ckpt-00000001.bin" ]'
$MPIRUN -np 3 $BT_TRAIN train --server "$w/s" --out "$w/kill" --allow-insecure --resume > "$w/resume.log" 2>&1
check "resumed on three ranks from step 1" 'grep -q "resuming from" "$w/resume.log"' || tail -20 "$w/resume.log"
check "resumed on three ranks: the one-rank head byte for byte" 'cmp -s "$w/one/head.bin" "$w/kill/head.bin"'

$BT_TRAIN infer --server "$w/s" --head "$w/one/head.bin" --out "$w/pred1.bin" --allow-insecure > "$w/infer1.log" 2>&1
$MPIRUN -np 3 $BT_TRAIN infer --server "$w/s" --head "$w/one/head.bin" --out "$w/pred3.bin" --allow-insecure > "$w/infer3.log" 2>&1
check "inference on three ranks: the one-rank predictions byte for byte" \
  '[ -f "$w/pred1.bin" ] && cmp -s "$w/pred1.bin" "$w/pred3.bin"' || tail -5 "$w/infer1.log" "$w/infer3.log"

# A rank given other files: the same keys, a training set encrypted again (another data id).
cp -r "$w/c" "$w/c2" && mkdir "$w/s2" && ln "$w/s"/*.key "$w/s"/*.bin "$w/s2/" && rm "$w/s2/train.bin" "$w/s2/val.bin" "$w/s2/test.bin" &&
  $BT_TRAIN encrypt --client "$w/c2" --server "$w/s2" --allow-insecure --insecure-seed 1$(echo $seed | cut -c2-) $data > "$w/encrypt2.log" 2>&1
$MPIRUN -np 1 $BT_TRAIN train --server "$w/s" --out "$w/mixed" --allow-insecure : \
        -np 1 $BT_TRAIN train --server "$w/s2" --out "$w/mixed" --allow-insecure > "$w/mixed.log" 2>&1
rc=$?
check "ranks with different training sets: refused before any step" \
  '[ $rc -ne 0 ] && grep -q "the ranks differ in train.bin or val.bin" "$w/mixed.log" && ! grep -q "^step " "$w/mixed.log"' || tail -5 "$w/mixed.log"

$MPIRUN -np 2 $BT_TRAIN decrypt --client "$w/c" --head "$w/one/head.bin" --out "$w/h.safetensors" --allow-insecure > "$w/dec.log" 2>&1
rc=$?
check "decrypt (client files) refuses to run on two ranks" \
  '[ $rc -ne 0 ] && [ ! -f "$w/h.safetensors" ] && grep -q "runs as one process" "$w/dec.log"' || tail -5 "$w/dec.log"

echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
