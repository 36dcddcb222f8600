"""The plain-text table ``benchmarks.run`` prints from its JSON results."""

from __future__ import annotations

from typing import Any

MIB = 1024 * 1024


def _mark(run: dict[str, Any], name: str) -> str:
    check = run.get("targets", {}).get(name)
    return "" if check is None else (" ok" if check["met"] else " MISS")


def _decoded_p99(run: dict[str, Any]) -> str:
    """p99 of the run's scrape with every body decompressed by the scrapers (``-`` when not measured)."""
    decoded = run.get("scrape_decoded")
    if not decoded:
        return "-"
    return "fail" if decoded["p99_ms"] is None else f"{decoded['p99_ms']:.1f}"


def render_table(results: dict[str, Any]) -> str:
    """One line per (size, backend), then the API economy."""
    header = (
        f"{'size':<4} {'backend':<10} {'events':>9} {'import/s':>9} {'raw/s':>9} {'ratio':>9} "
        f"{'recomp s':>9} {'read s':>8} {'ratio':>10} {'p50 ms':>7} {'p99 ms':>10} {'RSS imp':>11} {'RSS rec':>11}"
    )
    lines = [header, "-" * len(header)]
    events = {d["size"]: d["events"] for d in results.get("datasets", [])}
    for run in results.get("runs", []):
        imp, rec, scrape = run["import"], run["recompute"], run.get("scrape")
        lines.append(
            f"{run['size']:<4} {run['backend']:<10} {events.get(run['size'], 0):>9} "
            f"{imp['records_per_second']:>9.0f} {imp['raw_records_per_second']:>9.0f} "
            f"{imp['ratio']:>5.1%}{_mark(run, 'import_ratio'):>4} "
            f"{rec['seconds']:>9.2f} {rec['raw_read_seconds']:>8.2f} "
            f"{rec['ratio']:>6.1f}{_mark(run, 'recompute_ratio'):>4} "
            + (
                f"{scrape['p50_ms']:>7.1f} {scrape['p99_ms']:>6.1f}{_mark(run, 'scrape_p99_ms'):>4} "
                if scrape and scrape["p99_ms"] is not None
                else f"{'fail':>7} {'fail':>6}{_mark(run, 'scrape_p99_ms'):>4} "
                if scrape
                else f"{'-':>7} {'-':>10} "
            )
            + f"{_decoded_p99(run):>8} "
            + f"{imp['peak_rss_bytes'] / MIB:>7.0f}MiB{_mark(run, 'import_peak_rss_bytes'):>1} "
            f"{rec['peak_rss_bytes'] / MIB:>7.0f}MiB{_mark(run, 'recompute_peak_rss_bytes'):>1}"
        )
    economy = results.get("api_economy")
    if economy:
        first, second = economy["first_sync"], economy["second_sync"]
        lines.append("")
        lines.append(
            f"API economy ({economy['repositories']} repositories, per_page {economy['per_page']}): "
            f"first sync {first['requests']} requests for {first['minimum_pages']} minimum pages; "
            f"second sync {second['requests']} requests ({second['not_modified']} answered 304), "
            f"at most {second['max_requests_per_repository_and_resource']:.2f} per repository and resource"
        )
        lines.append("  second sync by resource: " + ", ".join(f"{k} {v}" for k, v in second["by_resource"].items()))
    return "\n".join(lines)
