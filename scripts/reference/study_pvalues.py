#!/usr/bin/env python3
"""Reference p-values for `vqa-mpi study-table`'s difference-to-baseline table (Sources/Dist/Study+Table.swift).

Exact two-sided permutation test of the difference of means between two groups of seeds
(scipy.stats.permutation_test, permutation_type="independent", every split enumerated), for the
cases hard-coded in Tests/DistTests/StudyPermutationTests.swift. Prints one Swift tuple per case.

    python3 scripts/reference/study_pvalues.py
"""
import numpy as np
from scipy.stats import permutation_test

CASES = [
    ([0.1, 0.2, 0.3], [0.4, 0.5, 0.6]),                      # fully separated, 3 vs 3: the smallest p, 0.1
    ([0.556, 0.401, 0.444], [0.172, 0.487, 0.461]),          # the quick study's none vs awp in-domain SRCC
    ([49.4, 5.68, 1.15, 0.221, 0.231, 5.74], [0.0939, 3.29, -1.34, 0.0365, 3.82, 2.05]),  # lambda_max, 6 vs 6
    ([1.0, 2.0, 3.0, 4.0], [2.5, 3.5, 9.0]),                 # unequal sizes (asymmetric null distribution)
    ([0.3, 0.3, 0.3], [0.3, 0.3, 0.3]),                      # no difference at all
]


def main():
    for a, b in CASES:
        r = permutation_test((np.array(a), np.array(b)), lambda x, y: np.mean(x) - np.mean(y),
                             permutation_type="independent", alternative="two-sided", n_resamples=np.inf)
        print(f"({a}, {b}, {float(r.pvalue)!r}),")


if __name__ == "__main__":
    main()
