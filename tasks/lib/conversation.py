"""Who spoke when across the channels of one call: talk, silence, overlap, interruptions, roles.

A stereo call carries one party per channel, so each channel's speech regions are that party's turns.
A mono call mixes both parties on one channel: its parties are the voices diarization found, which tell
talk time apart but not who spoke over whom, so overlap, interruptions, roles and talk-to-listen stay null.
"""
from __future__ import annotations

Interval = tuple[float, float]


def union(regions: list[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same time."""
    merged: list[Interval] = []
    for start, end in sorted(regions):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def total(regions: list[Interval]) -> float:
    return float(sum(e - s for s, e in union(regions)))


def intersection(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """Time covered by both interval lists."""
    a, b = union(a), union(b)
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        i, j = (i + 1, j) if a[i][1] < b[j][1] else (i, j + 1)
    return out


def gaps(regions: list[Interval], duration_s: float) -> list[float]:
    """Lengths of the stretches of [0, duration_s] that no interval covers."""
    edges, lengths = 0.0, []
    for start, end in union(regions):
        lengths.append(max(0.0, start - edges))
        edges = max(edges, end)
    lengths.append(max(0.0, duration_s - edges))
    return [g for g in lengths if g > 0]


def interruptions(own: list[Interval], others: list[Interval]) -> int:
    """Turns of this party that start while another party is speaking."""
    busy = union(others)
    return sum(any(s < start < e for s, e in busy) for start, _ in union(own))


def conversation_columns(regions: dict[int, list[Interval]], duration_s: float, agent_channel: int,
                         one_channel: bool = False) -> dict[int, dict]:
    """The calls table's conversation columns for each party of one call: a channel of a stereo call, or
    (one_channel) a voice of a diarized mono call."""
    everyone = [r for rs in regions.values() for r in rs]
    spoken = sum(total(rs) for rs in regions.values())
    silences = gaps(everyone, duration_s)
    call = {"silence_share": sum(silences) / duration_s if duration_s else None,
            "longest_silence_s": max(silences, default=0.0)}
    stereo = len(regions) > 1 and not one_channel
    if stereo:
        agent = total(regions.get(agent_channel, []))
        customer = sum(total(rs) for ch, rs in regions.items() if ch != agent_channel)
        overlap = total([iv for ch, rs in regions.items() for other, os in regions.items() if other > ch
                         for iv in intersection(rs, os)])
        call |= {"overlap_s": overlap, "overlap_share": overlap / duration_s if duration_s else None,
                 "talk_to_listen": agent / customer if customer else None}
    else:
        call |= {"overlap_s": None, "overlap_share": None, "talk_to_listen": None}
    minutes = duration_s / 60
    out = {}
    for ch, rs in regions.items():
        count = interruptions(rs, [r for other, os in regions.items() if other != ch for r in os]) if stereo else None
        out[ch] = {**call, "role": ("agent" if ch == agent_channel else "customer") if stereo else None,
                   "talk_share": total(rs) / spoken if spoken else None, "interruptions": count,
                   "interruptions_per_min": count / minutes if count is not None and minutes else None}
    return out
