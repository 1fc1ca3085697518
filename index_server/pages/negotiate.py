"""PEP 691 content negotiation: pick JSON or HTML from an Accept header, or nothing (406)."""

from __future__ import annotations

from index_server.pages.simple import HTML_TYPE, JSON_TYPE

# Offered types in server preference order, with the representation each one selects.
_OFFERS: tuple[tuple[str, str], ...] = (
    (JSON_TYPE, "json"),
    ("application/vnd.pypi.simple.latest+json", "json"),
    (HTML_TYPE, "html"),
    ("application/vnd.pypi.simple.latest+html", "html"),
    ("text/html", "html"),
)
_FORMAT_PARAM = {JSON_TYPE: "json", HTML_TYPE: "html", "text/html": "html"}


def _parse(accept: str) -> list[tuple[str, float]]:
    ranges: list[tuple[str, float]] = []
    for part in accept.split(","):
        pieces = [p.strip() for p in part.split(";")]
        if not pieces[0]:
            continue
        q = 1.0
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((pieces[0].lower(), q))
    return ranges


def _quality(offer: str, ranges: list[tuple[str, float]]) -> float:
    """The q of the most specific range matching `offer` (0 when none)."""
    kind, _, _sub = offer.partition("/")
    best: tuple[int, float] = (-1, 0.0)
    for pattern, q in ranges:
        if pattern == offer:
            specificity = 2
        elif pattern == f"{kind}/*":
            specificity = 1
        elif pattern == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[0]:
            best = (specificity, q)
    return best[1]


def negotiate(accept: str | None, format_param: str | None = None) -> tuple[str, str] | None:
    """(content type, "json" | "html") to answer with, or None when nothing acceptable is offered."""
    if format_param:
        kind = _FORMAT_PARAM.get(format_param)
        return (format_param, kind) if kind else None
    if not accept or not accept.strip():
        return ("text/html", "html")
    ranges = _parse(accept)
    scored = [(_quality(offer, ranges), -i, offer, kind) for i, (offer, kind) in enumerate(_OFFERS)]
    q, _, offer, kind = max(scored)
    if q <= 0:
        return None
    if offer.startswith("application/vnd.pypi.simple.latest"):
        offer = JSON_TYPE if kind == "json" else HTML_TYPE
    # A plain */* gets HTML (what every old client expects), not our first preference.
    if all(pattern == "*/*" for pattern, _ in ranges):
        return ("text/html", "html")
    return (offer, kind)
