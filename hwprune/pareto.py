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
from dataclasses import dataclass

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


def pareto_indices(
    points: Sequence[Point],
    directions: Sequence[str],
    costs: Sequence[Sequence[float]] | None = None,
) -> list[int]:
    """Indices of the non-dominated points, in input order.

    ``costs`` (optional, one tuple per point, lower is better, compared lexicographically)
    breaks exact ties: a point equal to another on every objective but with a higher cost is
    dropped, so no front member is matched on every objective by a cheaper one. Without
    ``costs`` (or with equal costs) duplicates are all kept.

    Example:
        >>> pareto_indices([(1.0, 1.0), (2.0, 0.0), (0.5, 0.5)], ["maximize", "maximize"])
        [0, 1]
        >>> pareto_indices([(0.9, 5.0), (0.9, 5.0)], ["maximize", "maximize"],
        ...                costs=[(4000.0,), (2500.0,)])
        [1]
    """
    keys = None if costs is None else [tuple(c) for c in costs]
    mins = [_as_min(p, directions) for p in points]

    def beaten(i: int) -> bool:
        for j in range(len(points)):
            if j == i:
                continue
            if dominates(points[j], points[i], directions):
                return True
            if keys is not None and mins[j] == mins[i] and keys[j] < keys[i]:
                return True
        return False

    return [i for i in range(len(points)) if not beaten(i)]


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


#: the rules :func:`choose` knows
SELECT_RULES = ("max-accuracy", "knee", "max-fps", "min-resources")


@dataclass(frozen=True)
class Selection:
    """What :func:`choose` picked: the point's ``index``, the ``eligible`` indices the rule
    considered, and a one-sentence ``explanation`` an engineer can read in the summary."""

    index: int
    rule: str
    eligible: tuple[int, ...]
    explanation: str


def choose(
    points: Sequence[Point],
    directions: Sequence[str],
    rule: str,
    names: Sequence[str],
    *,
    costs: Sequence[Sequence[float]] | None = None,
    fps: Sequence[float] | None = None,
    fps_within: float = 1.0,
    min_accuracy: float = 0.0,
    accuracy_drop: float = 0.01,
) -> Selection:
    """Pick one design of a front by ``rule``; ties are broken by ``costs`` (lower first).

    Rules:

    * ``max-accuracy``: the most accurate design among those whose frame rate (``fps``, or the
      ``fps`` objective) is within ``fps_within`` (a fraction: 0.1 = 10%) of the best frame
      rate on the front (1.0: any frame rate);
    * ``knee``: :func:`knee_index` (the best compromise, every objective normalised);
    * ``max-fps``: the fastest design (or the lowest latency); ties: higher accuracy;
    * ``min-resources``: the cheapest design (``costs``: e.g. the fraction of the device its
      binding resource uses, then LUTs) among those with accuracy >= ``min_accuracy`` (when > 0)
      or >= the best front accuracy minus ``accuracy_drop``.

    Example:
        >>> pts = [(0.97, 2.5e6), (0.96, 2.5e6), (0.90, 2.5e6)]
        >>> luts = [(0.8,), (0.3,), (0.1,)]
        >>> dirs, names = ["maximize", "maximize"], ["accuracy", "fps"]
        >>> choose(pts, dirs, "min-resources", names, costs=luts, accuracy_drop=0.02).index
        1
        >>> choose(pts, dirs, "max-accuracy", names, costs=luts).index
        0
    """
    if not points:
        raise ValueError("choose needs at least one point")
    names = list(names)
    n = len(points)
    mins = [_as_min(p, directions) for p in points]
    cost = [tuple(c) for c in costs] if costs is not None else [() for _ in range(n)]
    acc_k = names.index("accuracy")
    acc = [float(p[acc_k]) for p in points]
    rates = list(fps) if fps is not None else None
    if rates is None and "fps" in names:
        rates = [float(p[names.index("fps")]) for p in points]
    others = [j for j in range(len(names)) if j != acc_k]
    if rule == "max-accuracy":
        eligible = list(range(n))
        text = "the most accurate design on the front"
        if rates is not None and fps_within < 1.0:
            floor = (1.0 - fps_within) * max(rates)
            eligible = [i for i in eligible if rates[i] >= floor]
            text += (
                f" among those within {fps_within:.0%} of the best frame rate"
                f" (>= {floor:,.0f} frames/s)"
            )
        i = min(eligible, key=lambda i: (mins[i][acc_k], *(mins[i][j] for j in others), cost[i]))
        text += "; ties: better on the other objectives, then fewer resources"
    elif rule == "max-fps":
        key = "fps" if "fps" in names else "latency_us" if "latency_us" in names else None
        if key is None:
            raise ValueError("max-fps needs an 'fps' or 'latency_us' objective")
        k = names.index(key)
        eligible = list(range(n))
        i = min(eligible, key=lambda i: (mins[i][k], mins[i][acc_k], cost[i]))
        text = "the fastest design on the front; ties: higher accuracy, then fewer resources"
    elif rule == "knee":
        eligible = list(range(n))
        i = knee_index(points, directions)
        text = "the knee of the front: each objective normalised over the front, the design " + (
            "farthest above the line joining the two extreme designs (where giving up a "
            "little of one objective buys the most of the other)"
            if len(names) == 2
            else "closest to the ideal point (best on every objective)"
        )
    elif rule == "min-resources":
        if costs is None:
            raise ValueError("min-resources needs the designs' costs")
        need = min_accuracy if min_accuracy > 0 else max(acc) - accuracy_drop
        eligible = [i for i in range(n) if acc[i] >= need - 1e-12]
        if not eligible:  # nothing reaches the required accuracy: the most accurate
            eligible = [max(range(n), key=lambda i: acc[i])]
        i = min(eligible, key=lambda i: (cost[i], mins[i][acc_k]))
        how = (
            f"the required accuracy {min_accuracy:.4f}"
            if min_accuracy > 0
            else f"the best front accuracy minus {accuracy_drop:.4f} ({need:.4f})"
        )
        text = (
            "the design using the least hardware (the device fraction of its binding resource, "
            f"then LUTs) among those with validation accuracy >= {how}; ties: higher accuracy"
        )
    else:
        raise ValueError(f"unknown selection rule {rule!r}")
    return Selection(i, rule, tuple(eligible), text)


def select(
    points: Sequence[Point],
    directions: Sequence[str],
    rule: str,
    names: Sequence[str],
) -> int:
    """Index of the point chosen by ``rule`` among (front) ``points`` (see :func:`choose`).

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
    return choose(points, directions, rule, names).index
