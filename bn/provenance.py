"""Is every number's provenance honest? Checks ``bn check`` runs on top of the file format's own validation.

A network file loads when every number has a ``source`` (a key of its reference list) or an
``expert_estimate``. These checks go further, reading the text a reviewer reads:

- **Works cited in the text are in the reference list.** An expert estimate that says "(Peat 2001)" or
  "Galli et al. 2013" must have a reference whose citation names that author and year; otherwise the reader
  cannot find the work the number leans on.
- **A ``source`` is only used where the number comes from that work.** A cited number whose own text says it
  was assumed, extrapolated or not read in the source is an expert estimate under a borrowed name.
- **Every reference is used.** A reference no number, text or changelog cites is dead weight (or a typo).

They are not load errors: published versions are immutable and must keep loading; ``bn check`` reports them
and exits 1 so that a new version cannot be published with them.

>>> cited_works("Calibrated to Peat et al. 2001 and (Khan 2004); Version 1.0.0 gave 0.5 in 2019.")
[('Peat', '2001'), ('Khan', '2004')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bn.errors import Problem
from bn.model import Network
from bn.present import label_ids

# "Surname 2001", "Surname et al. 2001", "Surname and Other 2001", "Surname & Other 2001", "Surname (2001)",
# "Surname, 2001"; a surname may be hyphenated or two-part ("Al Nezari", "van der Windt" -> "Windt").
_CITATION = re.compile(r"\b((?:[A-Z][a-z]+ )?[A-Z][a-zA-Z'\-]*[a-z])"  # the (first) author's surname
                       r"(?: et al\.?| (?:and|&) [A-Z][a-zA-Z'\-]+)?,? \(?((?:19|20)\d{2})[a-z]?\b")
# Capitalised words that precede a year without being an author.
_NOT_AUTHORS = frozenset({
    "In", "By", "Since", "From", "The", "After", "Before", "Until", "Of", "And", "Or", "As", "At", "On", "For", "To",
    "Version", "Table", "Figure", "January", "February", "March", "April", "May", "June", "July", "August",
    "September", "October", "November", "December", "Spring", "Summer", "Autumn", "Winter", "NICE", "ACR", "ACP",
    "AANEM", "Cochrane", "Guideline", "Review", "Update", "Framingham", "Wakayama", "Issue", "Colloquium", "Data",
    "Survey", "Study", "Cohort", "Series"})
# Words in a cited number's own text that say the number did not come from the source.
_NOT_FROM_SOURCE = re.compile(r"\b(assum\w*|extrapolat\w*|not read|not found|expert estimate|guess\w*)\b",
                              re.IGNORECASE)


def cited_works(text: str) -> list[tuple[str, str]]:
    """(surname, year) of every author-year citation in ``text``, in order, without duplicates."""
    out: list[tuple[str, str]] = []
    for m in _CITATION.finditer(text or ""):
        name, year = m.group(1), m.group(2)
        first = name.split()[0]
        if first in _NOT_AUTHORS:
            name = name.split()[-1] if len(name.split()) > 1 else ""
        if not name or name in _NOT_AUTHORS:
            continue
        if (name, year) not in out:
            out.append((name, year))
    return out


def _texts(network: Network) -> Iterable[tuple[str | None, str, str]]:
    """(variable, where, text) of every piece of prose a reviewer reads in the file."""
    meta = network.meta
    for key in ("description", "population", "disclaimer"):
        if isinstance(meta.get(key), str):
            yield None, f"network.{key}", meta[key]
    for entry in meta.get("changelog") or []:
        for change in entry.get("changes") or []:
            yield None, f"changelog {entry.get('version')}", str(change)
    for vid, v in network.variables.items():
        if v.description:
            yield vid, "description", v.description
        if v.definition:
            yield vid, "definition", str(v.definition)
        for p in v.parameters:
            for field in ("expert_estimate", "detail"):
                text = getattr(p, field)
                if text:
                    yield vid, f"{p.kind} {p.key}: {field}", text


def provenance_problems(network: Network) -> list[Problem]:
    """Every dishonest or dangling citation in ``network`` (an empty list when there is none)."""
    fname = network.info.path or network.id
    problems: list[Problem] = []
    refs = network.references
    by_text = {key: f"{r.citation} {key}" for key, r in refs.items()}

    def known(name: str, year: str) -> bool:
        surname = name.split()[-1]
        return any(surname in text and year in text for text in by_text.values())

    reported: set[tuple[str, str]] = set()
    used_text = []
    for vid, where, text in _texts(network):
        used_text.append(text)
        for name, year in cited_works(text):
            if not known(name, year) and (name, year) not in reported:
                reported.add((name, year))
                problems.append(Problem(fname, vid, f"{where}: the text cites {name} {year}, which is not in "
                                                    "the reference list (add it under references)"))
    for vid, v in network.variables.items():
        for p in v.parameters:
            if p.source and p.detail and _NOT_FROM_SOURCE.search(p.detail):
                word = _NOT_FROM_SOURCE.search(p.detail).group(0)
                problems.append(Problem(fname, vid, f"{p.kind} {p.key}: cites '{p.source}' but its own text says "
                                                    f"'{word}': make it an expert_estimate that names the work"))
    cited = {p.source for v in network.variables.values() for p in v.parameters if p.source}
    prose = " ".join(used_text)
    for key, ref in refs.items():
        surname = re.split(r"[ ,]", ref.citation.strip(), maxsplit=1)[0]
        years = set(re.findall(r"(?:19|20)\d{2}", ref.citation))  # a title may hold other years than the paper's
        mentioned = key in prose or any(
            re.search(rf"\b{re.escape(surname)}\b[^.;]{{0,40}}{y}", prose) for y in years if surname)
        if key not in cited and not mentioned:
            problems.append(Problem(fname, None, f"reference '{key}' is cited by no number and no text"))
    return problems


def parameter_sources(network: Network, variable: str, *, labels: bool = True) -> list[dict[str, str | float]]:
    """Where every number of one variable comes from: one row per parameter (row, link or leak) with its value,
    its source (the citation, "expert estimate" or "uncited"), how it was obtained and its plausible range.
    The parameter and the reasoning are written in the network's labels (``labels=False``: as in the file).

    >>> import bn
    >>> rows = parameter_sources(bn.load("l4l5_knee").network, "lachman_test")
    >>> rows[1]["parameter"], rows[1]["source"].startswith("Sokal")
    ('link: Anterior cruciate ligament tear (symptomatic) = Present', True)
    """
    def text(s: str) -> str:
        return label_ids(s, network) if labels else s

    rows = []
    for prm in network[variable].parameters:
        ref = network.references.get(prm.source) if prm.source else None
        rows.append({"parameter": text(f"{prm.kind}: {prm.key}"),
                     "value": prm.value if isinstance(prm.value, float) else str(prm.value),
                     "source": ref.citation if ref else ("expert estimate" if prm.expert_estimate else "uncited"),
                     "how": text(prm.detail or prm.expert_estimate or ""),
                     "range": f"{prm.range[0]:g}-{prm.range[1]:g}" if prm.range else ""})
    return rows
