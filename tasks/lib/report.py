"""The day report: self-contained HTML pages (plots inline as PNG or SVG) of one day's scored calls, for analysts."""
from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow.dataset as ds

from data_contracts import schemas
from data_contracts.labels import CANONICAL_EMOTIONS, NEGATIVE_EMOTIONS
from tasks.lib.day import day_calls, emotion_shares, of_model, top_calls
from tasks.lib.store import Store

# The segment columns the pages draw (the table has probabilities too): a day is 100,000s of rows.
SEGMENT_COLUMNS = ["call_id", "channel", "speaker", "start_s", "end_s", "emotion", "confidence", "in_domain", "model",
                   "model_version"]
TURN_COLUMNS = ["call_id", "channel", "speaker", "role", "turn_index", "start_s", "end_s", "emotion", "confidence",
                "out_of_domain_share", "model", "model_version"]
TOP_COLUMNS = ("negative_share", "escalation")  # the run artifact's tables of channels to look at
STYLE = """body{font-family:sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:2px 6px}
th{background:#f3f3f3}.kpi{display:inline-block;margin:0 2em 1em 0}.kpi b{display:block;font-size:1.6em}
img{max-width:100%}"""


def _pyplot():
    """Matplotlib without a display; imported on first use so the CLI stays fast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def emotion_colours() -> dict[str, tuple]:
    """One fixed colour per canonical emotion, the same on every page."""
    cmap = _pyplot().get_cmap("tab10")
    return {e: cmap(i) for i, e in enumerate(CANONICAL_EMOTIONS)}


def _img(fig, alt: str) -> str:
    """The figure as an inline PNG: the page needs no other file and no network."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    _pyplot().close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def shares_plot(shares: dict[str, float]) -> str:
    """Horizontal bars: the day's share of speech time per emotion."""
    fig, ax = _pyplot().subplots(figsize=(6, 0.4 + 0.35 * max(len(shares), 1)))
    colours = emotion_colours()
    names = list(shares)[::-1]
    ax.barh(names, [100 * shares[n] for n in names], color=[colours[n] for n in names])
    ax.set_xlabel("% of scored speech")
    fig.tight_layout()
    return _img(fig, "emotion share of speech")


def negative_by_hour_plot(segments: pd.DataFrame) -> str:
    """Bars: share of speech time in a negative emotion, per hour the recording arrived (UTC)."""
    seg = segments.assign(s=segments["end_s"] - segments["start_s"],
                          neg=segments["emotion"].isin(NEGATIVE_EMOTIONS))
    by_hour = seg.groupby("hour").apply(lambda g: (g["s"] * g["neg"]).sum() / g["s"].sum(), include_groups=False)
    fig, ax = _pyplot().subplots(figsize=(6, 2.2))
    ax.bar(by_hour.index, 100 * by_hour.to_numpy(), color="#c0392b", width=0.8)
    ax.set_xlim(-0.5, 23.5)
    ax.set_xticks(range(0, 24, 3))
    ax.set_xlabel("hour the recording arrived (UTC)")
    ax.set_ylabel("% negative")
    fig.tight_layout()
    return _img(fig, "negative share by hour")


def timeline_svg(segments: pd.DataFrame, duration_s: float) -> str:
    """One row per party (channel and voice): segments as bars coloured by emotion, opacity = confidence, out of domain hatched;
    inline SVG with a tooltip per bar (drawn as text: a call page costs no plotting, ~0.1 s a call before)."""
    from matplotlib.colors import to_hex

    colours = {e: to_hex(c) for e, c in emotion_colours().items()}
    parties = sorted(set(zip(segments["channel"], segments["speaker"])))
    left, width, row_h, axis_h = 110, 800, 30, 30
    height, scale = row_h * max(len(parties), 1) + axis_h, width / max(duration_s, 1e-9)
    step = next(s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 1e9) if duration_s / s <= 12)
    parts = [f'<svg role="img" aria-label="emotion timeline" width="{left + width + 10}" height="{height}" '
             'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">'
             '<defs><pattern id="ood" width="6" height="6" patternUnits="userSpaceOnUse" '
             'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="black"/></pattern></defs>']
    segments = segments.assign(outside=segments["in_domain"].eq(False))
    for row, (channel, speaker) in enumerate(parties):
        y = row * row_h
        parts.append(f'<text x="0" y="{y + row_h / 2 + 4}">channel {channel} {html.escape(speaker)}</text>')
        for s in segments[segments["channel"].eq(channel) & segments["speaker"].eq(speaker)].itertuples():
            x, w = left + s.start_s * scale, max(1.0, (s.end_s - s.start_s) * scale)
            tip = html.escape(f"{s.start_s:.1f}-{s.end_s:.1f} s: {s.emotion} ({s.confidence:.2f})"
                              + (", out of domain" if s.outside else ""))
            bar = f'x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}"'
            parts.append(f'<g><title>{tip}</title><rect class="segment" {bar} fill="{colours[s.emotion]}" '
                         f'fill-opacity="{max(s.confidence, 0.15):.2f}"/>'
                         + (f'<rect {bar} fill="url(#ood)" stroke="black"/>' if s.outside else "") + "</g>")
    base = height - axis_h
    parts.append(f'<line x1="{left}" y1="{base}" x2="{left + width}" y2="{base}" stroke="#444"/>')
    for t in np.arange(0, duration_s + 1e-9, step):
        x = left + t * scale
        parts.append(f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="#444"/>'
                     f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{t:g}</text>')
    shown = [e for e in CANONICAL_EMOTIONS if e in set(segments["emotion"])]
    legend = " ".join(f'<span style="color:{colours[e]}">&#9632;</span> {e}' for e in shown)
    return "".join(parts) + f"</svg><p>seconds into the call &nbsp; {legend}</p>"


def _page(title: str, body: str) -> bytes:
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>{body}</body></html>").encode()


def _kpis(pairs: dict[str, object]) -> str:
    return "".join(f'<div class="kpi"><b>{html.escape(str(v))}</b>{html.escape(k)}</div>' for k, v in pairs.items())


def call_file(call_id: str) -> str:
    """A call page's file name: the id with anything unsafe in a path replaced."""
    return "call-" + re.sub(r"[^A-Za-z0-9._-]", "_", call_id) + ".html"


def _linked(frame: pd.DataFrame, table_id: str) -> str:
    """A table whose call ids link to their pages (everything else escaped by pandas)."""
    shown = frame.round(3).copy()
    shown["call_id"] = [f'<a class="call" href="calls/{call_file(c)}">{html.escape(c)}</a>' for c in frame["call_id"]]
    return shown.to_html(index=False, escape=False, na_rep="", table_id=table_id)


@dataclass
class DayData:
    """The rows one report is made of: a day's call channels, segments and turns of one model version."""

    date: str
    model: str
    calls: pd.DataFrame
    segments: pd.DataFrame
    rejected: int
    turns: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TURN_COLUMNS))  # drawn by call pages only

    @classmethod
    def load(cls, store: Store, date: str, model: str | None = None) -> DayData:
        """Rows of DATE; without MODEL (NAME:VERSION), the version that scored that day's latest call."""
        calls = day_calls(store, date)
        if not model and len(calls):
            latest = calls.loc[calls["scored_at"].idxmax()]
            model = f"{latest['model']}:{latest['model_version']}"
        calls = of_model(calls, model) if model else calls
        segments = rows_of_calls(store, schemas.SEGMENTS_TABLE, date, calls, SEGMENT_COLUMNS)
        arrived = store.read(schemas.LEDGER_TABLE, columns=["call_id", "mtime"]).drop_duplicates("call_id", keep="last")
        hours = pd.to_datetime(arrived["mtime"], unit="s", utc=True).dt.hour
        segments = segments.merge(arrived.assign(hour=hours)[["call_id", "hour"]], how="left")
        rejected = len(store.read(schemas.REJECTS_TABLE, filter=ds.field("scored_date") == date, columns=["call_id"]))
        return cls(date, model or "none", calls, segments, rejected)


def rows_of_calls(store: Store, spec: schemas.TableSpec, date: str, calls: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The COLUMNS of a results table's rows of DATE that belong to CALLS (their channels and model versions)."""
    rows = store.read(spec, filter=ds.field("scored_date") == date, columns=columns)
    return rows.merge(calls[["call_id", "channel", "model", "model_version"]].drop_duplicates())


def day_page(day: DayData, shares: dict[str, float], escalating: pd.DataFrame) -> bytes:
    """The overview: KPIs, emotion shares, negative share by hour, top escalating calls, every call."""
    calls = day.calls
    first = calls.groupby("call_id", sort=False).first()
    body = (f"<h1>Calls scored on {day.date}</h1><p>model <code>{html.escape(day.model)}</code>; "
            "shares are of scored speech time; emotions are per party: a stereo channel, a voice of a mono call</p>"
            + _kpis({"calls": len(first), "hours of audio": f"{first['duration_s'].sum() / 3600:.2f}",
                     "hours of speech": f"{calls['speech_s'].sum() / 3600:.2f}", "rejected files": day.rejected,
                     "negative share": f"{100 * sum(s for e, s in shares.items() if e in NEGATIVE_EMOTIONS):.1f}%"}))
    if len(calls):
        body += ("<h2>Emotion share of speech</h2>" + shares_plot(shares)
                 + "<h2>Negative share by hour</h2>" + negative_by_hour_plot(day.segments)
                 + "<h2>Most escalating calls</h2>" + _linked(escalating, "escalating")
                 + "<h2>All calls</h2>" + _linked(calls[["call_id", "channel", "speaker", "duration_s", "speech_s",
                                                          "dominant_emotion", "negative_share", "escalation",
                                                          "out_of_domain_share"]], "calls"))
    else:
        body += "<p>No call with speech was scored on this day.</p>"
    return _page(f"serflow {day.date}", body)


def call_page(day: DayData, call_id: str) -> bytes:
    """One call: KPIs per party, the emotion timeline, the turns and the segment table."""
    parties = day.calls[day.calls["call_id"] == call_id]
    segments = day.segments[day.segments["call_id"] == call_id].sort_values(["channel", "start_s"])
    turns = day.turns[day.turns["call_id"] == call_id].sort_values("turn_index")
    kpis = parties[["channel", "speaker", "speech_s", "dominant_emotion", "negative_share", "escalation",
                     "peak_negative_start_s", "mean_confidence", "out_of_domain_share"]]
    table = segments[["channel", "speaker", "start_s", "end_s", "emotion", "confidence", "in_domain"]]
    body = (f'<p><a href="../index.html">&larr; {day.date}</a></p><h1>Call {html.escape(call_id)}</h1>'
            f"<p><code>{html.escape(str(parties['path'].iloc[0]))}</code>, "
            f"{parties['duration_s'].iloc[0]:.1f} s, model <code>{html.escape(day.model)}</code></p>"
            + kpis.round(3).to_html(index=False, na_rep="")
            + "<h2>Emotion timeline</h2><p>bar colour: emotion; opacity: confidence; hatched: out of domain</p>"
            + timeline_svg(segments, float(parties["duration_s"].iloc[0]))
            # calls scored before the turns table existed have none
            + ("<h2>Turns</h2>" + turns[["turn_index", "speaker", "role", "start_s", "end_s", "emotion", "confidence",
                                          "out_of_domain_share"]]
               .round(3).to_html(index=False, na_rep="", table_id="turns") if len(turns) else "")
            + "<h2>Segments</h2>" + table.round(3).to_html(index=False, na_rep=""))
    return _page(f"call {call_id}", body)


def write_call_pages(store: Store, date: str, model: str, calls: pd.DataFrame, segments: pd.DataFrame,
                     turns: pd.DataFrame) -> None:
    """The page of every call in CALLS (channel rows of one model version), drawn from the rows given."""
    day = DayData(date, model, calls, segments, 0, turns)
    for call_id in calls["call_id"].unique():
        store.write_bytes(call_page(day, call_id), f"reports/{date}/calls/{call_file(call_id)}")


def write_report(store: Store, date: str, model: str | None = None) -> str:
    """Write reports/DATE/index.html and every call's page; return the index path."""
    day = DayData.load(store, date, model)
    turns = rows_of_calls(store, schemas.TURNS_TABLE, date, day.calls, TURN_COLUMNS)
    write_call_pages(store, date, day.model, day.calls, day.segments, turns)
    return write_day_page(store, day).path


@dataclass(frozen=True)
class DayReport:
    """An overview page written, with the figures a run's artifact shows, taken from the same rows."""

    path: str
    shares: dict[str, float]  # emotion -> share of the day's speech
    top: dict[str, pd.DataFrame]  # each of TOP_COLUMNS -> the channels highest in it


def write_day_page(store: Store, day: DayData) -> DayReport:
    """Write the overview page reports/DATE/index.html alone; the figures it shows come back with its path."""
    shares, top = emotion_shares(day.calls), {c: top_calls(day.calls, c) for c in TOP_COLUMNS}
    path = store.write_bytes(day_page(day, shares, top["escalation"]), f"reports/{day.date}/index.html")
    return DayReport(path, shares, top)
