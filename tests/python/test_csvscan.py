"""The byte-scan record count agrees with DuckDB's CSV reader (rows + rejected lines) on hand-picked and random
files: quoted line breaks, doubled quotes, stray quotes, wrong field counts, CRLF, blank lines, blocks cut anywhere."""

from __future__ import annotations

import codecs
import random
from pathlib import Path

import duckdb
import pytest

import clvlayer.csvscan as csvscan
from clvlayer.csvscan import scan_csv

CASES = {
    "plain": b"a,b,c\n1,2,3\n4,5,6\n",
    "crlf": b"a,b,c\r\n1,2,3\r\n4,5,6\r\n",
    "cr_only": b"a,b,c\r1,2,3\r4,5,6\r",
    "no_final_newline": b"a,b,c\n1,2,3\n4,5,6",
    "blank_lines": b"a,b,c\n\n1,2,3\n\n\n4,5,6\n\n",
    "blank_crlf_lines": b"a,b,c\r\n\r\n1,2,3\r\n\r\n4,5,6\r\n",
    "whitespace_line": b"a,b,c\n1,2,3\n   \n4,5,6\n",
    "quoted_line_break": b'a,b,c\n1,"x\ny",3\n4,"p""\nq",6\n',
    "excel_crlf_with_lf_in_cells": b'a,b,c\r\n1,"x\ny",3\r\n4,5,6\r\n',
    "stray_quote_in_unquoted_field": b'a,b,c\n1,TV 55" LED,3\n4,5,6\n7,"q",8\n',
    "stray_then_quoted_line_break": b'a,b,c\n1,TV 55" LED,3\n4,"5\n6",6\n7,8",9\n',
    "text_after_closing_quote": b'a,b,c\n1,"x"y,3\n4,5,6\n',
    "empty_quoted": b'a,b,c\n1,"",3\n"",,\n',
    "tripled_quotes": b'a,b,c\n1,"""x""",3\n4,"""",6\n',
    "too_many_fields": b"a,b,c\n1,2,3,4\n5,6,7\n",
    "too_few_fields": b"a,b,c\n1,2\n5,6,7\n",
    "not_utf8": b"a,b,c\n1,caf\xe9,3\n5,6,7\n",
    "all_quoted": b'"a","b","c"\n"1","2","3"\n"4","5,5","6"\n',
}


def duckdb_records(path: Path, columns: int = 3, encoding: str = "utf-8") -> int:
    """Rows DuckDB returns plus the distinct lines it rejects: every record ends up in one of the two."""
    names = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(columns))
    with duckdb.connect() as connection:
        connection.execute(
            f"create table t as select * from read_csv('{path}', auto_detect = false, header = true, delim = ',', "
            f"quote = '\"', escape = '\"', encoding = '{encoding}', strict_mode = true, columns = {{{names}}}, "
            "store_rejects = true)").fetchall()
        rows = connection.execute("select count(*) from t").fetchone()[0]
        rejected = connection.execute("select count(distinct line) from reject_errors").fetchone()[0]
    return rows + rejected


@pytest.mark.parametrize("name", sorted(CASES))
def test_cases_agree_with_duckdb(name: str, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(CASES[name])
    assert scan_csv(path, delimiter=",").data_records == duckdb_records(path)


def _field(rng: random.Random) -> str:
    draw = rng.random()
    if draw < 0.5:
        return rng.choice(["1", "abc", "x y", "", " 2.5"])
    if draw < 0.75:
        return '"' + rng.choice(["a,b", "a\nb", 'a""b', "", '""', "x\r\ny"]) + '"'
    if draw < 0.9:
        return rng.choice(['TV 55" x', 'a"b', 'q""'])
    return rng.choice(['""', '"a"""', '""""'])


@pytest.mark.parametrize("seed", range(3))
def test_random_files_agree_with_duckdb_whatever_the_block_size(seed: int, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    path = tmp_path / "fuzz.csv"
    for _ in range(40):
        newline = rng.choice(["\n", "\r\n"])
        rows = ["a,b,c"] + [",".join(_field(rng) for _ in range(rng.choice([3, 3, 3, 2, 4])))
                            for _ in range(rng.randint(0, 25))]
        path.write_bytes((newline.join(rows) + (newline if rng.random() < 0.8 else "")).encode())
        monkeypatch.setattr(csvscan, "BLOCK_BYTES", rng.choice([7, 16, 64, 1 << 20]))
        scanned = scan_csv(path, delimiter=",")
        if scanned.unterminated_quote_line is None:
            assert scanned.data_records == duckdb_records(path), path.read_bytes()


def test_utf16_is_scanned_in_code_units(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    text = 'a,b,c\r\n1,"x\ny",3\r\n4,5,6\r\n'
    path.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    assert scan_csv(path, delimiter=",", encoding="utf-16-le", bom_bytes=2).data_records == 2
    path.write_bytes(codecs.BOM_UTF16_BE + text.encode("utf-16-be"))
    assert scan_csv(path, delimiter=",", encoding="utf-16-be", bom_bytes=2).data_records == 2


def test_line_endings_and_unterminated_quotes_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(b'a,b,c\r\n1,2,3\n4,"5\n6,7\n')
    scanned = scan_csv(path, delimiter=",")
    assert (scanned.lf_terminators, scanned.crlf_terminators, scanned.mixed_line_endings) == (1, 1, True)
    assert scanned.unterminated_quote_line == 3
