"""The end-of-run summary printed on stderr."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .report import OPEN_LIMIT_PARTED, Count, Report

if TYPE_CHECKING:
    from .pipeline import Pipeline


def format_summary(report: Report, pipeline: "Pipeline | None" = None) -> str:
    c = report.counts
    lines = [
        "ecq2pcap summary:",
        f"  messages     {c[Count.MESSAGES]:>8}  (events {c[Count.EVENTS]}, process logs {c[Count.PROCESS_LOGS]}, "
        f"heartbeats {c[Count.HEARTBEATS]}, annotations {c[Count.ANNOTATIONS]}"
        + (f", v2 connect lines {c[Count.CONNECT_LINES]}" if c[Count.CONNECT_LINES] else "")
        + (f", v2 destroy lines {c[Count.DESTROY_LINES]}" if c[Count.DESTROY_LINES] else "") + ")",
        f"  payload      {c[Count.PAYLOAD_BYTES] / 1e6:>8.1f} MB",
        f"  connections  {c[Count.CONNECTIONS]:>8}"
        + (f"  ({c[Count.FILTERED_CONNECTIONS]} filtered out by {pipeline.view.filter.describe()})"
           if pipeline is not None and pipeline.view.filter is not None else ""),
        f"  packets      {c[Count.PACKETS]:>8}",
        *_made_up(report),
        f"  HAR entries  {c[Count.HAR_ENTRIES]:>8}",
        f"  skipped      {c[Count.SKIPPED]:>8}",
        f"  warnings     {sum(report.warnings.values()):>8}" + _left_out(report),
    ]
    if c[Count.ANNOTATIONS]:
        kinds = ", ".join(f"{k} {n}" for k, n in report.annotation_kinds.most_common())
        where = report.annotations_path
        if not where:
            said = "not written (no file output: --annotations FILE writes them)"
        elif report.annotations_failed:
            said = f"{where} could not be written (see the error above)"
        else:
            said = f"written to {where}"
        lines.append(f"  not TLS data {c[Count.ANNOTATIONS]:>8}  ({kinds}) {said}")
    if c[Count.ECAPTURE_DROPPED]:
        lines.append(f"  dropped by eCapture {c[Count.ECAPTURE_DROPPED]:>4}  events its perf buffer could not hold "
                     "(its log says so; they are in no output: a larger --mapsize for eCapture keeps more)")
    if c[Count.INTERNAL_ERRORS]:
        lines.append(f"  internal errors {c[Count.INTERNAL_ERRORS]:>5}  (bugs of ecq2pcap, each named above; please report "
                     "them: the rest was converted)")
    if c[Count.BROKEN_INPUTS]:
        lines.append(f"  inputs that broke off midway: {c[Count.BROKEN_INPUTS]} (converted up to the break)")
    if c[Count.LATE_EVENTS]:
        lines.append(f"  late events  {c[Count.LATE_EVENTS]:>8}  (arrived after later data; see --reorder-window)")
    if c[Count.OUT_OF_ORDER]:
        lines.append(f"  out of time order {c[Count.OUT_OF_ORDER]:>3}  (captures written after later ones: the pcapng goes "
                     "back in time there; reordercap sorts it)")
    if c[Count.STALE_REEMITS]:
        lines.append(f"  stale re-emits left out {c[Count.STALE_REEMITS]} (eCapture re-rendered earlier headers)")
    placed, split, unplaced = c[Count.BEFORE_TUPLE_PLACED], c[Count.BEFORE_TUPLE_SPLIT], c[Count.BEFORE_TUPLE_UNPLACED]
    if placed or split or unplaced:
        lines.append(f"  captured before their socket was known: {placed} placed on the connection whose calls "
                     f"follow, {split} new connection(s) told apart by their bytes, {unplaced} not placed "
                     "(endpoints invented; see the packet comments)")
    if c[Count.TUPLE_SHARED]:
        lines.append(f"  shown from another client port: {c[Count.TUPLE_SHARED]} connection(s) whose 4-tuple another "
                     "connection had open (one socket under two fds or processes; see their SYN comments)")
    lines += _ended_early(report)
    if report.limits:
        hits = ", ".join(f"{flag} {n}" for flag, n in report.limits.most_common())
        lines.append(f"  limits reached: {hits} (see the warnings and packet comments; raise a limit with its option)")
    if pipeline is not None and pipeline.ecapture_version:
        lines.append(f"  eCapture     {pipeline.ecapture_version}")
    for reason, n in report.warnings.most_common():
        lines.append(f"    {n:>6} × {reason}")
    return "\n".join(lines)


def _made_up(report: Report) -> list[str]:
    """The summary's line on the zeros made up for frames' rests eCapture lost: those in the outputs (the packet
    comments say where), and those of connections the filters left out (said apart: no comment has them)."""
    left_out = report.counts[Count.MADE_UP_FILTERED]
    written = report.made_up - left_out
    if not written:
        return [f"  made up      {0:>8,}  bytes of zeros ({left_out:,} for frames' rests eCapture lost in connections "
                "the filters left out)"] if left_out else []
    line = f"  made up      {written:>8,}  bytes of zeros in the place of frames' rests eCapture lost (see the packet " \
           "comments)"
    return [line + (f"; {left_out:,} more in connections the filters left out" if left_out else "")]


def _ended_early(report: Report) -> list[str]:
    """The connections --max-connections ended: most never go on (eCapture v1.4 sends no close, so a busy host's
    connections end by the limit or the idle timeout), which loses nothing; those that went on are warned."""
    c = report.counts
    n = c[Count.ENDED_EARLY]
    if not n:
        return []
    on, untold = report.warnings[OPEN_LIMIT_PARTED], c[Count.ENDED_UNTOLD]
    what = (f"{on} went on later, as new connections (see the warnings)" if on else
            "none went on later: nothing was parted" if not untold else "none went on later that it could tell")
    return [f"  ended early  {n:>8}  by --max-connections, the idlest of too many open (their FIN comments say so); "
            + what + (f"; {untold} ended while too many were remembered: untold whether they went on" if untold else "")]


def _left_out(report: Report) -> str:
    """The warnings about connections the filters left out, said apart from those about the outputs' traffic."""
    if not report.left_out:
        return ""
    reasons = ", ".join(f"{n} × {reason}" for reason, n in report.left_out.most_common())
    return f"  ({sum(report.left_out.values())} more in connections the filters left out: {reasons})"
