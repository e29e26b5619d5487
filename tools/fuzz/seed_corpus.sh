#!/bin/sh
# Seeds the corpus of one fuzz target (make fuzz): seed_corpus.sh NAME DIR [SEEDS], run
# from the repository root; SEEDS is what make_seeds wrote (valid files of every CKKS and
# nn loader). Targets whose first input byte picks a reader get it prefixed.
set -e
name=$1
dir=$2
seeds=${3:-build-san/seeds}
mkdir -p "$dir"
prefixed() {  # prefixed BYTE FILE...
    b=$1
    shift
    for f in "$@"; do { printf "$b"; cat "$f"; } > "$dir/$(basename "$f").seed"; done
}
case $name in
    fuzz_ckks_load) cp "$seeds"/ckks_load/* "$dir/" ;;
    fuzz_nn_load) cp "$seeds"/nn_load/* "$dir/" ;;
    fuzz_npz) prefixed '\000' tests/nn/golden/npy_*.npy; prefixed '\001' tests/nn/golden/npz_*.npz ;;
    fuzz_png) cp tests/nn/golden/png_*.png "$dir/"; printf 'P5\n3 2\n255\nabcdef' > "$dir/small.pgm" ;;
    fuzz_cifar)
        head -c 6146 /dev/zero | tr '\000' '\001' > "$dir/two_records.raw"
        prefixed '\001' "$dir/two_records.raw"
        rm "$dir/two_records.raw"
        printf '\000airplane\nautomobile\nbird\n' > "$dir/meta.seed" ;;
    *) echo "seed_corpus.sh: no seeds for $name (starting from an empty corpus)" ;;
esac
