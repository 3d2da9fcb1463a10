"""`activation-kb lookup` and `activation-kb catalogue export|parse`: output, JSON, exit codes."""

import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import TEST_DATA

from activation_kb import describe_code, load_catalogue
from activation_kb.catalogue.article import CATALOGUE_COLUMNS
from activation_kb.cli import cli

LOOKUP_KEYS = ["query", "lang", "kind", "code", "in_article", "description", "results"]


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_lookup_code_prints_the_entry():
    result = run("lookup", "c004f074")
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("0xC004F074  The Software Protection Service reported")
    for part in ("Cause:", "Resolution:", "Event ID 12288", "Activation type: KMS client",
                 "Decoded:", "SL_E_VL_BINDING_SERVICE_UNAVAILABLE"):
        assert part in result.output


def test_lookup_code_json_shape():
    result = run("lookup", "0xC004F074", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert list(data) == LOOKUP_KEYS
    assert (data["kind"], data["code"], data["in_article"]) == ("code", "0xC004F074", True)
    assert data["description"] == describe_code("0xC004F074").as_dict()
    assert len(data["results"]) == 1
    row = data["results"][0]
    assert list(row) == [*CATALOGUE_COLUMNS, "score"]
    assert row["value"] == 0xC004F074 and row["score"] == 1.0
    assert row["activation_types"] == ["KMS client"]
    assert row == json.loads(json.dumps(load_catalogue().query("code == '0xC004F074'")
                                        .assign(score=1.0).to_dict(orient="records")[0]))


def test_lookup_code_outside_the_article_is_described():
    result = run("lookup", "0x80072EE7")
    assert result.exit_code == 0
    assert "ERROR_INTERNET_NAME_NOT_RESOLVED" in result.output
    assert result.output.rstrip().endswith(
        '0x80072EE7 is not in the article "Troubleshoot activation error codes".'
    )
    data = json.loads(run("lookup", "0x80072EE7", "--json").output)
    assert (data["kind"], data["in_article"], data["results"]) == ("code", False, [])
    assert data["description"]["win32_name"] == "ERROR_INTERNET_NAME_NOT_RESOLVED"


def test_lookup_words_ranks_codes():
    result = run("lookup", "horloge", "--lang", "fr")
    assert result.exit_code == 0
    first = result.output.splitlines()[0]
    assert first == "1 code correspond à 'horloge', le meilleur d’abord\u00a0:"
    assert "0xC004F06C  1,00  clock" in result.output  # French decimal comma
    english = run("lookup", "clock")
    assert english.output.splitlines()[0].endswith(", best first:")
    assert "0xC004F06C  1.00  clock" in english.output
    data = json.loads(run("lookup", "DNS", "--json").output)
    assert (data["kind"], data["code"], data["in_article"], data["description"]) == (
        "words", None, None, None,
    )
    scores = [row["score"] for row in data["results"]]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0


def test_lookup_entry_in_french():
    out = run("lookup", "0xC004F074", "--lang", "fr").output
    assert "Catégorie\u00a0: Hôte KMS injoignable" in out and "Résolution\u00a0:" in out
    assert "Type d’activation\u00a0: client KMS" in out
    assert "Category:" not in out and "Resolution:" not in out


def test_lookup_nothing_found_exits_1():
    result = run("lookup", "zebra unicorn")
    assert result.exit_code == 1
    assert "No catalogue entry matches 'zebra unicorn'." in result.output
    result = run("lookup", "zebra unicorn", "--json")
    assert result.exit_code == 1 and json.loads(result.output)["results"] == []


def test_lookup_short_hex_code_says_how_it_was_read():
    result = run("lookup", "0xC004F07")
    assert result.exit_code == 0
    assert result.output.rstrip().endswith(
        "Note: '0xC004F07' has 7 hexadecimal digits, not 8; it was read as 0x0C004F07."
    )
    assert "Note:" not in run("lookup", "0x80072EE7").output


def test_lookup_decimal_code_no_text_mentions_is_described():
    result = run("lookup", "2147954407")  # 0x80072EE7 in decimal
    assert result.exit_code == 0 and "0x80072EE7 is not in the article" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lookup", "0xZZZZ"], "Error: '0xZZZZ' is not an activation error code"),
        (["lookup", "  "], "Error: the query is empty"),
        (["lookup", "DNS", "--lang", "de"], "Invalid value for '--lang'"),
        (["catalogue", "export", "--format", "parquet"], "Error: --format parquet writes a binary"),
        (["catalogue", "export", "--format", "xml"], "Invalid value for '--format'"),
        (["catalogue", "parse", "no_such_file.md"], "does not exist"),
    ],
)
def test_bad_input_exits_2_without_traceback(args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_export_csv_to_stdout():
    result = run("catalogue", "export")
    assert result.exit_code == 0
    frame = pd.read_csv(io.StringIO(result.output))
    assert list(frame.columns) == list(CATALOGUE_COLUMNS) and len(frame) == 30
    expected = load_catalogue("en")
    types = [json.loads(v) for v in frame["activation_types"]]
    assert types == expected["activation_types"].tolist()
    assert [json.loads(v) for v in frame["links"]] == expected["links"].tolist()
    assert frame["value"].tolist() == expected["value"].tolist()


def test_export_json_to_stdout_in_french():
    result = run("catalogue", "export", "--lang", "fr", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert len(rows) == 30 and list(rows[0]) == list(CATALOGUE_COLUMNS)
    assert {row["lang"] for row in rows} == {"fr", "en"}


@pytest.mark.parametrize("suffix", ["parquet", "json", "csv"])
def test_export_to_a_file_takes_the_format_from_its_suffix(tmp_path, suffix):
    out = tmp_path / f"catalogue.{suffix}"
    result = run("catalogue", "export", "-o", str(out))
    assert result.exit_code == 0
    assert f"Wrote 30 codes (en, {suffix}) to {out}" in result.output
    expected = load_catalogue("en")
    if suffix == "parquet":
        back = pd.read_parquet(out)
        assert back["code"].tolist() == expected["code"].tolist()
        assert [list(v) for v in back["activation_types"]] == expected["activation_types"].tolist()
        assert [[dict(link) for link in v] for v in back["links"]] == expected["links"].tolist()
    elif suffix == "json":
        rows = json.loads(out.read_text("utf-8"))
        assert [row["code"] for row in rows] == expected["code"].tolist()
    else:
        assert pd.read_csv(out)["code"].tolist() == expected["code"].tolist()


def test_parse_prints_the_codes():
    path = TEST_DATA / "catalogue" / "translated_es.md"
    result = run("catalogue", "parse", str(path))
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "3 codes in translated_es.md (lang es):"
    assert lines[1].split()[:2] == ["0x8007232B", "dns"]
    data = json.loads(run("catalogue", "parse", str(path), "--json").output)
    assert list(data) == ["source", "lang", "codes", "problems", "rows"]
    assert (data["source"], data["lang"], data["problems"]) == ("translated_es.md", "es", [])
    rows = data["rows"]
    assert [row["code"] for row in rows] == data["codes"] == [
        "0x8007232B", "0x8007232A", "0x80070005"]
    assert list(rows[0]) == list(CATALOGUE_COLUMNS)


def test_parse_the_shared_2025_revision(shared_dir):
    path = shared_dir / "catalogue-sources/en-us_troubleshoot-activation-error-codes_2025-01-15.md"
    result = run("catalogue", "parse", str(path), "--json")
    data = json.loads(result.output)
    assert result.exit_code == 0 and len(data["rows"]) == 30 and data["problems"] == []


def test_parse_without_any_code_exits_1_and_says_why():
    result = run("catalogue", "parse", str(TEST_DATA / "catalogue" / "not_the_article.md"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0] == "1 problem(s) in not_the_article.md:"
    assert lines[1].split()[:3] == ["text", "-", "no_codes:"]
    assert "no table with a column of error codes" in lines[1]
    assert lines[-1] == ("Error: not_the_article.md: no error code could be read; see the "
                         "problems above")
    assert "Traceback" not in result.output


def test_unreadable_article_exits_2_with_one_line(tmp_path):
    binary = tmp_path / "latin1.md"
    binary.write_bytes("|Code |Café |\n".encode("latin-1"))
    result = run("catalogue", "parse", str(binary))
    assert result.exit_code == 2 and "latin1.md: not UTF-8 text" in result.output


# --- issue 14: problems, exit codes, --catalogue ----------------------------------------------


def test_parse_prints_problems_and_exits_0_when_codes_were_read():
    path = TEST_DATA / "catalogue" / "quirk_local_activation_types_it.md"
    result = run("catalogue", "parse", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "4 codes in quirk_local_activation_types_it.md (lang it):"
    assert lines[4].split()[:4] == ["0xC004F035", "product_key", "KMS", "client,"]
    assert "KMS client, KMS host (en)" in lines[4]
    assert lines[5] == "1 problem(s) in quirk_local_activation_types_it.md:"
    assert lines[6].split()[:4] == ["line", "12", "0xC004F035", "activation_type:"]
    assert lines[6].endswith("used the English article's types for 0xC004F035: KMS client, "
                             "KMS host")


def test_parse_json_lists_the_problems():
    path = TEST_DATA / "catalogue" / "quirk_duplicate_code_es.md"
    result = run("catalogue", "parse", str(path), "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["codes"] == ["0x8007232A", "0x8007232B", "0xC004F074"]
    keys = ["line", "code", "kind", "problem", "action"]
    assert [list(p) for p in data["problems"]] == [keys] * 2
    assert [(p["line"], p["code"], p["kind"]) for p in data["problems"]] == [
        (10, "0x8007232B", "anchor_decides"), (12, "0xC004F074", "duplicate_code"),
    ]
    assert data["rows"][1]["activation_types_from"] == "es"


def test_lookup_in_a_downloaded_revision():
    path = TEST_DATA / "catalogue" / "layout_2023_en.md"
    result = run("lookup", "0x8004FE21", "--catalogue", str(path))
    assert result.exit_code == 0, result.output
    assert "**Solution: reinstall the operating system**" in result.output
    assert "Source: layout_2023_en.md (en)" in result.output
    data = json.loads(run("lookup", "0xC004F074", "--catalogue", str(path), "--json").output)
    # documented in the shipped article, not in this 5-code copy
    assert (data["in_article"], data["description"]["in_article"], data["results"]) == (
        False, False, [])
    words = json.loads(run("lookup", "firewall", "--catalogue", str(path), "--json").output)
    assert [row["code"] for row in words["results"]] == ["0x800706BA"]


def test_lookup_catalogue_with_problems_warns_on_stderr():
    path = TEST_DATA / "catalogue" / "quirk_words_after_code_de.md"
    result = CliRunner().invoke(cli, ["lookup", "0xC004F038", "--catalogue", str(path)])
    assert result.exit_code == 0
    assert "Warning: quirk_words_after_code_de.md: 2 problem(s)" in result.output
    assert "Die gemeldete Anzahl reicht nicht aus." in result.output


def test_lookup_catalogue_without_codes_exits_2():
    path = TEST_DATA / "catalogue" / "not_the_article.md"
    result = run("lookup", "0xC004F074", "--catalogue", str(path))
    assert result.exit_code == 2
    assert result.output.startswith("Error: not_the_article.md: no table with a column")
