"""data.kmeans against naive loops: the returned clustering is a Lloyd fixed point (every
point with its nearest centre, every centre the mean of its points), J never rises,
separated blobs are found, bad input is refused, and CuPy agrees with NumPy."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinygen as tg
from tinygen.models.gans import kmeans


def naive_nearest(x, centres):
    """For each point, loop over the centres and keep the closest (first on ties)."""
    nearest = []
    for point in x:
        best, best_d = None, np.inf
        for k, centre in enumerate(centres):
            d = sum((p - c) ** 2 for p, c in zip(point, centre))
            if d < best_d:
                best, best_d = k, d
        nearest.append(best)
    return np.array(nearest)


def naive_objective(x, centres, assignment):
    return sum(sum((p - c) ** 2 for p, c in zip(point, centres[a])) for point, a in zip(x, assignment))


points = st.integers(0, 2**31 - 1).flatmap(lambda seed: st.tuples(
    st.just(np.random.default_rng(seed).normal(size=(int(seed % 40) + 12, int(seed % 3) + 1))),
    st.integers(1, 5)))


@given(points)
def test_result_is_a_lloyd_fixed_point_and_the_objective_never_rises(case):
    x, k = case
    centres, assignment, objectives = kmeans(x, k, max_iter=500)
    # converged: each point sits with its nearest centre, each centre is its points' mean
    np.testing.assert_array_equal(assignment, naive_nearest(x, centres))
    for j in range(k):
        members = x[assignment == j]
        assert len(members) > 0, "an empty cluster"
        np.testing.assert_allclose(centres[j], members.mean(0), atol=1e-12)
    assert all(later <= earlier + 1e-9 for earlier, later in zip(objectives, objectives[1:]))
    assert objectives[-1] == pytest.approx(naive_objective(x, centres, assignment), rel=1e-9)


def test_separated_blobs_are_found_exactly():
    rng = np.random.default_rng(1)
    means = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    truth = np.repeat(np.arange(4), 50)
    x = (means[truth] + rng.normal(scale=0.5, size=(200, 2))).astype(np.float32)
    centres, assignment, _ = kmeans(x, 4, seed=3)
    # the same partition up to renaming: each cluster holds exactly one blob
    pairs = {(a, t) for a, t in zip(assignment.tolist(), truth.tolist())}
    assert len(pairs) == 4 and centres.dtype == np.float32
    np.testing.assert_allclose(np.sort(centres, axis=0), np.sort(means, axis=0), atol=0.3)


def test_k_equal_to_n_gives_every_point_its_own_cluster():
    x = np.random.default_rng(0).normal(size=(6, 3))
    centres, assignment, objectives = kmeans(x, 6)
    assert sorted(assignment.tolist()) == list(range(6)) and objectives[-1] == pytest.approx(0.0, abs=1e-12)


def test_chunked_distances_give_the_same_clustering():
    x = np.random.default_rng(2).normal(size=(100, 4))
    a = kmeans(x, 5, seed=0)
    b = kmeans(x, 5, seed=0, chunk=7)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0])


def test_bad_input_is_refused_with_a_fix():
    x = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError, match="flatten"):
        kmeans(np.zeros((5, 2, 2), np.float32), 2)
    with pytest.raises(ValueError, match="between 1 and the number of points"):
        kmeans(x, 6)
    with pytest.raises(TypeError, match="astype"):
        kmeans(x.astype(np.uint8), 2)


@pytest.mark.cupy
def test_cupy_matches_numpy():
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.normal(loc, 0.3, size=(40, 3)) for loc in (0.0, 4.0, 8.0)]).astype(np.float32)
    centres, assignment, _ = kmeans(x, 3, seed=1)
    xp = tg.backend.module("cupy")
    gpu_centres, gpu_assignment, _ = kmeans(xp.asarray(x), 3, seed=1)
    np.testing.assert_array_equal(assignment, xp.asnumpy(gpu_assignment))
    np.testing.assert_allclose(centres, xp.asnumpy(gpu_centres), rtol=1e-5, atol=1e-5)
