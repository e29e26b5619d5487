#!/bin/sh
# Projected time per epoch of the data-parallel server on 1-64 nodes (README: "Several
# machines"), from measured per-phase times and the bytes one step exchanges.
#
#   tools/mpi_model.sh NAME T_GROUP T_UPDATE GRAD_BYTES ROWS BATCH
#     T_GROUP     seconds of one group on one node (logits, softmax, its bootstrap, gradient)
#     T_UPDATE    seconds of the update on one node (weight bootstrap, Nesterov step)
#     GRAD_BYTES  bytes of the gradient ciphertext the ranks all-reduce each step
#     ROWS        training rows per epoch; BATCH rows per group
#
# Model (weak scaling: one group per node per step, global batch R·BATCH):
#   step(R)  = T_GROUP + T_UPDATE + allreduce(R) + sync(R)
#   allreduce(R) = 2·(R−1)/R · GRAD_BYTES / bandwidth + 2·(R−1)·latency   (ring all-reduce)
#   sync(R)  = 6 · ceil(log2 R) · latency   (shape broadcast, the weights' fingerprint, ...)
#   epoch(R) = ceil(ROWS / (R·BATCH)) · step(R);  efficiency = epoch(1) / (R · epoch(R))
# Assumptions: every node as fast as the measured one; the links' full bandwidth (10 and
# 100 Gb/s, 20 µs and 5 µs latency) for the all-reduce; validation and checkpoints left out
# (once per epoch; the validation batches are spread over the ranks like the groups).
set -eu
[ $# -eq 6 ] || { sed -n '2,20p' "$0"; exit 2; }
awk -v name="$1" -v tg="$2" -v tu="$3" -v gb="$4" -v rows="$5" -v b="$6" 'BEGIN {
  printf "%s: group %.2f s, update %.2f s, gradient %.2f MiB, %d rows per epoch, %d per group\n", name, tg, tu, gb / 1048576, rows, b
  printf "%6s %12s %12s %10s %12s %12s %10s\n", "nodes", "10G step s", "epoch s", "eff.", "100G step s", "epoch s", "eff."
  n = split("1 2 4 8 16 32 64", R, " ")
  for (i = 1; i <= n; ++i) {
    r = R[i]; lg = 0; for (x = 1; x < r; x *= 2) ++lg
    steps = int((rows + r * b - 1) / (r * b))
    line = sprintf("%6d", r)
    for (k = 0; k < 2; ++k) {
      bw = k == 0 ? 10e9 / 8 : 100e9 / 8; lat = k == 0 ? 20e-6 : 5e-6
      ar = r > 1 ? 2 * (r - 1) / r * gb / bw + 2 * (r - 1) * lat : 0
      st = tg + tu + ar + 6 * lg * lat
      ep = steps * st
      if (r == 1) e1[k] = ep
      line = line sprintf(" %12.3f %12.1f %10.3f", st, ep, e1[k] / (r * ep))
    }
    print line
  }
}'
