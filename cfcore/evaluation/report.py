"""The evaluation's results as a table and as JSON rows (what the CLI prints)."""

from __future__ import annotations

from .protocol import Result

#: decimals shown in the table and in the JSON (the JSON is what the table shows)
RMSE_DECIMALS, SECONDS_DECIMALS = 4, 2


def as_records(results: list[Result]) -> list[dict]:
    """The table as JSON-ready dicts: model, rmse_mean, rmse_folds, mae_mean, fit_seconds."""
    return [
        {
            "model": r.model,
            "rmse_mean": round(r.rmse_mean, RMSE_DECIMALS),
            "rmse_folds": [round(x, RMSE_DECIMALS) for x in r.rmse_folds],
            "mae_mean": round(r.mae_mean, RMSE_DECIMALS),
            "fit_seconds": round(r.fit_seconds, SECONDS_DECIMALS),
        }
        for r in results
    ]


def format_table(results: list[Result]) -> str:
    """A plain-text table of ``as_records``: one row per model, one RMSE column per fold."""
    if not results:
        return ""
    records = as_records(results)
    fold_names = results[0].folds
    width = max(len("model"), *(len(r["model"]) for r in records))
    header = f"{'model':<{width}}  {'RMSE mean':>9}  " + "  ".join(f"{f:>7}" for f in fold_names)
    header += f"  {'MAE mean':>8}  {'fit s/fold':>10}"
    lines = [header, "-" * len(header)]
    for r in records:
        folds = "  ".join(f"{x:>7.{RMSE_DECIMALS}f}" for x in r["rmse_folds"])
        lines.append(
            f"{r['model']:<{width}}  {r['rmse_mean']:>9.{RMSE_DECIMALS}f}  {folds}"
            f"  {r['mae_mean']:>8.{RMSE_DECIMALS}f}  {r['fit_seconds']:>10.{SECONDS_DECIMALS}f}"
        )
    return "\n".join(lines)
