"""Payment-card numbers typed into free text: detect (Luhn) and mask before anything is written.

A card number is any run of 13 to 19 digits that passes Luhn, whatever separates its digit groups,
once the text is URL-decoded and NFKC-normalised: `4111+1111+…`, `4111%201111…`, `4111.1111…` and
full-width `４１１１ １１１１…` are all card numbers. Separators are short runs (at most 3) of
characters that are neither digits, letters nor field separators (BREAKS): a run never joins the
fields of a row, be they scanned columns (chr(31)), a quarantined CSV line or a row as JSON, so a
customer id next to a date is never masked away (an erasure finds its quarantined rows by it).
python-stdnum's luhn only validates a number already cut out of the text and Presidio's recogniser
accepts only spaces and dashes, so neither finds these runs in free text: hence the detector below.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from urllib.parse import unquote_plus

CARD_MASK = "[card number removed]"
MIN_DIGITS, MAX_DIGITS = 13, 19

# The canonical shape (single spaces or dashes) the generator writes, for tests that count the
# numbers in generated files; the pipeline detects with has_card / mask_cards, which accept more.
CARD_CANDIDATE = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")

# What ends a run: ':' (times, IPv6) and what separates fields in the texts scanned.
BREAKS = ':\x1f,;|"\t'
# Python's \w is letters, digits, other numerics and '_'; '_' is a separator all the same.
_SEPARATOR = r"(?:_|[^\w:\x1f,;|\"\t])"
_RUN = re.compile(rf"\d+(?:{_SEPARATOR}{{1,3}}\d+)*")
_GROUP = re.compile(r"\d+")
# A necessary condition, checked before any regex: once separators are dropped, a run is 13 'd'
# in a row (digits; bytes of non-ASCII characters count as digits, so no run is missed).
_ASCII_SEPARATORS = bytes(b for b in range(128) if not chr(b).isalnum() and chr(b) not in BREAKS)
_BYTE_CLASSES = bytes.maketrans(
    bytes(range(256)), bytes(ord("d" if chr(b).isdigit() or b > 127 else "x") for b in range(256))
)
# Random UUIDs hold all-decimal groups often enough to make Luhn-valid runs on large tables.
_UUID = re.compile(
    r"(?<![0-9A-Za-z])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Za-z])"
)


# Non-ASCII code points whose NFKC form holds one decimal digit, and several (Python 3.11's
# Unicode 14; tests/unit/test_cards.py re-derives both). Listed, not derived: deriving takes 0.7 s.
_ONE_DIGIT_CODE_POINTS = (
    "B2-B3 B9 660-669 6F0-6F9 7C0-7C9 966-96F 9E6-9EF A66-A6F AE6-AEF B66-B6F BE6-BEF C66-C6F "
    "CE6-CEF D66-D6F DE6-DEF E50-E59 ED0-ED9 F20-F29 1040-1049 1090-1099 17E0-17E9 1810-1819 "
    "1946-194F 19D0-19D9 1A80-1A89 1A90-1A99 1B50-1B59 1BB0-1BB9 1C40-1C49 1C50-1C59 2070 "
    "2074-2079 2080-2089 215F 2460-2468 2474-247C 2488-2490 24EA 32C0-32C8 3358-3361 3378-3379 "
    "339F-33A6 33A8 33AF 33E0-33E8 A620-A629 A8D0-A8D9 A900-A909 A9D0-A9D9 A9F0-A9F9 AA50-AA59 "
    "ABF0-ABF9 FF10-FF19 104A0-104A9 10D30-10D39 11066-1106F 110F0-110F9 11136-1113F 111D0-111D9 "
    "112F0-112F9 11450-11459 114D0-114D9 11650-11659 116C0-116C9 11730-11739 118E0-118E9 "
    "11950-11959 11C50-11C59 11D50-11D59 11DA0-11DA9 16A60-16A69 16AC0-16AC9 16B50-16B59 "
    "1D7CE-1D7FF 1E140-1E149 1E2F0-1E2F9 1E950-1E959 1F100-1F10A 1FBF0-1FBF9"
)
_SEVERAL_DIGITS_CODE_POINTS = (
    "BC-BE 2150-215E 2189 2469-2473 247D-2487 2491-249B 3251-325F 32B1-32BF 32C9-32CB 3362-3370 "
    "33E9-33FE"
)


def _code_point_ranges(listed: str) -> list[tuple[int, int]]:
    ranges = []
    for item in listed.split():
        first, _, last = item.partition("-")
        ranges.append((int(first, 16), int(last or first, 16)))
    return ranges


def _re2_class(ranges: list[tuple[int, int]]) -> str:
    # \x{...} keeps the pattern ASCII, so it survives being pasted into SQL text.
    code = "\\x{{{:X}}}".format
    return "[" + "".join(code(a) if a == b else f"{code(a)}-{code(b)}" for a, b in ranges) + "]"


def _prefilter_re2() -> str:
    """RE2 for DuckDB matching every text that mask_cards changes, and few others.

    A superset by construction: after URL-decoding and NFKC, a digit comes from an ASCII digit, a
    `%3X` escape, an escaped non-ASCII character (its lead byte `%C2`-`%F4` is counted) or a listed
    code point; between the digits of a run there is no ASCII letter outside an escape, no ':' and
    no chr(31). Separators are not counted, as decoding and NFKC change their length. The code
    points that become several digits (`⑳`, `⅒`, ...), raw or escaped, make any text a candidate."""
    several = _code_point_ranges(_SEVERAL_DIGITS_CODE_POINTS)
    finals: dict[str, str] = {}  # "%E2%85%9" -> "0123456789ABCDE"
    for first, last in several:
        for cp in range(first, last + 1):
            escaped = "".join(f"%{b:02X}" for b in chr(cp).encode())
            finals[escaped[:-1]] = finals.get(escaped[:-1], "") + escaped[-1]
    escapes = "|".join(f"{head}[{tails}]" for head, tails in finals.items())
    one = _re2_class(_code_point_ranges(_ONE_DIGIT_CODE_POINTS))
    digit = rf"(?:[0-9]|%3[0-9]|%[C-Fc-f][0-9A-Fa-f]|{one})"
    separator = r"(?:[^0-9A-Za-z:\x1f,;|\"\t]|%[0-9A-Fa-f]{2})"
    run = rf"{digit}(?:{separator}*{digit}){{{MIN_DIGITS - 1}}}"
    return rf"{run}|{_re2_class(several)}|(?i:{escapes})"


CARD_PREFILTER_RE2 = _prefilter_re2()


def luhn_valid(digits: str) -> bool:
    """True for an ASCII digit string whose Luhn checksum is valid."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _ascii_digits(digits: str) -> str:
    if digits.isascii():
        return digits
    return "".join(chr(48 + unicodedata.decimal(char)) for char in digits)


def _normalised(text: str) -> str:
    """`text` URL-decoded and NFKC-normalised; plain ASCII without % or + comes back as is."""
    if "%" in text or "+" in text:
        text = unquote_plus(text)
    return text if text.isascii() else unicodedata.normalize("NFKC", text)


def _card_spans(text: str) -> Iterator[tuple[int, int]]:
    """Spans of `text` (already normalised) to mask, in order and disjoint."""
    # Python's re tries a pattern at every position: 10-20 µs on a 300-character row of
    # timestamps, IPs and user agents. Bytes classified and squeezed in C take about 1 µs.
    classes = text.encode("utf-8", "surrogatepass").translate(_BYTE_CLASSES, _ASCII_SEPARATORS)
    if b"d" * MIN_DIGITS not in classes:
        return
    # Letters of the same length in place of UUIDs, so spans still index `text`.
    scanned = _UUID.sub(lambda m: "x" * len(m.group(0)), text) if "-" in text else text
    for run in _RUN.finditer(scanned):
        yield from _run_spans(list(_GROUP.finditer(scanned, *run.span())))


def _run_spans(groups: list[re.Match[str]]) -> Iterator[tuple[int, int]]:
    """Spans to mask in one run of digit groups: the union of its Luhn-valid windows."""
    digits = "".join(_ascii_digits(g.group(0)) for g in groups)
    if len(digits) < MIN_DIGITS:
        return
    offsets = [0]
    for g in groups:
        offsets.append(offsets[-1] + len(g.group(0)))
    # Every valid window is masked, not only the first: in `06 12 34 56 78 4111 1111 1111 1111` a
    # window starting in the phone number may pass Luhn, and masking just that one would leave
    # twelve digits of the card.
    start = end = -1
    for i in range(len(groups)):
        for j in range(i, len(groups)):
            count = offsets[j + 1] - offsets[i]
            if count > MAX_DIGITS:
                break
            if count >= MIN_DIGITS and luhn_valid(digits[offsets[i] : offsets[j + 1]]):
                if groups[i].start() > end:
                    if end >= 0:
                        yield start, end
                    start = groups[i].start()
                end = max(end, groups[j].end())
    if end >= 0:
        yield start, end


def has_card(text: str | None) -> bool:
    """True when `text` holds a card number (see the module docstring for what counts)."""
    if text is None:
        return False
    return next(_card_spans(_normalised(text)), None) is not None


def mask_cards(text: str | None) -> str | None:
    """`text` URL-decoded and NFKC-normalised with each card number replaced by CARD_MASK, or
    `text` itself, unchanged, when it holds none (kalido_has_card compares the two)."""
    if text is None:
        return None
    normal = _normalised(text)
    pieces: list[str] = []
    last = 0
    for start, end in _card_spans(normal):
        pieces += [normal[last:start], CARD_MASK]
        last = end
    if not pieces:
        return text
    pieces.append(normal[last:])
    return "".join(pieces)
