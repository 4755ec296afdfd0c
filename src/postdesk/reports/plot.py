"""`postdesk stats --plot FILE`: the figures as one chart a team can staff by.

Three panels, top to bottom: new tickets per day, the median first-response
time per day, and the load by hour of day. Drawn with matplotlib's Agg
renderer on a `Figure` of its own (no pyplot, no display, no global state),
so it runs on a server without a screen.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def plot(figures: dict[str, Any], path: Path) -> None:
    """Draw FIGURES (from `postdesk.reports.stats.collect`) into PATH, in the format its suffix names."""
    days = [date.fromisoformat(row["date"]) for row in figures["per_day"]]
    figure = Figure(figsize=(10, 10), layout="constrained")
    FigureCanvasAgg(figure)
    volume, response, load = figure.subplots(3, 1)
    where = f" — queue {figures['queue']}" if figures.get("queue") else ""
    figure.suptitle(
        f"postdesk: {figures['tickets']} tickets, {figures['since'][:10]} to {figures['until'][:10]}{where}"
    )

    volume.bar(days, [row["tickets"] for row in figures["per_day"]], color="#4c72b0")
    volume.set_title("New tickets per day")
    volume.set_ylabel("tickets")

    medians = [row["first_response_median_hours"] for row in figures["per_day"]]
    answered = [(day, hours) for day, hours in zip(days, medians, strict=True) if hours is not None]
    if answered:
        response.plot(*zip(*answered, strict=True), marker="o", color="#dd8452")
    else:
        response.text(
            0.5, 0.5, "no answered tickets yet", ha="center", va="center", transform=response.transAxes
        )
    response.set_title("First response time per day (median, hours)")
    response.set_ylabel("hours")
    response.set_ylim(bottom=0)
    response.sharex(volume)  # the same days under each other
    for axes in (volume, response):
        axes.tick_params(axis="x", labelrotation=30)

    load.bar(range(24), figures["per_hour"], color="#55a868")
    load.set_title(f"Load by hour of day ({figures['timezone']})")
    load.set_xlabel("hour of day")
    load.set_ylabel("tickets")
    load.set_xticks(range(24))
    figure.savefig(path, dpi=100)
