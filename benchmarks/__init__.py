"""Side-by-side benchmarks: ours vs the reference code, measured in the same run, as ratios."""
