"""Count the records of a CSV file from its bytes, independently of the CSV reader that loads it.

The audit compares this count with the rows the reader produced (clean + quarantined), so a reader that drops or
merges lines (an encoding error, a wrong line-ending guess, a mis-sniffed quote) fails the build instead of losing
rows silently. The scan is vectorised with numpy over large blocks: no Python work per row.

Record rules (they match DuckDB's CSV reader with a fixed quote character):
  * a record ends at a line feed (an optional carriage return before it belongs to the terminator), or at a bare
    carriage return in a file that has no line feed at all;
  * a line end inside a quoted field does not end the record. A quote opens a quoted field only at the start of a
    field (after the delimiter, a line end or the start of the file); inside it, a run of an even number of quotes
    is escaped quotes and an odd run closes it. A quote in the middle of an unquoted field is a literal character;
  * empty lines are not records; a last line without a terminator is.
The first record is the header; `data_records` excludes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLOCK_BYTES = 4 << 20  # small blocks keep numpy's temporaries in cache
LF, CR = 10, 13


@dataclass
class ScanResult:
    data_records: int
    lf_terminators: int
    crlf_terminators: int
    cr_terminators: int
    empty_lines: int
    quote_chars: int
    unterminated_quote_line: int | None  # physical line (1-based) where a quoted field opened that never closed
    physical_lines: int

    @property
    def mixed_line_endings(self) -> bool:
        styles = [self.lf_terminators > 0, self.crlf_terminators > 0, self.cr_terminators > 0]
        return sum(styles) > 1


@dataclass
class _State:
    inside: bool = False  # inside a quoted field at the end of the previous block
    opened_at: int = -1  # absolute position of the quote that opened the current quoted field
    last_terminator: int = -1  # absolute position of the last record terminator (element index)
    last_unit: int = -1  # value of the last unit of the previous block (-1 = start of file)
    prev_was_cr: bool = False


def _units(path: Path, offset: int, unit_bytes: int, byte_order: str) -> np.ndarray:
    mapped = np.memmap(path, dtype=np.uint8, mode="r")
    body = mapped[offset:]
    if unit_bytes == 1:
        return body
    usable = (len(body) // 2) * 2
    return body[:usable].view(f"{byte_order}u2")


def scan_csv(path: Path, *, delimiter: str, quote: str = '"', escape: str = '"', encoding: str = "utf-8",
             bom_bytes: int = 0) -> ScanResult:
    """Scan a CSV file and count its records (see the module docstring for the rules)."""
    unit_bytes = 2 if encoding.lower().replace("_", "-").startswith("utf-16") else 1
    byte_order = ">" if encoding.lower().endswith("be") else "<"
    if path.stat().st_size <= bom_bytes:
        return ScanResult(0, 0, 0, 0, 0, 0, None, 0)
    units = _units(path, bom_bytes, unit_bytes, byte_order)
    has_lf = _contains(units, LF)
    terminator = LF if has_lf else CR
    delim, quote_unit = ord(delimiter), (ord(quote) if quote else -1)
    escape_unit = ord(escape) if escape and escape != quote else -1
    block = BLOCK_BYTES // unit_bytes
    field_start = np.zeros(256 if unit_bytes == 1 else 65536, dtype=bool)  # units before a quote that opens a field
    field_start[[delim, LF, CR]] = True
    state, totals = _State(), np.zeros(6, dtype=np.int64)  # records, lf, crlf, cr, empty, quotes
    physical_lines = 0
    start = 0
    while start < len(units):
        stop = _block_end(units, start, block, quote_unit)
        chunk = np.asarray(units[start:stop])
        physical_lines += int(np.count_nonzero(chunk == terminator))
        _scan_block(chunk, start, state, totals, terminator, field_start, quote_unit, escape_unit)
        start = stop
    records = int(totals[0])
    if state.last_terminator < len(units) - 1 and not state.inside:
        tail = np.asarray(units[state.last_terminator + 1:])
        if len(tail) and not (len(tail) == 1 and tail[0] == CR):
            records += 1
            physical_lines += 1
    unterminated = None
    if state.inside:
        unterminated = _line_of(units, state.opened_at, terminator)
    return ScanResult(
        data_records=max(records - 1, 0), lf_terminators=int(totals[1]), crlf_terminators=int(totals[2]),
        cr_terminators=int(totals[3]), empty_lines=int(totals[4]), quote_chars=int(totals[5]),
        unterminated_quote_line=unterminated, physical_lines=physical_lines)


def _contains(units: np.ndarray, value: int) -> bool:
    step = BLOCK_BYTES
    return any(bool(np.any(np.asarray(units[i:i + step]) == value)) for i in range(0, len(units), step))


def _block_end(units: np.ndarray, start: int, block: int, quote_unit: int) -> int:
    """End of a block, never inside a run of quotes (a run is only meaningful as a whole)."""
    stop = min(start + block, len(units))
    while stop < len(units) and units[stop - 1] == quote_unit and units[stop] == quote_unit:
        stop += 1
    return stop


def _scan_block(chunk: np.ndarray, base: int, state: _State, totals: np.ndarray, terminator: int,
                field_start: np.ndarray, quote_unit: int, escape_unit: int) -> None:
    line_ends = np.flatnonzero(chunk == terminator)
    runs = _quote_runs(chunk, state, quote_unit, escape_unit) if quote_unit >= 0 else None
    if runs is not None:
        run_first, run_last = runs
        totals[5] += int((run_last - run_first).sum()) + len(run_first)
        inside_after = _inside_after_runs(chunk, run_first, run_last, state, field_start)
        # the quote state at a line end is the state after the last quote run before it
        run_index = np.searchsorted(run_last, line_ends) - 1
        inside_at = np.where(run_index >= 0, inside_after[np.maximum(run_index, 0)], state.inside)
        terminators = line_ends[~inside_at]
        inside_before = np.empty(len(inside_after), dtype=bool)
        inside_before[0] = state.inside
        inside_before[1:] = inside_after[:-1]
        openings = np.flatnonzero(inside_after & ~inside_before)
        if len(openings):
            state.opened_at = base + int(run_first[openings[-1]])
        state.inside = bool(inside_after[-1])
    else:
        terminators = np.empty(0, dtype=np.int64) if state.inside else line_ends
    _count_terminators(chunk, base, terminators, state, totals, terminator)
    state.last_unit = int(chunk[-1])


def _quote_runs(chunk: np.ndarray, state: _State, quote_unit: int,
                escape_unit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """First and last position of each run of consecutive quotes (a quote after the escape character, when that is
    not the quote itself, is text); None when the block has no quote."""
    is_quote = chunk == quote_unit
    if escape_unit >= 0:
        is_quote[1:] &= chunk[:-1] != escape_unit
        is_quote[0] &= state.last_unit != escape_unit
    if not is_quote.any():
        return None
    starts = is_quote.copy()
    starts[1:] &= ~is_quote[:-1]
    ends = is_quote
    ends[:-1] &= ~is_quote[1:]  # in place: is_quote is not needed any more
    return np.flatnonzero(starts), np.flatnonzero(ends)


def _inside_after_runs(chunk: np.ndarray, run_first: np.ndarray, run_last: np.ndarray, state: _State,
                       field_start: np.ndarray) -> np.ndarray:
    """Whether the reader is inside a quoted field after each run of quotes.

    An even run changes nothing (escaped quotes, or an empty quoted field). An odd run toggles the state when it
    is at a field start; an odd run elsewhere closes the field when inside and is literal text when outside, so
    the reader is outside after it either way (a 'reset'). The state after run k is therefore the parity of the
    toggles since the last reset (or since the start of the block, from the carried state).
    """
    odd = ((run_last - run_first) & 1) == 0
    before = chunk[run_first - 1]  # index -1 wraps to the block's last unit: fixed just below
    if run_first[0] == 0:
        before[0] = state.last_unit if state.last_unit >= 0 else LF
    at_field_start = field_start[before]
    toggles = odd & at_field_start
    resets = odd & ~at_field_start
    toggle_count = np.cumsum(toggles, dtype=np.int32)
    # toggle_count is non-decreasing, so a running max of its value at resets is its value at the last reset
    at_last_reset = np.maximum.accumulate(np.where(resets, toggle_count, 0))
    inside = ((toggle_count - at_last_reset) & 1).astype(bool)
    if state.inside:
        first_reset = int(np.argmax(resets)) if resets.any() else len(resets)
        inside[:first_reset] = ~inside[:first_reset]
    return inside


def _count_terminators(chunk: np.ndarray, base: int, terminators: np.ndarray, state: _State, totals: np.ndarray,
                       terminator: int) -> None:
    if not len(terminators):
        return
    if terminator == LF:
        before = np.where(terminators > 0, chunk[np.maximum(terminators - 1, 0)], state.last_unit)
        crlf = before == CR
    else:
        crlf = np.zeros(len(terminators), dtype=bool)
    absolute = terminators + base
    previous = np.empty(len(absolute), dtype=np.int64)
    previous[0] = state.last_terminator
    previous[1:] = absolute[:-1]
    gap = absolute - previous
    empty = (gap == 1) | ((gap == 2) & crlf)
    totals[0] += int(np.count_nonzero(~empty))
    totals[4] += int(np.count_nonzero(empty))
    totals[2] += int(np.count_nonzero(crlf & ~empty))
    if terminator == LF:
        totals[1] += int(np.count_nonzero(~crlf & ~empty))
    else:
        totals[3] += int(np.count_nonzero(~empty))
    state.last_terminator = int(absolute[-1])


def _line_of(units: np.ndarray, position: int, terminator: int) -> int:
    lines = 1
    for i in range(0, position, BLOCK_BYTES):
        lines += int(np.count_nonzero(np.asarray(units[i:min(i + BLOCK_BYTES, position)]) == terminator))
    return lines
