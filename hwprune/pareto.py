"""Pareto fronts, hypervolume and the rules that pick one design from a front (pure functions).

Points are tuples of objective values; ``directions`` says for each objective whether it is
maximised or minimised (``"maximize"`` / ``"minimize"``, as in Optuna).

Example:
    >>> pts = [(0.95, 100.0), (0.90, 400.0), (0.85, 300.0), (0.97, 50.0)]
    >>> pareto_indices(pts, ["maximize", "maximize"])
    [0, 1, 3]
    >>> round(hypervolume(pts, ["maximize", "maximize"], reference=(0.0, 0.0)), 2)
    366.0
    >>> select(pts, ["maximize", "maximize"], "max-fps", ["accuracy", "fps"])
    1
"""

from __future__ import annotations

from collections.abc import Sequence

Point = Sequence[float]


def _as_min(p: Point, directions: Sequence[str]) -> tuple[float, ...]:
    """Point in "minimise everything" form."""
    return tuple(-v if d == "maximize" else v for v, d in zip(p, directions, strict=True))


def dominates(a: Point, b: Point, directions: Sequence[str]) -> bool:
    """True when ``a`` is at least as good as ``b`` everywhere and strictly better somewhere.

    Example:
        >>> dominates((0.9, 10.0), (0.8, 10.0), ["maximize", "maximize"])
        True
    """
    am, bm = _as_min(a, directions), _as_min(b, directions)
    return all(x <= y for x, y in zip(am, bm, strict=True)) and any(
        x < y for x, y in zip(am, bm, strict=True)
    )


def pareto_indices(points: Sequence[Point], directions: Sequence[str]) -> list[int]:
    """Indices of the non-dominated points, in input order (duplicates are all kept).

    Example:
        >>> pareto_indices([(1.0, 1.0), (2.0, 0.0), (0.5, 0.5)], ["maximize", "maximize"])
        [0, 1]
    """
    return [
        i
        for i, p in enumerate(points)
        if not any(dominates(q, p, directions) for j, q in enumerate(points) if j != i)
    ]


def hypervolume(points: Sequence[Point], directions: Sequence[str], reference: Point) -> float:
    """Volume dominated by ``points`` and bounded by ``reference`` (a point worse than all).

    Points that do not strictly improve on ``reference`` in every objective add nothing. Exact
    for any number of objectives (slicing on the first objective; fine for fronts of a few
    hundred points).

    Example:
        >>> hypervolume([(1.0, 1.0)], ["maximize", "maximize"], (0.0, 0.0))
        1.0
        >>> hypervolume([(1.0, 3.0), (2.0, 1.0)], ["minimize", "minimize"], (3.0, 4.0))
        4.0
    """
    ref = _as_min(reference, directions)
    pts = [
        m
        for m in (_as_min(p, directions) for p in points)
        if all(x < r for x, r in zip(m, ref, strict=True))
    ]
    return _hv_min(pts, ref)


def _hv_min(pts: list[tuple[float, ...]], ref: tuple[float, ...]) -> float:
    if not pts:
        return 0.0
    if len(ref) == 1:
        return ref[0] - min(p[0] for p in pts)
    if len(ref) == 2:
        total, best_y = 0.0, ref[1]
        for x, y in sorted(pts):
            if y < best_y:
                total += (ref[0] - x) * (best_y - y)
                best_y = y
        return total
    # slice along the first objective
    xs = sorted({p[0] for p in pts})
    total = 0.0
    for k, x in enumerate(xs):
        upper = xs[k + 1] if k + 1 < len(xs) else ref[0]
        sub = [p[1:] for p in pts if p[0] <= x]
        total += (upper - x) * _hv_min(sub, ref[1:])
    return total


def knee_index(points: Sequence[Point], directions: Sequence[str]) -> int:
    """The "knee" of a front: the best compromise between its objectives.

    Each objective is normalised to [0, 1] over the points (1 = best). With two objectives the
    knee is the point farthest above the straight line joining the two extreme points (where
    giving up a little of one objective buys the most of the other); with more objectives it
    is the point closest to the ideal point (1, ..., 1).

    Example:
        >>> knee_index([(0.99, 1.0), (0.97, 8.0), (0.80, 10.0)], ["maximize", "maximize"])
        1
    """
    if not points:
        raise ValueError("knee_index needs at least one point")
    n = len(directions)
    lows = [min(_as_min(p, directions)[k] for p in points) for k in range(n)]
    highs = [max(_as_min(p, directions)[k] for p in points) for k in range(n)]

    def norm(p: Point) -> list[float]:
        m = _as_min(p, directions)
        return [
            (highs[k] - m[k]) / (highs[k] - lows[k]) if highs[k] > lows[k] else 1.0
            for k in range(n)
        ]

    normed = [norm(p) for p in points]
    if n == 2:
        a = max(range(len(points)), key=lambda i: (normed[i][0], normed[i][1]))
        b = max(range(len(points)), key=lambda i: (normed[i][1], normed[i][0]))
        (x1, y1), (x2, y2) = normed[a], normed[b]
        dx, dy = x2 - x1, y2 - y1
        if dx == 0 and dy == 0:
            return a

        def cross(x: float, y: float) -> float:
            return dx * (y - y1) - dy * (x - x1)

        # signed distance from the chord, positive on the side of the ideal corner (1, 1)
        sign = -1.0 if cross(1.0, 1.0) < 0 else 1.0

        def above(i: int) -> float:
            return sign * cross(*normed[i])

        return max(range(len(points)), key=lambda i: (above(i), normed[i][0]))
    return min(
        range(len(points)),
        key=lambda i: (sum((1.0 - v) ** 2 for v in normed[i]), -normed[i][0]),
    )


def select(
    points: Sequence[Point],
    directions: Sequence[str],
    rule: str,
    names: Sequence[str],
) -> int:
    """Index of the point chosen by ``rule`` among (front) ``points``.

    Rules: ``max-accuracy`` (highest accuracy; ties: better on the next objective),
    ``max-fps`` (highest frames/s, or lowest latency when the objectives have no ``fps``;
    ties: higher accuracy), ``knee`` (:func:`knee_index`).

    Example:
        >>> select([(0.9, 5.0), (0.95, 1.0)], ["maximize", "maximize"], "max-accuracy",
        ...        ["accuracy", "fps"])
        1
    """
    if not points:
        raise ValueError("select needs at least one point")
    names = list(names)
    mins = [_as_min(p, directions) for p in points]
    if rule == "max-accuracy":
        k = names.index("accuracy")
        order = [k] + [j for j in range(len(names)) if j != k]
        return min(range(len(points)), key=lambda i: tuple(mins[i][j] for j in order))
    if rule == "max-fps":
        key = "fps" if "fps" in names else "latency_us" if "latency_us" in names else None
        if key is None:
            raise ValueError("max-fps needs an 'fps' or 'latency_us' objective")
        k = names.index(key)
        acc = names.index("accuracy")
        return min(range(len(points)), key=lambda i: (mins[i][k], mins[i][acc]))
    if rule == "knee":
        return knee_index(points, directions)
    raise ValueError(f"unknown selection rule {rule!r}")
