"""Text of the landing files built from numpy arrays, so large days never become Python objects."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEX_DIGITS = np.frombuffer(b"0123456789abcdef", np.uint8)
_MASK60 = np.uint64((1 << 60) - 1)


def ascii_slug(text: str, separator: str = "-") -> str:
    """Lower-case ASCII words joined by `separator` (for URLs and e-mail addresses)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(c if c.isalnum() else " " for c in ascii_text.lower()).split()
    return separator.join(words)


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as an (n, width) ASCII matrix."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return (values.astype(np.int64)[:, None] // powers % 10 + 48).astype(np.uint8)


def matrix(n: int, *parts: bytes | np.ndarray) -> np.ndarray:
    """Concatenate constant byte strings and (n, k) byte matrices column-wise."""
    columns = [
        np.broadcast_to(np.frombuffer(part, np.uint8), (n, len(part)))
        if isinstance(part, bytes)
        else part
        for part in parts
    ]
    return np.concatenate(columns, axis=1)


def strings(byte_matrix: np.ndarray) -> pa.Array:
    """Fixed-width ASCII rows of a byte matrix as an Arrow string array, without Python objects."""
    n, width = byte_matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(byte_matrix).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def quoted(values: Iterable[str | None]) -> pa.Array:
    """JSON fragments for a small dictionary of strings: quoted, or null."""
    return pa.array(
        ["null" if v is None else json.dumps(v, ensure_ascii=False) for v in values], pa.string()
    )


def _iso_matrix(wall: np.ndarray) -> np.ndarray:
    """'YYYY-MM-DDTHH:MM:SS' for wall-clock seconds since 1970 as an (n, 19) byte matrix."""
    days = wall // 86400
    seconds = wall - days * 86400
    calendar_day = days.astype("datetime64[D]")
    month_start = calendar_day.astype("datetime64[M]")
    year = calendar_day.astype("datetime64[Y]").astype(np.int64) + 1970
    month = month_start.astype(np.int64) % 12 + 1
    day = (calendar_day - month_start).astype(np.int64) + 1
    n = len(wall)
    return matrix(
        n,
        _digits(year, 4),
        b"-",
        _digits(month, 2),
        b"-",
        _digits(day, 2),
        b"T",
        _digits(seconds // 3600, 2),
        b":",
        _digits(seconds // 60 % 60, 2),
        b":",
        _digits(seconds % 60, 2),
    )


def quoted_times(epochs: np.ndarray, offsets: np.ndarray, with_offset: np.ndarray) -> pa.Array:
    """Quoted ISO-8601 times: UTC with Z, or local time with its offset where `with_offset`."""
    n = len(epochs)
    utc = strings(matrix(n, b'"', _iso_matrix(epochs), b'Z"'))
    if not with_offset.any():
        return utc
    sign = np.where(offsets < 0, ord("-"), ord("+")).astype(np.uint8)[:, None]
    minutes = np.abs(offsets) // 60
    local = matrix(
        n,
        b'"',
        _iso_matrix(epochs + offsets),
        sign,
        _digits(minutes // 60, 2),
        b":",
        _digits(minutes % 60, 2),
        b'"',
    )
    return pc.if_else(pa.array(with_offset), strings(local), utc)


def timestamps_z(epochs: np.ndarray) -> list[str]:
    """ISO-8601 UTC strings with Z for many instants at once."""
    return strings(matrix(len(epochs), _iso_matrix(epochs), b"Z")).to_pylist()


def _scramble(counters: np.ndarray, key: int) -> np.ndarray:
    """A keyed bijection on 60-bit integers: distinct counters give distinct, random-looking ids."""
    x = (counters.astype(np.uint64) ^ np.uint64(key)) & _MASK60
    for multiplier, shift in ((0x9E3779B97F4A7C15, 29), (0xBF58476D1CE4E5B9, 31)):
        x = (x * np.uint64(multiplier)) & _MASK60  # odd multiplier modulo 2**60: a bijection
        x ^= x >> np.uint64(shift)
    return x


def hex_ids(prefix: bytes, counters: np.ndarray, key: int) -> pa.Array:
    """Quoted ids `prefix` + 16 hex digits, unique per counter."""
    x = _scramble(counters, key)
    nibbles = (x[:, None] >> np.arange(56, -1, -4, dtype=np.uint64)) & np.uint64(15)
    # A letter in the middle caps runs of decimal digits at 8, so an id never looks like a card.
    letter = (np.uint64(10) + x % np.uint64(6))[:, None]
    hex_digits = HEX_DIGITS[np.concatenate([nibbles[:, :7], letter, nibbles[:, 7:]], axis=1)]
    return strings(matrix(len(x), b'"' + prefix, hex_digits, b'"'))


def json_lines(fields: list[tuple[str, pa.Array]]) -> pa.Array:
    """One JSON object per row, newline-terminated, from columns of ready JSON fragments."""
    # The fragments come from fixed alphabets (ids, URLs, user agents) or json.dumps, so plain
    # concatenation gives exactly what json.dumps(..., separators=(",", ":")) would.
    parts: list[str | pa.Array] = []
    for position, (name, values) in enumerate(fields):
        parts += [("{" if position == 0 else ",") + json.dumps(name) + ":", values]
    return pc.binary_join_element_wise(*parts, "}\n", "")


def text_of(lines: pa.Array) -> memoryview:
    """The concatenated bytes of a string array, straight from its data buffer."""
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset :]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[len(lines)]]


def dumps(row: dict) -> str:
    """A JSON line in the same compact form as json_lines."""
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"
