"""Linear response-rank geometry and completion (SPEC section 5, "Linear form").

A candidate is a vector ``theta`` in R^d; a probe ``k`` measures ``<k, theta>``. The benchmark
measured the probes stacked as the rows of ``B``. A deployment probe ``k*`` is determined by the
benchmark only when it lies in the span of those rows; how far it lies outside is its residual
``g = ||(I - P_B) k*||``. A candidate whose admissible set has radius ``R_c`` (every ``theta``
consistent with the benchmark lies within ``R_c`` of the estimate along the unmeasured
directions) has its deployment response pinned to ``est +- R_c * g``: it is certified for a
threshold decision when that interval excludes the threshold for every deployment probe.

Completion adds probes (rows of ``B``) from a pool; each one shrinks the residuals. Five
selection policies are provided (:data:`PROBE_POLICIES`, a registry of scoring functions), the
five of the paper's controlled experiment; see :func:`select_linear_probes` for their exact
definitions.
"""

from __future__ import annotations

import numpy as np

from ..errors import DcbError

def _probes(a, name: str, d: int | None = None, ref: str = "the deployment probes") -> np.ndarray:
    """Probes as a float (m, d) matrix; one probe may be given as a vector."""
    x = np.asarray(a, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :] if x.size or d is None else x.reshape(0, d)
    if x.ndim != 2:
        raise DcbError(f"{name} must be a vector or a matrix with one probe per row, got shape {x.shape}")
    if d is not None and x.shape[1] != d:
        raise DcbError(f"{name} have dimension {x.shape[1]}, but {ref} have dimension {d}; "
                       "all probes must have the same length")
    if not np.all(np.isfinite(x)):
        raise DcbError(f"{name} holds NaN or infinite entries; probes must be finite")
    return x


def default_tol(B) -> float:
    """The rank tolerance used when none is given: ``max(m, d) * eps * (largest probe norm)``,
    numpy's ``matrix_rank`` rule with the largest column norm of ``B^T`` standing in for the
    largest singular value (they agree within a factor ``sqrt(m)``)."""
    B = np.atleast_2d(np.asarray(B, dtype=np.float64))
    if B.size == 0:
        return 0.0
    return max(B.shape) * np.finfo(np.float64).eps * float(np.linalg.norm(B, axis=1).max())


def probe_basis(B, tol: float | None = None) -> np.ndarray:
    """Orthonormal basis ``Q`` (d x rank) of the span of the benchmark probes (rows of ``B``).

    This is the Q factor of a QR factorisation of ``B^T`` with column pivoting, keeping the
    rank(B) columns whose pivot (the norm of what is left of the next-largest probe after
    removing the directions already kept) exceeds ``tol`` (default :func:`default_tol`).
    Pivoting matters: plain QR keeps a meaningless column for a probe that repeats earlier ones
    and can then drop a later, independent probe. Each new direction is orthogonalised twice
    against the kept ones, so ``Q^T Q = I`` to rounding even for nearly dependent probes.

    >>> Q = probe_basis([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    >>> Q.shape, bool(np.allclose(Q @ Q.T, np.diag([1.0, 1.0, 0.0])))
    ((3, 2), True)
    """
    B = _probes(B, "the benchmark probes")
    m, d = B.shape
    if tol is None:
        tol = default_tol(B)
    if tol < 0 or not np.isfinite(tol):
        raise DcbError(f"rank tolerance must be a finite number >= 0, got {tol}")
    left = B.T.copy()  # columns: what each probe has outside the span kept so far
    kept: list[np.ndarray] = []
    for _ in range(min(m, d)):
        norms = np.linalg.norm(left, axis=0)
        j = int(np.argmax(norms))
        if norms[j] <= tol:
            break
        q = left[:, j] / norms[j]
        if kept:
            Qk = np.column_stack(kept)
            q = q - Qk @ (Qk.T @ q)
            q /= np.linalg.norm(q)
        kept.append(q)
        left -= np.outer(q, q @ left)
    if not kept:
        return np.zeros((d, 0))
    return np.column_stack(kept)


def probe_projector(B, tol: float | None = None) -> np.ndarray:
    """``P_B = Q Q^T``: the orthogonal projector onto the span of the rows of ``B``.

    >>> probe_projector([[3.0, 0.0]]).tolist()
    [[1.0, 0.0], [0.0, 0.0]]
    """
    Q = probe_basis(B, tol)
    return Q @ Q.T


def rank(B, tol: float | None = None) -> int:
    """rank(B) at the tolerance of :func:`probe_basis`.

    >>> rank([[1.0, 1.0], [2.0, 2.0]])
    1
    """
    return probe_basis(B, tol).shape[1]


def _residuals_q(Q: np.ndarray, K: np.ndarray) -> np.ndarray:
    return np.linalg.norm(K - (K @ Q) @ Q.T, axis=1)


def deployment_residuals(B, K, tol: float | None = None) -> np.ndarray:
    """Residuals ``g_j = ||(I - P_B) k_j||`` of deployment probes ``K`` (one per row, or one
    vector) against the benchmark probes ``B``. ``g_j = 0`` exactly when the benchmark
    determines the response of probe j. ``B`` may have no rows (then ``g_j = ||k_j||``).

    >>> deployment_residuals([[1.0, 0.0, 0.0]], [[0.6, 0.8, 0.0], [1.0, 0.0, 0.0]]).round(12).tolist()
    [0.8, 0.0]
    """
    K = _probes(K, "the deployment probes")
    d = K.shape[1]
    B = _probes(B, "the benchmark probes", d)
    Q = probe_basis(B, tol) if len(B) else np.zeros((d, 0))
    return _residuals_q(Q, K)


def certify_candidates(estimates, radius, g, threshold: float = 0.0) -> np.ndarray:
    """Certified candidates: for every deployment probe j, the interval
    ``est_j +- R_c * g_j`` excludes ``threshold`` (strictly: ``|est_j - t| > R_c g_j``).

    ``estimates`` is (n,) (one estimate per candidate, shared by all deployment probes) or
    (n, k) (one per candidate and probe); ``radius`` is (n,) or a scalar; ``g`` is (k,).

    >>> certify_candidates([0.5, -0.1, 0.0], radius=0.2, g=[1.0, 0.5]).tolist()
    [True, False, False]
    """
    est = np.asarray(estimates, dtype=np.float64)
    g = np.atleast_1d(np.asarray(g, dtype=np.float64))
    if g.ndim != 1 or np.any(g < 0) or not np.all(np.isfinite(g)):
        raise DcbError("residuals g must be a vector of finite numbers >= 0")
    if est.ndim not in (1, 2) or (est.ndim == 2 and est.shape[1] != len(g)):
        raise DcbError(f"estimates must have shape (n,) or (n, {len(g)}), got {est.shape}")
    r = np.asarray(radius, dtype=np.float64)
    if r.ndim > 1 or (r.ndim == 1 and len(r) != len(est)):
        raise DcbError(f"radius must be a scalar or one value per candidate ({len(est)}), got shape {r.shape}")
    if np.any(r < 0):
        raise DcbError("admissible radii must be >= 0")
    margin = np.abs(est - threshold)
    if est.ndim == 1:
        margin = margin[:, None]
    half = np.broadcast_to(r, (len(est),))[:, None] * g[None, :]
    return np.all(margin > half, axis=1)


def _unit(X: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, n, out=np.zeros_like(X), where=n > 0)


class ProbeState:
    """What a probe-choice policy sees at one step: the current probes ``S`` (rows of ``B``
    plus the picks so far) and an orthonormal basis ``Q`` of their span, the deployment probes
    ``K``, the pool (``unit`` = its rows normalised), the rank tolerance, and for ``random`` the
    seeded order of the pool."""

    def __init__(self, S, K, pool, tol, order):
        self.S, self.K, self.pool, self.unit, self.tol, self.order = S, K, pool, _unit(pool), tol, order
        self.Q = probe_basis(S, tol) if len(S) else np.zeros((K.shape[1], 0))


def _score_residual_greedy(st: ProbeState, free: list[int]) -> np.ndarray:
    # minus the largest deployment residual once q joins the probes
    return -np.array([_residuals_q(probe_basis(np.vstack([st.S, st.pool[i]]), st.tol), st.K).max() for i in free])


def _score_uncertainty(st: ProbeState, free: list[int]) -> np.ndarray:
    resid = st.K - (st.K @ st.Q) @ st.Q.T
    if np.linalg.norm(resid) < 1e-10:  # every deployment response determined: no direction left
        return np.zeros(len(free))
    v = np.linalg.svd(resid, full_matrices=False)[2][0]
    return (st.unit[free] @ v) ** 2


def _score_diversity(st: ProbeState, free: list[int]) -> np.ndarray:
    return _residuals_q(st.Q, st.unit[free])


def _score_benchmark_aligned(st: ProbeState, free: list[int]) -> np.ndarray:
    return np.linalg.norm(st.unit[free] @ st.Q, axis=1)


def _score_random(st: ProbeState, free: list[int]) -> np.ndarray:
    position = np.empty(len(st.order), dtype=np.float64)
    position[st.order] = np.arange(len(st.order))
    return -position[free]


#: Probe-choice policies of SPEC section 5 by name: each scores the free pool probes
#: (``score(state: ProbeState, free: list[int]) -> array``, higher is better).
PROBE_POLICIES = {
    "residual_greedy": _score_residual_greedy,
    "uncertainty": _score_uncertainty,
    "diversity": _score_diversity,
    "benchmark_aligned": _score_benchmark_aligned,
    "random": _score_random,
}
POLICIES = tuple(PROBE_POLICIES)


def select_linear_probes(B, K, pool, n_probes: int, policy: str = "residual_greedy", seed=None,
                  tol: float | None = None) -> list[int]:
    """Pick ``n_probes`` probes (indices into ``pool``, in order of addition) to add to ``B``.

    Policies (:data:`PROBE_POLICIES`, SPEC section 5). Each step scores every pool probe not yet
    picked against the current probes ``S`` (rows of ``B`` plus the picks so far; ``q`` is the
    pool probe normalised, ``P`` the projector onto the span of ``S``) and takes the best;
    scores within 1e-12 of the best are ties, and the lowest pool index wins:

    - ``residual_greedy``: the smallest largest deployment residual
      ``max_j ||(I - P_{S+q}) k_j||``.
    - ``uncertainty``: the largest ``cos^2(q, v)``, ``v`` the leading right singular vector of
      the residual matrix ``K (I - P)`` of the deployment probes (all scores 0 once that matrix
      vanishes).
    - ``diversity``: the largest residual of ``q`` itself, ``||(I - P) q||``.
    - ``benchmark_aligned``: the largest ``||P q||`` (against the current span).
    - ``random``: the order ``numpy.random.default_rng(seed).permutation(len(pool))``.

    >>> B = [[1.0, 0, 0]]; K = [[0, 0.6, 0.8]]; pool = [[1.0, 1, 0], [0, 0, 1], [0, 1, 0]]
    >>> select_linear_probes(B, K, pool, 1), select_linear_probes(B, K, pool, 2)
    ([1], [1, 0])
    >>> select_linear_probes(B, K, pool, 1, "diversity"), select_linear_probes(B, K, pool, 1, "benchmark_aligned")
    ([1], [0])
    """
    if policy not in PROBE_POLICIES:
        raise DcbError(f"unknown probe-selection policy '{policy}'; use one of {', '.join(POLICIES)}")
    K = _probes(K, "the deployment probes")
    d = K.shape[1]
    B = _probes(B, "the benchmark probes", d)
    pool = _probes(pool, "the pool probes", d)
    if not 0 <= int(n_probes) <= len(pool):
        raise DcbError(f"cannot pick {n_probes} probes from a pool of {len(pool)}")
    score_fn = PROBE_POLICIES[policy]
    order = np.random.default_rng(seed).permutation(len(pool)) if policy == "random" else None
    chosen: list[int] = []
    S = B.copy()
    for _ in range(int(n_probes)):
        free = [i for i in range(len(pool)) if i not in chosen]
        score = np.asarray(score_fn(ProbeState(S, K, pool, tol, order), free), dtype=np.float64)
        # rounding must not break exact ties (two probes completing the same span): scores
        # within 1e-12 of the best count as tied and the lowest pool index wins
        pick = free[int(np.flatnonzero(score >= score.max() - 1e-12)[0])]
        chosen.append(pick)
        S = np.vstack([S, pool[pick]])
    return chosen


def linear_completion_curve(B, K, pool, estimates, radius, n_probes: int, policy: str = "residual_greedy",
                     threshold: float = 0.0, seed=None, tol: float | None = None) -> list[dict]:
    """The linear completion curve: one row per step (step 0 = the benchmark alone) with the
    probe added (pool index), the deployment residuals, their maximum and the certified
    fraction of the candidates (:func:`certify_candidates`).

    >>> B = [[1.0, 0, 0]]; K = [[0, 0.6, 0.8]]; pool = [[0, 0, 1.0], [0, 1.0, 0]]
    >>> [round(s["certified_fraction"], 2) for s in linear_completion_curve(B, K, pool, [0.5, 0.1], 0.5, 2)]
    [0.0, 0.5, 1.0]
    """
    K = _probes(K, "the deployment probes")
    B = _probes(B, "the benchmark probes", K.shape[1])
    picks = select_linear_probes(B, K, pool, n_probes, policy, seed, tol)
    pool = _probes(pool, "the pool probes", K.shape[1])
    out = []
    for step in range(len(picks) + 1):
        S = np.vstack([B, pool[picks[:step]]])
        g = deployment_residuals(S, K, tol)
        cert = certify_candidates(estimates, radius, g, threshold)
        out.append({
            "step": step,
            "probe": picks[step - 1] if step else None,
            "residuals": g,
            "max_residual": float(g.max()),
            "certified_fraction": float(cert.mean()) if len(cert) else 0.0,
        })
    return out
