"""k-means clustering: Lloyd's algorithm with k-means++ seeding.

Given points x_n (rows of an (N, D) array) and K centres μ_k, alternate

    assign   a_n = argmin_k ‖x_n − μ_k‖² = argmin_k (‖μ_k‖² − 2 x_n·μ_k)
             (‖x_n‖² is the same for every k, so it is left out)
    update   μ_k = mean of {x_n : a_n = k}

until no assignment changes. Neither step can raise the objective

    J = Σ_n ‖x_n − μ_{a_n}‖²,

so J only falls. Seeding (k-means++, Arthur & Vassilvitskii 2007): the first centre
is a uniformly drawn point, each next one a point drawn with probability ∝ d_n²,
its squared distance to the nearest centre chosen so far.

A cluster left empty by an update gets the point that is worst served (largest
‖x_n − μ_{a_n}‖²) as its new centre, so all K clusters stay in use.

It runs on NumPy or CuPy arrays alike (the array module comes from x). It is
data preparation, not part of a training step, so it reads values back to the
host freely (the convergence test and the seeding draws).
"""
from __future__ import annotations

import numpy as np

from ...backend import get_array_module, to_numpy


def _nearest(x, centres, chunk):
    """(a, d²): index of each point's nearest centre and its squared distance, in chunks of
    rows so that the (rows, K) distance block stays small."""
    xp = get_array_module(x)
    centre_norms = (centres * centres).sum(1)
    assignment = xp.empty(len(x), dtype=np.int64)
    sq_dist = xp.empty(len(x), dtype=x.dtype)
    for s in range(0, len(x), chunk):
        rows = x[s:s + chunk]
        partial = centre_norms - 2.0 * (rows @ centres.T)           # ‖μ_k‖² − 2 x·μ_k
        a = partial.argmin(1)
        assignment[s:s + chunk] = a
        # add ‖x‖² back; clip the tiny negatives that float rounding can leave
        sq_dist[s:s + chunk] = xp.maximum(partial[xp.arange(len(rows)), a] + (rows * rows).sum(1), 0)
    return assignment, sq_dist


def _seed_centres(x, k, rng, chunk):
    """k-means++: each new centre drawn with probability ∝ its squared distance d² to the
    centres so far."""
    xp = get_array_module(x)
    centres = x[[int(rng.integers(len(x)))]]
    sq_dist = _nearest(x, centres, chunk)[1]
    for _ in range(1, k):
        p = to_numpy(sq_dist).astype(np.float64)
        total = p.sum()
        index = int(rng.choice(len(x), p=p / total)) if total > 0 else int(rng.integers(len(x)))
        new = x[[index]]
        centres = xp.concatenate([centres, new])
        sq_dist = xp.minimum(sq_dist, _nearest(x, new, chunk)[1])
    return centres


def kmeans(x, k, max_iter=100, seed=0, chunk=8192):
    """Cluster the rows of x (N, D) into k groups.

    Returns (centres (k, D), assignment (N,) int64, objectives): ``objectives`` lists J
    after each assignment step, so it never increases.
    """
    if x.ndim != 2:
        raise ValueError(f"kmeans expects an (N, D) array of points, got shape {tuple(x.shape)}; "
                         f"flatten images first, e.g. x.reshape(len(x), -1)")
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be between 1 and the number of points ({len(x)}), got {k}")
    if x.dtype.kind != "f":
        raise TypeError(f"kmeans needs floating-point points, got {x.dtype}; convert them, "
                        f"e.g. x.astype(np.float32) / 255")
    xp = get_array_module(x)
    rng = np.random.default_rng(seed)
    centres = _seed_centres(x, k, rng, chunk)
    assignment, objectives = None, []
    for _ in range(max_iter):
        new_assignment, sq_dist = _nearest(x, centres, chunk)
        objectives.append(float(sq_dist.sum()))
        if assignment is not None and bool((new_assignment == assignment).all()):
            break
        assignment = new_assignment
        # μ_k = (Σ_{a_n = k} x_n) / N_k as one GEMM: onehot(a)ᵀ x
        onehot = (assignment[:, None] == xp.arange(k)[None, :]).astype(x.dtype)
        counts = onehot.sum(0)
        sums = onehot.T @ x
        centres = sums / xp.maximum(counts, 1)[:, None]
        for empty in to_numpy(xp.nonzero(counts == 0)[0]):     # rare: re-seed at the worst-served point
            worst = int(sq_dist.argmax())
            centres[empty] = x[worst]
            sq_dist[worst] = 0
    return centres, assignment, objectives
