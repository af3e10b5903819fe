"""The evaluation's results as a table and as JSON rows (what the CLI prints)."""

from __future__ import annotations

from .protocol import Result
from .support import SUPPORT_LABELS

#: decimals shown in the table and in the JSON (the JSON is what the table shows)
RMSE_DECIMALS, SECONDS_DECIMALS = 4, 2
#: the support breakdowns: (JSON key prefix, what the table's title says the bins count)
SUPPORT_SIDES = (("item", "item's"), ("user", "user's"))
#: what the table shows for a bin without test ratings (the JSON has null)
EMPTY_BIN = "-"


def _rounded(breakdown: dict[str, float | None]) -> dict[str, float | None]:
    return {k: None if v is None else round(v, RMSE_DECIMALS) for k, v in breakdown.items()}


def as_records(results: list[Result]) -> list[dict]:
    """The table as JSON-ready dicts: model, rmse_mean, rmse_folds, mae_mean, fit_seconds,
    and rmse_by_item_support, n_by_item_support, rmse_by_user_support, n_by_user_support:
    {bin label: RMSE pooled over the folds (null for an empty bin), number of test ratings}.
    """
    return [
        {
            "model": r.model,
            "rmse_mean": round(r.rmse_mean, RMSE_DECIMALS),
            "rmse_folds": [round(x, RMSE_DECIMALS) for x in r.rmse_folds],
            "mae_mean": round(r.mae_mean, RMSE_DECIMALS),
            "fit_seconds": round(r.fit_seconds, SECONDS_DECIMALS),
            "rmse_by_item_support": _rounded(r.rmse_by_item_support),
            "n_by_item_support": dict(r.n_by_item_support),
            "rmse_by_user_support": _rounded(r.rmse_by_user_support),
            "n_by_user_support": dict(r.n_by_user_support),
        }
        for r in results
    ]


def format_table(results: list[Result]) -> str:
    """A plain-text table of ``as_records``, in three blocks separated by a blank line.

    First one row per model, one RMSE column per fold; then the RMSE by the item's number
    of training ratings, one column per bin with its test-rating count under the label
    (pooled over the folds; "-" for an empty bin); then the same by the user's. The folds
    and the counts are those of the first result (evaluate scores every model on the
    same folds).
    """
    if not results:
        return ""
    records = as_records(results)
    blocks = [_folds_block(results, records)]
    blocks += [_support_block(records, side, whose) for side, whose in SUPPORT_SIDES]
    return "\n\n".join(blocks)


def _folds_block(results: list[Result], records: list[dict]) -> str:
    """RMSE per fold, its mean, the mean MAE and fit seconds: one row per model."""
    fold_names = results[0].folds
    fold_widths = [max(7, len(name)) for name in fold_names]
    width = max(len("model"), *(len(r["model"]) for r in records))
    header = f"{'model':<{width}}  {'RMSE mean':>9}  "
    header += "  ".join(f"{f:>{w}}" for f, w in zip(fold_names, fold_widths, strict=True))
    header += f"  {'MAE mean':>8}  {'fit s/fold':>10}"
    lines = [header, "-" * len(header)]
    for r in records:
        cells = zip(r["rmse_folds"], fold_widths, strict=True)
        folds = "  ".join(f"{x:>{w}.{RMSE_DECIMALS}f}" for x, w in cells)
        lines.append(
            f"{r['model']:<{width}}  {r['rmse_mean']:>9.{RMSE_DECIMALS}f}  {folds}"
            f"  {r['mae_mean']:>8.{RMSE_DECIMALS}f}  {r['fit_seconds']:>10.{SECONDS_DECIMALS}f}"
        )
    return "\n".join(lines)


def _support_block(records: list[dict], side: str, whose: str) -> str:
    """RMSE by support bin, one row per model, under a header of labels and counts."""
    counts = [f"{n:,}" for n in records[0][f"n_by_{side}_support"].values()]
    widths = [max(7, len(label), len(n)) for label, n in zip(SUPPORT_LABELS, counts, strict=True)]
    width = max(len("test ratings"), *(len(r["model"]) for r in records))

    def row(first: str, cells) -> str:
        return f"{first:<{width}}  " + "  ".join(
            f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)
        )

    header = [row("model", SUPPORT_LABELS), row("test ratings", counts)]
    lines = [f"RMSE by the {whose} number of training ratings (pooled over folds)", *header]
    lines.append("-" * len(header[0]))
    for r in records:
        rmses = r[f"rmse_by_{side}_support"].values()
        cells = [EMPTY_BIN if x is None else f"{x:.{RMSE_DECIMALS}f}" for x in rmses]
        lines.append(row(r["model"], cells))
    return "\n".join(lines)
