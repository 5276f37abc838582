"""The end-of-run summary printed on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .report import Report

if TYPE_CHECKING:
    from .pipeline import Pipeline


def format_summary(report: Report, pipeline: "Pipeline | None" = None) -> str:
    c = report.counts
    lines = [
        "ecq2pcap summary:",
        f"  messages     {c['messages']:>8}  (events {c['events']}, process logs {c['process_logs']}, "
        f"heartbeats {c['heartbeats']}, annotations {c['annotations']}"
        + (f", v2 connect lines {c['connect_lines']}" if c["connect_lines"] else "") + ")",
        f"  payload      {c['payload_bytes'] / 1e6:>8.1f} MB",
        f"  connections  {c['connections']:>8}"
        + (f"  ({c['filtered_connections']} filtered out by {pipeline.view.filter.describe()})"
           if pipeline is not None and pipeline.view.filter is not None else ""),
        f"  packets      {c['packets']:>8}",
        f"  HAR entries  {c['har_entries']:>8}",
        f"  skipped      {c['skipped']:>8}",
        f"  warnings     {sum(report.warnings.values()):>8}",
    ]
    if c["annotations"]:
        kinds = ", ".join(f"{k} {n}" for k, n in report.annotation_kinds.most_common())
        where = report.annotations_path
        lines.append(f"  not TLS data {c['annotations']:>8}  ({kinds}) "
                     + (f"written to {where}" if where else "not written (no file output)"))
    if c["internal_errors"]:
        lines.append(f"  internal errors {c['internal_errors']:>5}  (bugs of ecq2pcap, each named above; please report "
                     "them: the rest was converted)")
    if c["broken_inputs"]:
        lines.append(f"  inputs that broke off midway: {c['broken_inputs']} (converted up to the break)")
    if c["late_events"]:
        lines.append(f"  late events  {c['late_events']:>8}  (arrived after later data; see --reorder-window)")
    if c["stale_reemits"]:
        lines.append(f"  stale re-emits left out {c['stale_reemits']} (eCapture re-rendered earlier headers)")
    placed, split, unplaced = c["before_tuple_placed"], c["before_tuple_split"], c["before_tuple_unplaced"]
    if placed or split or unplaced:
        lines.append(f"  captured before their socket was known: {placed} placed on the connection whose calls "
                     f"follow, {split} new connection(s) told apart by their bytes, {unplaced} not placed "
                     "(endpoints invented; see the packet comments)")
    if report.limits:
        hits = ", ".join(f"{flag} {n}" for flag, n in report.limits.most_common())
        lines.append(f"  limits reached: {hits} (see the warnings; raise a limit with its option)")
    if pipeline is not None and pipeline.ecapture_version:
        lines.append(f"  eCapture     {pipeline.ecapture_version}")
    for reason, n in report.warnings.most_common():
        lines.append(f"    {n:>6} × {reason}")
    return "\n".join(lines)
