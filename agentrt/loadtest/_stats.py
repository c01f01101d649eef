"""Small statistics for capacity searches and A/B runs: confidence intervals of a mean,
a least-squares line with standard errors, and a paired bootstrap of a ratio.

Pure functions over plain numbers (no timing, no I/O), so they are tested with synthetic
data. Example::

    ci = mean_ci([41.0, 39.5, 40.2, 40.8])      # MeanCI(mean=40.1..., half_width=..., n=4)
    ci.relative <= 0.05                          # "stable within 5 %"
    fit = fit_line([10, 20, 40], [0.11, 0.19, 0.41])
    fit.slope, fit.slope_se, fit.predict(30)
    r = bootstrap_ratio([1.0, 1.1, 0.9], [1.2, 1.3, 1.1])   # B / A, paired by round
    r.low, r.high, r.significant
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "LinearFit",
    "MeanCI",
    "RatioCI",
    "bootstrap_ratio",
    "fit_line",
    "fit_plane",
    "log_ratio_interval",
    "mean_ci",
    "t95",
]

# Two-sided 95 % Student t quantiles for 1..30 degrees of freedom.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t95(dof: int) -> float:
    """The two-sided 95 % Student t quantile for ``dof`` degrees of freedom (1.96 above
    30); ``inf`` for ``dof < 1`` (no interval can be given)."""
    if dof < 1:
        return math.inf
    return _T95[dof - 1] if dof <= len(_T95) else 1.96


@dataclass(frozen=True)
class MeanCI:
    """A mean and the half-width of its 95 % confidence interval over ``n`` values."""

    mean: float
    half_width: float
    n: int

    @property
    def relative(self) -> float:
        """``half_width / |mean|``: ``inf`` when the mean is 0 or there is no interval."""
        if self.mean == 0 or math.isinf(self.half_width):
            return math.inf
        return self.half_width / abs(self.mean)


def mean_ci(values: Sequence[float]) -> MeanCI:
    """The mean of ``values`` and its 95 % t interval (``half_width`` is ``inf`` with
    fewer than two values). Raises ValueError on no values."""
    n = len(values)
    if n == 0:
        raise ValueError("mean_ci needs at least one value")
    mean = math.fsum(values) / n
    if n < 2:
        return MeanCI(mean, math.inf, n)
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    return MeanCI(mean, t95(n - 1) * math.sqrt(var / n), n)


@dataclass(frozen=True)
class LinearFit:
    """``y = intercept + slope * x`` fitted by least squares over ``n`` points, with the
    standard errors of both coefficients (0 when the points fit exactly; ``inf`` with
    fewer than three points, where no error can be estimated) and ``r2``."""

    slope: float
    intercept: float
    slope_se: float
    intercept_se: float
    n: int
    r2: float
    x_mean: float = 0.0
    sxx: float = 0.0
    residual_sd: float = 0.0

    def predict(self, x: float) -> float:
        return self.intercept + self.slope * x

    def predict_se(self, x: float) -> float:
        """Standard error of the fitted line's value at ``x`` (the mean response)."""
        if self.n < 3 or self.sxx == 0:
            return math.inf
        return self.residual_sd * math.sqrt(1 / self.n + (x - self.x_mean) ** 2 / self.sxx)


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> LinearFit:
    """Least-squares line through the points ``(xs[i], ys[i])``.

    Raises ValueError when the sequences differ in length, hold fewer than two points,
    or every x is the same (no slope can be fitted)."""
    if len(xs) != len(ys):
        raise ValueError(f"fit_line: {len(xs)} x values but {len(ys)} y values")
    n = len(xs)
    if n < 2:
        raise ValueError("fit_line needs at least two points")
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("fit_line: every x is the same, no slope can be fitted")
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_res = math.fsum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = math.fsum((y - my) ** 2 for y in ys)
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    if n < 3:
        return LinearFit(slope, intercept, math.inf, math.inf, n, r2, mx, sxx, math.inf)
    sd = math.sqrt(ss_res / (n - 2))
    slope_se = sd / math.sqrt(sxx)
    intercept_se = sd * math.sqrt(1 / n + mx * mx / sxx)
    return LinearFit(slope, intercept, slope_se, intercept_se, n, r2, mx, sxx, sd)


def fit_plane(
    x1: Sequence[float], x2: Sequence[float], ys: Sequence[float]
) -> tuple[float, float, float] | None:
    """Least-squares ``y = a + b * x1 + c * x2``: ``(a, b, c)``, or None with fewer than
    three points or when ``x1`` and ``x2`` are collinear (no unique fit). Raises
    ValueError when the sequences differ in length."""
    if not len(x1) == len(x2) == len(ys):
        raise ValueError(f"fit_plane: {len(x1)}, {len(x2)} and {len(ys)} values")
    n = len(ys)
    if n < 3:
        return None
    m1, m2, my = math.fsum(x1) / n, math.fsum(x2) / n, math.fsum(ys) / n
    d1 = [v - m1 for v in x1]
    d2 = [v - m2 for v in x2]
    dy = [v - my for v in ys]
    s11 = math.fsum(a * a for a in d1)
    s22 = math.fsum(b * b for b in d2)
    s12 = math.fsum(a * b for a, b in zip(d1, d2, strict=True))
    s1y = math.fsum(a * y for a, y in zip(d1, dy, strict=True))
    s2y = math.fsum(b * y for b, y in zip(d2, dy, strict=True))
    det = s11 * s22 - s12 * s12
    if det <= 1e-12 * max(s11 * s22, 1e-300):
        return None
    b = (s1y * s22 - s2y * s12) / det
    c = (s2y * s11 - s1y * s12) / det
    return my - b * m1 - c * m2, b, c


@dataclass(frozen=True)
class RatioCI:
    """``ratio = mean(b) / mean(a)`` with its bootstrap interval [``low``, ``high``]
    (``confidence``, default 95 %) over ``rounds`` paired rounds."""

    ratio: float
    low: float
    high: float
    rounds: int
    confidence: float = 0.95

    @property
    def significant(self) -> bool:
        """Whether the interval excludes 1 (B differs from A beyond the noise)."""
        return self.low > 1.0 or self.high < 1.0


def bootstrap_ratio(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RatioCI:
    """``mean(b) / mean(a)`` and its percentile bootstrap interval.

    ``a[i]`` and ``b[i]`` were measured in the same round (interleaved), so rounds are
    resampled as pairs: noise that hit a whole round hits both sides. Deterministic for
    a given ``seed``. Raises ValueError when the lengths differ, there are no rounds,
    ``confidence`` is not in (0, 1), or ``mean(a)`` is 0."""
    if len(a) != len(b):
        raise ValueError(f"bootstrap_ratio: {len(a)} A rounds but {len(b)} B rounds")
    n = len(a)
    if n == 0:
        raise ValueError("bootstrap_ratio needs at least one round")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if math.fsum(a) == 0:
        raise ValueError("bootstrap_ratio: the mean of A is 0, no ratio")
    ratio = math.fsum(b) / math.fsum(a)
    if n == 1:
        return RatioCI(ratio, ratio, ratio, 1, confidence)
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        idx = [rng.randrange(n) for _ in range(n)]
        sa = math.fsum(a[i] for i in idx)
        if sa == 0:
            continue
        ratios.append(math.fsum(b[i] for i in idx) / sa)
    ratios.sort()
    tail = (1 - confidence) / 2
    low = ratios[int(tail * (len(ratios) - 1))]
    high = ratios[math.ceil((1 - tail) * (len(ratios) - 1))]
    return RatioCI(ratio, low, high, n, confidence)


def log_ratio_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """The paired 95 % t interval of the per-round ratio ``b[i] / a[i]``, taken on the
    logarithms (ratios multiply): ``(exp(m - t*s/sqrt(n)), exp(m + t*s/sqrt(n)))``.

    With few rounds the percentile bootstrap's interval is too narrow (three rounds have
    ten distinct resamples); this one widens with Student's t. ``(0, inf)`` with fewer
    than two rounds. Raises ValueError when the lengths differ or a value is not above
    0."""
    if len(a) != len(b):
        raise ValueError(f"log_ratio_interval: {len(a)} A rounds but {len(b)} B rounds")
    if any(x <= 0 for x in (*a, *b)):
        raise ValueError("log_ratio_interval: every value must be above 0")
    n = len(a)
    if n < 2:
        return 0.0, math.inf
    logs = [math.log(y / x) for x, y in zip(a, b, strict=True)]
    ci = mean_ci(logs)
    return math.exp(ci.mean - ci.half_width), math.exp(ci.mean + ci.half_width)
