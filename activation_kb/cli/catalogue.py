"""CLI commands for the catalogue: ``activation-kb lookup`` and ``activation-kb catalogue``.

``lookup`` exits 0 when it found rows or described a valid code (also one the article does not
document), 1 when words match nothing, 2 on bad input.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
import pandas as pd

from ._common import fail
from ._words import type_text, words

__all__ = ["register"]

_FORMATS = ("csv", "json", "parquet")
_LIST_COLUMNS = ("activation_types", "links")
_SHORT_HEX = re.compile(r"^\s*0\s*[xX]\s*([0-9A-Fa-f]{1,7})\s*$")


def register(group: click.Group) -> None:
    """Add this module's commands to the top-level activation-kb group."""
    group.add_command(lookup_command)
    group.add_command(catalogue_group)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of a catalogue frame as JSON-ready dicts (lists and ints kept)."""
    return frame.to_dict(orient="records")


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)


@click.command("lookup")
@click.argument("query")
@click.option("--lang", type=click.Choice(["en", "fr"]), default="en", show_default=True,
              help="Language of the catalogue.")
@click.option("--catalogue", "catalogue_file", metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A copy of the article (markdown, any revision or language) to search "
                   "instead of the shipped one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def lookup_command(query: str, lang: str, catalogue_file: Path | None, as_json: bool) -> None:
    """Look up an error code (any spelling) or words in the error catalogue.

    A code prints its entry; a valid code the article does not document prints what its bits
    and the SDK tables say (exit 0). Words print the matching codes, best first (exit 1 when
    none matches). JSON keys: query, lang, kind ("code" or "words"), code, in_article,
    description, results. With --catalogue FILE, the entries come from that copy of the article
    (problems met while reading it are warned about on standard error).
    """
    import dataclasses
    import warnings

    from ..catalogue.article import load_catalogue
    from ..catalogue.codes import normalize_code
    from ..catalogue.hresult import describe_code
    from ..catalogue.search import lookup, query_code
    from ..errors import InvalidCodeError

    if not query.strip():
        raise fail("the query is empty; give an error code such as 0xC004F074 or words", 2)
    catalogue = None
    if catalogue_file is not None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            catalogue = load_catalogue(lang, source=catalogue_file)
        for warning in caught:
            click.echo(f"Warning: {warning.message}", err=True)
    code = query_code(query, lang, catalogue=catalogue)
    results = lookup(query, lang=lang, catalogue=catalogue)
    if code is None and results.empty:
        # A decimal number that no entry mentions: still a valid code to describe.
        try:
            code = normalize_code(query)
        except InvalidCodeError:
            code = None
    description = describe_code(code) if code is not None else None
    w = words(lang)
    if description is not None and catalogue is not None:
        in_article = bool((catalogue["value"] == description.value).any())
        description = dataclasses.replace(description, in_article=in_article)
    if as_json:
        click.echo(_dumps({
            "query": query,
            "lang": lang,
            "kind": "words" if code is None else "code",
            "code": code,
            "in_article": None if description is None else description.in_article,
            "description": None if description is None else description.as_dict(),
            "results": records(results),
        }))
    elif not results.empty and code is not None:
        click.echo(_entry(results.iloc[0], lang))
        click.echo(f"\n{w['decoded']}:\n{description.summary()}")
    elif not results.empty:
        click.echo(_ranking(query, results, lang))
    elif description is not None:
        click.echo(description.summary())
        click.echo("\n" + w["not_in_article"].format(code=code))
        short = _SHORT_HEX.match(query)
        if short:
            click.echo(w["short_hex"].format(query=query.strip(), digits=len(short.group(1)),
                                             code=code))
    else:
        click.echo(w["no_match"].format(query=query), err=True)
    if results.empty and description is None:
        raise click.exceptions.Exit(1)


def _entry(row: pd.Series, lang: str = "en") -> str:
    w = words(lang)
    colon = "\u00a0:" if lang == "fr" else ":"
    lines = [
        f"{row['code']}  {row['message']}",
        f"{w['category']}{colon} {row['category_label']} ({row['category']})",
        f"{w['type']}{colon} {', '.join(type_text(t, lang) for t in row['activation_types'])}"
        + (f" ({w['from_english']})"
           if row.get("activation_types_from") == "en" and row["lang"] != "en" else ""),
        "",
        f"{w['cause']}{colon}",
        _indent(row["cause"]),
        "",
        f"{w['resolution']}{colon}",
        _indent(row["resolution"]),
    ]
    if row["links"]:
        lines += ["", f"{w['links']}{colon}"] + [f"  - {link['text']}: {link['url']}"
                                                 for link in row["links"]]
    lines += ["", f"{w['source']}{colon} {row['source']} ({row['lang']})"]
    return "\n".join(lines)


def _ranking(query: str, results: pd.DataFrame, lang: str = "en") -> str:
    w = words(lang)
    count = w["one_match"] if len(results) == 1 else w["matches"].format(n=len(results))
    colon = "\u00a0:" if lang == "fr" else ":"
    lines = [f"{count} {query!r}, {w['best']}{colon}"]
    for row in results.itertuples(index=False):
        message = row.message if len(row.message) <= 90 else row.message[:87] + "..."
        score = f"{row.score:4.2f}" if lang != "fr" else f"{row.score:4.2f}".replace(".", ",")
        lines.append(f"  {row.code}  {score}  {row.category:<16}  {message}")
    lines.append(w["run_lookup"])
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" if line else "" for line in text.split("\n"))


@click.group("catalogue")
def catalogue_group() -> None:
    """Export the shipped error catalogue or parse a copy of the article."""


@catalogue_group.command("export")
@click.option("--lang", type=click.Choice(["en", "fr"]), default="en", show_default=True,
              help="Language of the catalogue.")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default=None,
              help="Output format; default: from the -o suffix, else csv.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File to write; csv and json go to standard output without it.")
def export_command(lang: str, fmt: str | None, output: Path | None) -> None:
    """Write the shipped catalogue as CSV, JSON or Parquet.

    In CSV the list columns (activation_types, links) hold JSON text.
    """
    from ..catalogue.article import load_catalogue

    if fmt is None:
        suffix = output.suffix.lstrip(".").lower() if output is not None else ""
        fmt = suffix if suffix in _FORMATS else "csv"
    if fmt == "parquet" and output is None:
        raise fail("--format parquet writes a binary file: give it with -o FILE", 2)
    frame = load_catalogue(lang)
    if fmt == "parquet":
        frame.to_parquet(output, index=False)
    else:
        text = _dumps(records(frame)) + "\n" if fmt == "json" else _csv(frame)
        if output is None:
            click.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
    if output is not None:
        click.echo(f"Wrote {len(frame)} codes ({lang}, {fmt}) to {output}", err=True)


def _csv(frame: pd.DataFrame) -> str:
    flat = frame.assign(**{
        column: [json.dumps(value, ensure_ascii=False) for value in frame[column]]
        for column in _LIST_COLUMNS
    })
    return flat.to_csv(index=False)


@catalogue_group.command("parse")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: source, lang, codes, problems and rows.")
def parse_command(file: Path, as_json: bool) -> None:
    """Parse a copy of the article (any revision or translation): its codes and its problems.

    Every code that can be read is printed, then the problems met (line, code, what was wrong,
    what was done). Exit 0 when codes were read, even with problems; 1 when none could be read;
    2 when the file cannot be read as text. JSON keys: source, lang, codes (the codes read, in
    order), problems (line, code, kind, problem, action), rows (the catalogue rows).
    """
    from ..catalogue.article import read_catalogue_file

    result = read_catalogue_file(file)
    frame = result.frame
    problems = [
        {key: value for key, value in record.items() if key != "source"}
        for record in result.problem_records()
    ]
    langs = sorted(set(frame["lang"]))
    if as_json:
        click.echo(_dumps({
            "source": file.name,
            "lang": langs[0] if len(langs) == 1 else langs or None,
            "codes": frame["code"].tolist(),
            "problems": problems,
            "rows": records(frame),
        }))
    else:
        if not frame.empty:
            click.echo(f"{len(frame)} codes in {file.name} (lang {', '.join(langs)}):")
        for row in frame.itertuples(index=False):
            types = ", ".join(row.activation_types) or "?"
            if row.activation_types_from == "en" and row.lang != "en":
                types += " (en)"
            message = row.message if len(row.message) <= 70 else row.message[:67] + "..."
            click.echo(f"  {row.code}  {row.category:<16}  {types:<27}  {message}")
        if problems:
            click.echo(f"{len(problems)} problem(s) in {file.name}:")
            for problem in problems:
                where = f"line {problem['line']}" if problem["line"] is not None else "text"
                code = problem["code"] or "-"
                click.echo(f"  {where:<10} {code:<10}  {problem['kind']}: {problem['problem']}; "
                           f"{problem['action']}")
    if frame.empty:
        raise fail(f"{file.name}: no error code could be read; see the problems above", 1)
