"""The `clv` console script. `clv query` (the metrics service's thin client) starts without importing the rest of
the CLI (rich, yaml and the command modules cost about half a second); every other command is clvlayer.cli's."""

from __future__ import annotations

import sys


def main() -> int:
    if sys.argv[1:2] == ["query"]:
        from clvlayer.query_client import main as query

        return query(sys.argv[2:])
    from clvlayer.cli import main as cli

    return cli()
