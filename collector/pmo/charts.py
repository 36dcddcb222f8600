"""The report's charts, drawn with matplotlib and returned as inline SVG text.

Each chart is a :class:`matplotlib.figure.Figure` (no pyplot global state, safe in threads) saved
as SVG with text kept as text, so the HTML stays one self-contained file that prints sharply.
Trend charts show the organisation, the portfolios and (up to :data:`MAX_TEAM_LINES`) the teams,
with the band thresholds as dashed horizontal lines labelled with the level they start.
"""

from __future__ import annotations

import io

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from collector.pmo.trends import LEVELS, NO_DATA, TREND_METRICS
from metrics.levels import BAND_METRICS, load_band_table

mpl.rcParams["svg.fonttype"] = "none"
mpl.rcParams["svg.hashsalt"] = "delivery-metrics"
MAX_TEAM_LINES = 12
LEVEL_COLOURS = {"elite": "#1a9850", "high": "#91cf60", "medium": "#fdae61", "low": "#d73027", NO_DATA: "#bdbdbd"}
#: metric → (axis label, factor from the stored unit to the plotted one, y scale)
AXES: dict[str, tuple[str, float, str]] = {
    "deployment_frequency": ("deployments per day", 1.0, "symlog"),
    "lead_time": ("lead time p50 (hours)", 1 / 3600, "log"),
    "change_failure_rate": ("change failure rate (%)", 100.0, "linear"),
    "recovery_time": ("failed-deployment recovery p50 (hours)", 1 / 3600, "log"),
    "time_to_restore": ("time to restore p50 (hours)", 1 / 3600, "log"),
    "rework_rate": ("rework rate (%)", 100.0, "linear"),
}
TITLES = {
    "deployment_frequency": "Deployment frequency",
    "lead_time": "Change lead time",
    "change_failure_rate": "Change failure rate",
    "recovery_time": "Failed-deployment recovery time",
    "time_to_restore": "Time to restore service",
    "rework_rate": "Rework rate",
}


def to_svg(figure: Figure) -> str:
    """The figure as an inline ``<svg>`` element (XML prolog and DOCTYPE removed)."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def trend_chart(trends: pd.DataFrame, metric: str, band_table: str) -> str:
    """SVG line chart of ``metric`` per period, with the band thresholds drawn."""
    column, _ = TREND_METRICS[metric]
    label, factor, scale = AXES[metric]
    periods = list(dict.fromkeys(trends["period"]))
    positions = {period: index for index, period in enumerate(periods)}
    figure = Figure(figsize=(9, 3.6))
    axes = figure.add_subplot()
    teams = sorted(trends.loc[trends["scope"] == "team", "name"].dropna().unique())
    series: list[tuple[str, str | None, dict[str, object]]] = [("organisation", None, {"color": "black", "lw": 2.6})]
    series += [("portfolio", name, {"lw": 1.8, "ls": "--"}) for name in
               sorted(trends.loc[trends["scope"] == "portfolio", "name"].dropna().unique())]  # fmt: skip
    if len(teams) <= MAX_TEAM_LINES:
        series += [("team", name, {"lw": 1.0, "alpha": 0.85}) for name in teams]
    plotted: list[float] = []
    for scope, name, style in series:
        part = trends[(trends["scope"] == scope) & (trends["name"].isna() if name is None else trends["name"] == name)]
        values = pd.to_numeric(part[column], errors="coerce") * factor
        if scale == "log":
            values = values.where(values > 0)
        if values.notna().any():
            plotted.extend(values.dropna().tolist())
            caption = "organisation" if name is None else (f"{name} (portfolio)" if scope == "portfolio" else name)
            axes.plot(part["period"].map(positions), values, marker="o", ms=3, label=caption, **style)  # type: ignore[arg-type]
    table = load_band_table(band_table)
    for rule in table.rules.get(metric, ()):
        value = rule.threshold * factor
        axes.axhline(value, color=LEVEL_COLOURS.get(rule.level, "grey"), ls=":", lw=1.2, zorder=0)
        axes.annotate(
            f"{rule.level} {rule.op} {value:.3g}",
            xy=(1.0, value), xycoords=("axes fraction", "data"), xytext=(4, 0), textcoords="offset points",
            va="center", fontsize=7, color=LEVEL_COLOURS.get(rule.level, "grey"),
        )  # fmt: skip
    if scale == "symlog":
        axes.set_yscale("symlog", linthresh=0.01)
        axes.set_ylim(bottom=0)
    elif scale == "log" and plotted:
        axes.set_yscale("log")
    axes.set_xticks(range(len(periods)), periods, rotation=45 if len(periods) > 8 else 0, fontsize=8)
    axes.set_ylabel(label, fontsize=8)
    axes.set_title(TITLES[metric], fontsize=10, loc="left")
    axes.grid(axis="y", alpha=0.25)
    if plotted:
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.12, 1.0), frameon=False)
    else:
        axes.text(0.5, 0.5, "no data in the period", transform=axes.transAxes, ha="center", color="grey")
    return to_svg(figure)


def level_curve_chart(counts: pd.DataFrame) -> str:
    """SVG of the transformation curve: stacked bars of teams per level per period, one panel per
    banded metric."""
    figure = Figure(figsize=(10, 5.6))
    periods = list(dict.fromkeys(counts["period"]))
    for index, metric in enumerate(BAND_METRICS):
        axes = figure.add_subplot(2, 2, index + 1)
        part = counts[counts["metric"] == metric]
        bottom = [0.0] * len(periods)
        for level in (NO_DATA, *reversed(LEVELS)):
            heights = [
                float(part.loc[(part["period"] == p) & (part["level"] == level), "count"].sum()) for p in periods
            ]
            axes.bar(range(len(periods)), heights, bottom=bottom, color=LEVEL_COLOURS[level], label=level, width=0.7)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        axes.set_title(TITLES[metric], fontsize=9, loc="left")
        axes.set_xticks(range(len(periods)), periods, rotation=45 if len(periods) > 6 else 0, fontsize=7)
        axes.set_ylabel("teams", fontsize=8)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    handles, labels = figure.axes[0].get_legend_handles_labels()
    figure.legend(handles[::-1], labels[::-1], loc="upper center", ncol=5, fontsize=8, frameon=False)
    figure.subplots_adjust(hspace=0.55, top=0.88)
    return to_svg(figure)
