#!/usr/bin/env bash
# The sd-mini studies of docs/sd-mini.md ("What sd-mini's features show"), with the toolkit's own
# commands only. Every number and figure in that section comes from this script.
#
#   bash benchmarks/sd_mini_studies.sh            # everything, sequentially (about 30 min on 2 CPU cores)
#   bash benchmarks/sd_mini_studies.sh sweep pca  # some: chance compare sweep noise prompts pca tables
#
# Results files go to results/sd-mini/<study>/<dataset>/ (one file per configuration, as
# `bench run --output-dir` writes them), trained prompts to results/sd-mini/prompts/, figures to
# docs/sd-mini/. Descriptors are cached in $SBIR_BENCH_CACHE (default: the user cache), so a rerun
# extracts nothing it already has. Runs are sequential on purpose: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
# idle OpenMP threads wait passively: with spinning threads, training epochs on a shared 2-core
# machine took 27-445 s instead of about 25 s
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
OUT=results/sd-mini
FIG=docs/sd-mini
DATASETS=(--dataset synthetic --dataset synthetic-fg)
TIMESTEPS=(0 50 100 200 300 400 500 600 800 999)

# Exact chance levels of the default synthetic benchmarks (random ranking; checked by Monte Carlo).
chance() {
    python benchmarks/sd_mini_chance.py | tee "$OUT/chance.txt"
}

# 1. sd-mini against sd-tiny (random weights) and the offline DINOv2-S/14, at the default run's
#    operating point (t = 200, 2 noise draws): sd-mini and sd-tiny at up0 (sd-mini's default layer)
#    and sd-tiny also at its own default layer up1.
compare() {
    bench run --backbone sd-mini --backbone sd-tiny --layer up0 --t 200 --noise-samples 2 \
        "${DATASETS[@]}" --output-dir "$OUT/compare"
    bench run --backbone sd-tiny --layer up1 --t 200 --noise-samples 2 "${DATASETS[@]}" --output-dir "$OUT/compare"
    bench run --backbone dinov2-vits14-imgfocus "${DATASETS[@]}" --output-dir "$OUT/compare"
}

# 2. The layer x timestep sweep: decoder levels 1-4 (up0..up3) and the paper's fusions (coarse =
#    up0+up1, fine = up2+up3) at ten timesteps, 2 noise draws; one UNet pass per timestep serves
#    every layer. Then the heatmap and t-curve figures, one per dataset, and both metrics.
sweep() {
    local layers=() ts=()
    for layer in up0 up1 up2 up3 coarse fine; do layers+=(--layer "$layer"); done
    for t in "${TIMESTEPS[@]}"; do ts+=(--t "$t"); done
    bench run --backbone sd-mini "${layers[@]}" "${ts[@]}" --noise-samples 2 "${DATASETS[@]}" \
        --output-dir "$OUT/sweep"
    # the same sweep keeping a 4 x 4 spatial grid of each map (--pool flatten) instead of its mean
    bench run --backbone sd-mini "${layers[@]}" "${ts[@]}" --noise-samples 2 --pool flatten "${DATASETS[@]}" \
        --output-dir "$OUT/sweep-flatten"
    bench plot sweep "$OUT/sweep" --dataset synthetic --output "$FIG/sweep-synthetic.png"
    bench plot sweep "$OUT/sweep" --dataset synthetic --metric P@10 --output "$FIG/sweep-synthetic-p10.png"
    bench plot sweep "$OUT/sweep" --dataset synthetic-fg --output "$FIG/sweep-synthetic-fg.png"
    bench plot sweep "$OUT/sweep" --dataset synthetic-fg --metric Acc@5 --output "$FIG/sweep-synthetic-fg-acc5.png"
    bench plot sweep "$OUT/sweep-flatten" --dataset synthetic --output "$FIG/sweep-flatten-synthetic.png"
    bench plot sweep "$OUT/sweep-flatten" --dataset synthetic-fg --output "$FIG/sweep-flatten-synthetic-fg.png"
}

# 4. Noise-ensemble size: 1 against 6 draws averaged per image, at the sweep's best cell (up0,
#    t = 50), the default run's (up0, t = 200) and the paper's operating point (coarse / fine,
#    t = 273), for three run seeds (the seed picks the noise), to see the spread a seed alone gives.
noise() {
    for seed in 0 1 2; do
        for n in 1 6; do
            bench run --backbone sd-mini --layer up0 --layer coarse --layer fine --t 50 --t 200 --t 273 \
                --noise-samples "$n" --seed "$seed" "${DATASETS[@]}" --output-dir "$OUT/noise"
        done
    done
}

# 3. Prompt learning (Koley et al.): visual, textual and visual+textual prompts trained with
#    `bench train` on the seen classes' train split (triplet loss, sd-mini frozen), then scored on
#    the unseen classes against no prompt. Operating point: the sweep's best category cell with
#    levels 1-2 fused (coarse, t = 50) on synthetic, three training seeds; up0, t = 50 on
#    synthetic-fg, one seed. Border width 4 px at 64 px (the paper's 16 px at 512 is 3 %; 4 px here
#    is 6 %), lr 1e-2, 3 epochs of 192 triplets, batch 8 (about 75 s per prompt on 2 cores).
PROMPTS=$OUT/prompt-files
train_and_score() {  # dataset short layer t seeds...
    local dataset=$1 short=$2 layer=$3 t=$4 learned=()
    shift 4
    for seed in "$@"; do
        for scheme in visual textual visual+textual; do
            local file="$PROMPTS/${short}_${scheme/+/-}_s${seed}.safetensors"
            [ -f "$file" ] || bench train --backbone sd-mini --dataset "$dataset" --prompt "$scheme" --layer "$layer" \
                --t "$t" --width 4 --lr 0.01 --epochs 3 --batch-size 8 --seed "$seed" --eval-train --output "$file"
            learned+=(--prompt "learned:$file")
        done
    done
    bench run --backbone sd-mini --layer "$layer" --t "$t" --noise-samples 2 --dataset "$dataset" \
        --prompt none "${learned[@]}" --output-dir "$OUT/prompts"
}
prompts() {
    mkdir -p "$PROMPTS"
    train_and_score synthetic syn coarse 50 0 1 2
    train_and_score synthetic-fg fg up0 50 0
}

# 5. PCA of sketch and photo feature maps (Koley et al.'s Figure 5): four sketch/photo pairs of
#    synthetic-fg (each sketch with the photo it was drawn from), decoder levels 2 and 3 (up1: 4 x 4
#    maps, up2: 8 x 8 at 64 px), at five timesteps, 2 noise draws.
pca() {
    for layer in up1 up2; do
        bench plot pca --backbone sd-mini --layer "$layer" --t 0 --t 50 --t 200 --t 500 --t 800 \
            --dataset synthetic-fg --pair 4 --noise-samples 2 --output "$FIG/pca-$layer.png"
    done
}

# The markdown tables of docs/sd-mini.md, from the results files above.
tables() {
    python benchmarks/sd_mini_tables.py "$OUT" | tee "$OUT/tables.md"
}

main() {
    mkdir -p "$OUT" "$FIG"
    local studies=("$@")
    [ ${#studies[@]} -gt 0 ] || studies=(chance compare sweep noise prompts pca tables)
    for study in "${studies[@]}"; do
        echo "== $study" >&2
        "$study"
    done
}

main "$@"
