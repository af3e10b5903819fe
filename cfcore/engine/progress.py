"""A progress display for long fits: tqdm behind the course modules' ``callback``."""

from __future__ import annotations


class ProgressBar:
    """A progress display for long fits, to pass as ``callback`` to ``run`` (em, naive_em, kmeans).

        with ProgressBar("EM K=12") as show:
            mixture, post, ll = em.run(X, mixture, post, callback=show)

    Shows the iteration, the objective (log-likelihood, or k-means' cost) and its relative
    change |new - old| / |new|, the quantity EM's stopping rule compares with 1e-6. It uses
    ``tqdm.auto``: a widget in Jupyter, a text line on a terminal (written to stderr).
    ``enabled=False`` makes it a no-op, so callers can keep one code path. The bar appears at
    the first iteration; leave it with ``with`` (or call ``close()``) when the fit ends.
    """

    def __init__(self, description: str = "EM", *, enabled: bool = True, leave: bool = False):
        self.description, self.enabled, self.leave = description, enabled, leave
        self.bar, self.previous = None, None

    def __call__(self, iteration: int, objective: float, mixture=None) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            self.bar = tqdm(desc=self.description, unit="it", leave=self.leave)
        change = (
            float("nan")
            if self.previous is None
            else abs(objective - self.previous) / max(abs(objective), 1e-300)
        )
        self.previous = objective
        self.bar.set_postfix(
            objective=f"{objective:.6g}", rel_change=f"{change:.2e}", refresh=False
        )
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False
