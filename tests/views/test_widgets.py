"""The lookup widget driven without a browser: set its controls, read what it shows."""

from __future__ import annotations

import sys
from functools import cache

import lxml.html
import nbformat
import pandas as pd
import papermill
import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from activation_kb import (
    MissingDependencyError,
    SchemaError,
    UnsupportedLanguageError,
    describe_code,
    load_catalogue,
    lookup,
    lookup_widget,
    write_events,
)
from activation_kb.analysis.attempts import activation_attempts
from activation_kb.catalogue.search import normalize_words
from activation_kb.errors import AnalysisError
from activation_kb.schema import coerce_events
from activation_kb.views.lookup_render import code_activity, markdown_html, safe_href

HOSTILE = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "<a href='javascript:alert(1)'>x</a>",
    "&lt;b&gt; & <b>bold</b>",
]
CATALOGUE = {lang: load_catalogue(lang) for lang in ("en", "fr")}
CODES = CATALOGUE["en"]["code"].tolist()


@cache
def shared_widget():
    """One widget reused by property tests (each example sets every control it relies on)."""
    return lookup_widget()


def reset(widget, query="", lang="en"):
    widget.language.value = lang
    widget.category.value = ""
    widget.activation_type.value = ""
    widget.query.value = query
    return widget


def fragment(html: str):
    return lxml.html.fragment_fromstring(html, create_parent="div")


def assert_inert(html: str) -> None:
    """No element from data: no script, image, frame, event handler or non-http(s) link."""
    root = fragment(html)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        assert element.tag not in {"script", "img", "iframe", "object", "embed", "style"}, html
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            if name == "href":
                assert value.startswith(("http://", "https://")), value


def text_of(html: str, css_class: str) -> str:
    found = fragment(html).find_class(css_class)
    assert found, f"no .{css_class} in {html[:200]}"
    return " ".join(" ".join(" ".join(node.itertext()) for node in found).split())


# -- typing codes and words -------------------------------------------------------------------


def _spellings(code: str) -> list[str]:
    value = int(code, 16)
    signed = value - (1 << 32) if value & 0x80000000 else value
    return [
        code,
        code.lower(),
        code[2:].lower(),
        f"hr={code}",
        f"  0x {code[2:]}  ",
        str(signed),
        str(value),
    ]


@settings(max_examples=60, deadline=None)
@given(code=st.sampled_from(CODES), index=st.integers(0, 6))
def test_any_spelling_of_a_code_selects_its_row(code, index):
    spelling = _spellings(code)[index]
    widget = reset(shared_widget(), spelling)
    assert widget.matches["code"].tolist() == [code]
    assert widget.results.value == code
    assert widget.shown_code == code
    row = CATALOGUE["en"].set_index("code").loc[code]
    assert text_of(widget.detail.value, "akb-code") == code
    assert text_of(widget.detail.value, "akb-message") == "Message " + " ".join(
        row["message"].split()
    )


def test_typing_a_code_narrows_to_the_codes_it_starts():
    widget = reset(lookup_widget())
    typed = ""
    for char in "0xC004F074":
        typed += char
        widget.query.value = typed
        shown = widget.matches["code"].tolist()
        if typed == "0":
            assert shown == []
        else:
            assert shown == [c for c in CODES if c.startswith("0x" + typed[2:].upper())], typed
            assert widget.results.value in shown and widget.shown_code == widget.results.value
    assert shown == ["0xC004F074"]
    assert widget.shown_code == "0xC004F074"


def test_picking_another_result_shows_it():
    widget = reset(lookup_widget(), "kms")
    codes = widget.matches["code"].tolist()
    assert len(codes) > 1 and widget.shown_code == codes[0]
    widget.results.value = codes[-1]
    assert widget.shown_code == codes[-1]
    assert text_of(widget.detail.value, "akb-code") == codes[-1]
    widget.query.value = "kms "  # same results: the pick is kept
    assert widget.shown_code == codes[-1]


def test_words_are_ranked_like_lookup():
    widget = reset(lookup_widget(), "dns server")
    expected = lookup("dns server")["code"].tolist()
    assert len(expected) >= 2
    assert widget.matches["code"].tolist() == expected
    assert widget.shown_code == expected[0]
    assert [code for _, code in widget.results.options] == expected
    for row in widget.matches.itertuples():
        words = normalize_words(f"{row.message} {row.cause} {row.resolution} {row.category_label}")
        assert any(w.startswith("dns") for w in words) and any(
            w.startswith("server") for w in words
        )


def test_french_words_find_french_entries():
    widget = reset(lookup_widget(lang="fr"), "horloge", "fr")
    assert widget.matches["code"].tolist()[0] == "0xC004F06C"
    assert widget.language.value == "fr"


def test_nothing_matches():
    widget = reset(lookup_widget(), "zzzzqqq")
    assert widget.matches.empty and widget.shown_code is None and widget.detail.value == ""
    assert "No entry" in widget.status.value


def test_malformed_hex_says_so_without_raising():
    widget = reset(lookup_widget(), "0xZZ")
    assert widget.matches.empty and widget.shown_code is None
    assert "Not a valid code yet" in widget.status.value


# -- language ---------------------------------------------------------------------------------


def test_language_toggle_switches_catalogue_text_and_keeps_query_and_filters():
    widget = reset(lookup_widget(), "0xC004F074")
    english = widget.detail.value
    widget.category.value = "kms_unreachable"
    widget.language.value = "fr"
    fr = CATALOGUE["fr"].set_index("code").loc["0xC004F074"]
    assert widget.query.value == "0xC004F074" and widget.category.value == "kms_unreachable"
    assert text_of(widget.detail.value, "akb-resolution") == "Résolution " + " ".join(
        fr["resolution"].split()
    )
    assert text_of(widget.detail.value, "akb-cause") == "Cause " + " ".join(fr["cause"].split())
    assert widget.detail.value != english
    assert dict(widget.category.options)["Hôte KMS injoignable"] == "kms_unreachable"
    assert widget.query.description == "Code ou mots"
    widget.language.value = "en"
    assert widget.detail.value == english


def test_entry_missing_from_translation_says_it_is_english():
    widget = reset(lookup_widget(lang="fr"), "0x80070490", "fr")
    assert "La traduction n’a pas cette entrée" in widget.detail.value


def test_language_is_checked():
    with pytest.raises(UnsupportedLanguageError):
        lookup_widget(lang="de")


# -- filters ----------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    category=st.sampled_from(["", *sorted(set(CATALOGUE["en"]["category"]))]),
    activation_type=st.sampled_from(["", "MAK", "KMS client", "KMS host"]),
    query=st.sampled_from(["", "kms", "0xC004F0", "activation"]),
)
def test_filters_narrow_results(category, activation_type, query):
    widget = reset(shared_widget(), query)
    widget.category.value = category
    widget.activation_type.value = activation_type
    unfiltered = CATALOGUE["en"] if not query else None
    if query == "0xC004F0":
        unfiltered = CATALOGUE["en"][CATALOGUE["en"]["code"].str.startswith("0xC004F0")]
    elif query:
        unfiltered = lookup(query)
    keep = unfiltered["category"].eq(category) if category else True
    keep = keep & unfiltered["activation_types"].map(
        lambda types: not activation_type or activation_type in types
    )
    assert widget.matches["code"].tolist() == unfiltered[keep]["code"].tolist()
    if (category or activation_type) and len(widget.matches) < len(unfiltered):
        assert "filters applied" in widget.status.value


def test_filters_start_at_all_and_can_empty_the_list():
    widget = lookup_widget()
    assert widget.category.value == "" and widget.category.index == 0
    assert widget.activation_type.value == "" and widget.activation_type.index == 0
    widget.query.value = "0xC004F074"
    widget.category.value = "clock"
    assert widget.matches.empty and widget.shown_code is None and widget.detail.value == ""


# -- uncatalogued codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "lang, said", [("en", "is not in the article"), ("fr", "ne le mentionne pas")]
)
def test_valid_code_outside_the_article_is_decoded(lang, said):
    widget = reset(lookup_widget(), "0x80070002", lang)
    description = describe_code("0x80070002")
    assert not description.in_article
    assert widget.matches.empty and widget.shown_code == "0x80070002"
    assert said in text_of(widget.detail.value, "akb-not-in-article")
    decoded = text_of(widget.detail.value, "akb-decoded")
    assert description.win32_name in decoded and description.message in decoded


def test_article_code_missing_from_a_given_catalogue_is_not_called_undocumented():
    widget = lookup_widget(catalogue=CATALOGUE["en"].head(2))
    widget.query.value = "0xC004F074"
    assert widget.matches.empty and widget.shown_code == "0xC004F074"
    said = text_of(widget.detail.value, "akb-not-in-article")
    assert said == "0xC004F074 is in the article, but not in the catalogue given to this widget."


def test_known_defect_of_an_article_code_is_noted():
    widget = reset(lookup_widget(), "0x80092328")
    assert "garbled 0x8007232B" in text_of(widget.detail.value, "akb-notes")


# -- escaping ---------------------------------------------------------------------------------


def _hostile_catalogue() -> pd.DataFrame:
    frame = load_catalogue("en").head(3).copy()
    frame.loc[0, "message"] = HOSTILE[0]
    frame.loc[0, "cause"] = " ".join(HOSTILE)
    frame.loc[0, "resolution"] = (
        "[click](javascript:alert(1)) [data](data:text/html,<b>x</b>) ![pic](http://evil.example/x.png)"
        ' [ok](https://example.com/a?b=1&c="2") <iframe src=//evil.example></iframe>\n\n'
        "<div onclick=alert(1)>block</div>"
    )
    frame.at[0, "links"] = [
        {"text": HOSTILE[2], "url": "javascript:alert(1)"},
        {"text": "fine", "url": 'https://learn.microsoft.com/x"onmouseover="alert(1)'},
    ]
    frame.loc[0, "category_label"] = HOSTILE[1]
    frame.at[0, "activation_types"] = ["MAK"]
    return frame


def test_hostile_catalogue_text_is_escaped():
    frame = _hostile_catalogue()
    widget = lookup_widget(catalogue=frame)
    widget.query.value = frame.loc[0, "code"]
    html = widget.detail.value
    assert_inert(html)
    assert text_of(html, "akb-message") == "Message " + HOSTILE[0]
    assert text_of(html, "akb-cause") == "Cause " + " ".join(" ".join(HOSTILE).split())
    assert HOSTILE[1] in text_of(html, "akb-meta")
    hrefs = [a.get("href") for a in fragment(html).iter("a")]
    assert hrefs == [
        "https://example.com/a?b=1&c=%222%22",
        'https://learn.microsoft.com/x"onmouseover="alert(1)',
    ]
    assert HOSTILE[2] in text_of(html, "akb-links")
    assert "<div onclick=alert(1)>block</div>" in text_of(html, "akb-resolution")
    assert widget.results.options[0][0].startswith(frame.loc[0, "code"])  # labels are plain text


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"])
        | st.sampled_from("<>&\"'`=/\n*_[]()!#"),
        max_size=80,
    )
)
def test_any_markdown_renders_inert(text):
    assert_inert(markdown_html(text))


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://learn.microsoft.com/a", "https://learn.microsoft.com/a"),
        (
            "/windows-server/get-started/kms",
            "https://learn.microsoft.com/windows-server/get-started/kms",
        ),
        ("HTTP://example.com", "HTTP://example.com"),
        ("javascript:alert(1)", None),
        (" JaVaScRiPt:alert(1)", None),
        ("java\nscript:alert(1)", None),
        ("data:text/html,x", None),
        ("//evil.example/x", None),
        ("#anchor", None),
        ("https://", None),
        (None, None),
    ],
)
def test_safe_href(url, expected):
    assert safe_href(url) == expected


def test_bad_catalogue_and_events_are_refused():
    with pytest.raises(SchemaError, match="lacks column"):
        lookup_widget(catalogue=pd.DataFrame({"code": ["0xC004F074"]}))
    with pytest.raises(SchemaError, match="mapping"):
        lookup_widget(catalogue=["not", "a", "frame"])
    with pytest.raises(UnsupportedLanguageError):
        lookup_widget(catalogue={"de": CATALOGUE["en"]})
    with pytest.raises(AnalysisError, match="events must be"):
        lookup_widget(events="events.parquet")


def test_missing_ipywidgets_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    with pytest.raises(MissingDependencyError, match="ipywidgets") as info:
        lookup_widget()
    assert info.value.package == "ipywidgets"
    assert isinstance(info.value, ImportError)


# -- telemetry --------------------------------------------------------------------------------


def _failures(records: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Canonical events: one 8198 activation failure per (time, host, code)."""
    return coerce_events(
        pd.DataFrame(
            {
                "event_time": [t for t, _, _ in records],
                "host": [h for _, h, _ in records],
                "event_id": 8198,
                "event_kind": "activation_failure",
                "role": "client",
                "result_code": [int(c, 16) for _, _, c in records],
            }
        )
    )


def test_events_give_frequency_devices_and_hosts():
    events = _failures(
        [
            ("2026-01-05T08:00Z", "PC-1", "0xC004F074"),
            ("2026-01-05T11:00Z", "PC-1", "0xC004F074"),  # a retry two hours later: 2 attempts
            ("2026-01-07T09:00Z", "PC-2.contoso.com", "0xC004F074"),
            ("2026-01-08T09:00Z", "PC-3", "0x8007232B"),
            ("2026-01-09T09:00Z", HOSTILE[0], "0xC004F074"),
        ]
    )
    widget = lookup_widget(events=events)
    widget.query.value = "0xC004F074"
    html = widget.activity.value
    assert_inert(html)
    assert text_of(html, "akb-devices") == "Devices affected: 3 of 4"
    table = fragment(html).find_class("akb-hosts")[0].find(".//tbody")
    hosts = [[td.text_content() for td in tr.iter("td")] for tr in table.iter("tr")]
    assert hosts == [["pc-1", "2"], [HOSTILE[0], "1"], ["pc-2", "1"]]
    bars = [r.find("title").text for r in fragment(html).iter("rect")]
    assert bars == [
        "2026-01-05: 2",
        "2026-01-06: 0",
        "2026-01-07: 1",
        "2026-01-08: 0",
        "2026-01-09: 1",
    ]
    assert "4 failed attempts" in text_of(html, "akb-activity-summary")
    widget.language.value = "fr"
    assert text_of(widget.activity.value, "akb-devices") == "Appareils touchés : 3 sur 4"
    widget.query.value = "0xC004F038"  # documented, never seen in these events
    assert "No failed" not in widget.activity.value
    assert "Aucune tentative" in widget.activity.value


def test_uncatalogued_code_in_events_shows_its_activity():
    events = _failures([("2026-01-05T08:00Z", "PC-1", "0x80070002")])
    widget = lookup_widget(events=events)
    widget.query.value = "0x80070002"
    assert widget.matches.empty
    assert text_of(widget.activity.value, "akb-devices") == "Devices affected: 1 of 1"


def _three_days(small_fleet) -> pd.DataFrame:
    """The first three days of the shared fleet (a copy)."""
    events = small_fleet.events
    return events[events["event_time"] < events["event_time"].min() + pd.Timedelta("3D")].copy()


def test_attempt_table_and_frame_give_the_same_activity(small_fleet):
    events = _three_days(small_fleet)
    from_frame = lookup_widget(events=events)
    from_table = lookup_widget(events=activation_attempts(events))
    for widget in (from_frame, from_table):
        widget.query.value = "0xC004F074"
    assert from_frame.activity.value == from_table.activity.value
    assert code_activity(events).freq == "h"  # a three-day span is counted by the hour


def test_hostile_host_name_from_simulated_fleet_is_text(small_fleet):
    events = _three_days(small_fleet)
    errors = activation_attempts(events).errors
    device = errors["device"].value_counts().index[0]
    code = errors.loc[errors["device"] == device, "code"].iloc[0]
    for column in ("host", "client_name"):
        events.loc[events[column].str.lower().eq(device).fillna(False), column] = HOSTILE[0]
    widget = lookup_widget(events=events)
    widget.query.value = code
    assert_inert(widget.activity.value)
    assert HOSTILE[0] in text_of(widget.activity.value, "akb-hosts")


# -- the notebook -----------------------------------------------------------------------------

NOTEBOOK = ROOT / "notebooks" / "lookup.ipynb"


def test_notebook_is_committed_clean_with_kernelspec_and_parameters():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code)
    tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    names = {p["name"]: p["default"] for p in papermill.inspect_notebook(str(NOTEBOOK)).values()}
    assert names == {"lang": '"en"', "events": "None"}


def _widget_outputs(nb) -> list[dict]:
    return [
        output
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_runs_with_default_parameters(tmp_path):
    out = papermill.execute_notebook(
        str(NOTEBOOK), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False
    )
    assert len(_widget_outputs(out)) == 1


@pytest.mark.notebook
@pytest.mark.slow
def test_notebook_runs_with_events_in_french(tmp_path, small_fleet):
    events = _three_days(small_fleet)
    path = write_events(events, tmp_path / "events.parquet")
    out = papermill.execute_notebook(
        str(NOTEBOOK),
        str(tmp_path / "out.ipynb"),
        parameters={"events": str(path), "lang": "fr"},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(tmp_path),
    )
    assert len(_widget_outputs(out)) == 1
    assert out.metadata.papermill.parameters == {"events": str(path), "lang": "fr"}


def test_widget_takes_an_analysis_and_its_language(small_analysis):
    import dataclasses

    french = dataclasses.replace(small_analysis, lang="fr")
    from_analysis = lookup_widget(events=french)
    from_table = lookup_widget(events=small_analysis.table, lang="fr")
    for widget in (from_analysis, from_table):
        widget.query.value = "0xC004F074"
    assert from_analysis.activity.value == from_table.activity.value
    assert from_analysis.lang == from_table.lang == "fr"
    with pytest.warns(DeprecationWarning, match="passing events, lang by position"):
        lookup_widget(None, small_analysis.table, "fr")


# --- pasted event text, words of either language, many hosts ------------------------------------

PASTED = [
    ("0xC004F074, 0x00000000, kms01.contoso.com:1688, 36f27b39-2fd5-440b-be67-a09996d27a38, "
     "2010/09/29 17:52, 0, 2, 41760, 68531fb9-5511-4989-97be-d11a0f55633f, 5", "0xC004F074"),
    ("0xC004F06C, 0x4000008, 1, 0, 10, 120, 10080, 2012/12/04 07:06", "0xC004F06C"),
    ("0xC004F06C,5,pc01.contoso.com,36f27b39-2fd5-440b-be67-a09996d27a38,2010/9/29 21:46,0,2,"
     "41520,68531fb9-5511-4989-97be-d11a0f55633f", "0xC004F06C"),
    ("License Activation (slui.exe) failed with the following error code:\nhr=0x8007232B\n"
     "Command-line arguments:\nRuleId=31e71c49;Action=AutoActivate;Trigger=UserLogon",
     "0x8007232B"),
    ("The rules engine reported a failed VL activation attempt.\nReason:0xC004F038\n"
     "AppId = 55c92734, SkuId = 68531fb9-5511-4989-97be-d11a0f55633f", "0xC004F038"),
    ("since Monday every laptop in Lyon says error C004F074 when I run slmgr /ato", "0xC004F074"),
    ("Le poste affiche le code d'erreur : 0x8007232B depuis ce matin", "0x8007232B"),
]


@pytest.mark.parametrize(("text", "code"), PASTED)
def test_pasted_event_text_finds_its_code(text, code):
    box = lookup_widget()
    box.query.value = text
    assert box.shown_code == code
    assert "valid" not in box.status.value


def test_success_event_text_names_no_code():
    from activation_kb.views.lookup_query import code_in_text

    assert code_in_text("0x00000000, 0x00000000, 1, 0, 10, 120, 10080, 2012/12/04 07:06") is None
    assert code_in_text("GUID 36f27b39-2fd5-440b-be67-a09996d27a38 only") is None


@pytest.mark.parametrize(("words", "lang"), [("accès refusé", "en"), ("access denied", "fr"),
                                             ("horloge", "en"), ("clock", "fr")])
def test_words_match_in_both_languages(words, lang):
    box = lookup_widget(lang=lang)
    box.query.value = words
    assert len(box.matches) >= 1
    assert box.shown_code in {"0x80070005", "0xC004F06C"}
    assert box.lang == lang  # shown in the language chosen


def test_one_entry_is_singular_in_french():
    box = lookup_widget(lang="fr")
    box.query.value = "0xC004F074"
    assert "1 entrée sur" in box.status.value and "entrées" not in box.status.value


def test_many_hosts_are_a_top_ten_table_with_all_on_demand():
    from activation_kb.views.lookup_render import hosts_html

    hosts = pd.Series({f"pc-{i:02d}": 40 - i for i in range(40)})
    tree = fragment(hosts_html(hosts, "fr"))
    top, everything = tree.findall(".//table")
    assert len(top.findall(".//tbody/tr")) == 10
    assert len(everything.findall(".//tbody/tr")) == 40
    assert "10 hôtes sur 40" in tree.text_content()
    assert tree.find(".//details/summary").text_content() == "Voir les 40 hôtes"
    assert "overflow:auto" in tree.find(".//details/div").get("style")
