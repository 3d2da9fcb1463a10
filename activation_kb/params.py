"""Parameter checks shared by the API, the report runner and the CLI.

Every check takes the value and the name the caller knows the parameter by (``"since"`` in
Python, ``"--since"`` on the command line), returns the value in the form the code works with,
and raises the :class:`~activation_kb.errors.ParameterError` subclass of its kind of mistake,
with a message naming the parameter, the value received and what is expected. Nothing here
reads data: a value that cannot work is refused before a file is read or a kernel starts.

Bounds (the reasons are in the constants' comments): dates between :data:`MIN_DATE` and
:data:`MAX_DATE`, buckets of at least one minute (:data:`MIN_STEP`) and at most
:data:`MAX_BUCKETS` of them per series, durations up to :data:`MAX_SPAN`.

:class:`SpikeParams` groups the parameters of spike detection and :class:`ReportParams` those of
a report run, each checked once when it is built.
"""

from __future__ import annotations

import dataclasses
import glob
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import (
    ActivationKBError,
    ChoiceError,
    DateError,
    DurationError,
    FrequencyError,
    NumberError,
    ParameterError,
    SensitivityError,
    TimeZoneError,
    UnsupportedLanguageError,
)

__all__ = [
    "CALENDAR_FREQS",
    "DIRECTIONS",
    "ENGINES",
    "LANGUAGES",
    "MAX_BUCKETS",
    "MAX_DATE",
    "MAX_SPAN",
    "MIN_DATE",
    "MIN_STEP",
    "ReportParams",
    "SpikeParams",
    "check_buckets",
    "check_choice",
    "check_date",
    "check_duration",
    "check_flag",
    "check_freq",
    "check_lang",
    "check_number",
    "check_paths",
    "check_period",
    "check_local_cluster",
    "check_scheduler",
    "check_sensitivity",
    "check_store",
    "check_timezone",
    "check_top_n",
    "parse_bytes",
    "freq_step",
    "relative_span",
]

#: Languages of the shipped catalogue, the figures and the report.
LANGUAGES: tuple[str, ...] = ("en", "fr")
#: Directions of spike detection: rises, falls, or both.
DIRECTIONS: tuple[str, ...] = ("up", "down", "both")
#: Engines of the fleet analysis: pandas in this process, or Dask over an event store.
ENGINES: tuple[str, ...] = ("pandas", "dask")
#: Calendar bucket sizes: weeks starting on Monday, calendar months.
CALENDAR_FREQS: tuple[str, ...] = ("W", "MS")
#: The earliest and latest dates accepted: pandas stores times in nanoseconds from 1677-09-21 to
#: 2262-04-11; a year of margin leaves room for the baseline history read before a period.
MIN_DATE = pd.Timestamp("1678-01-01", tz="UTC")
MAX_DATE = pd.Timestamp("2261-12-31", tz="UTC")
#: The smallest bucket: Windows logs activation events to the second, and a minute already
#: holds at most a few records of one machine.
MIN_STEP = pd.Timedelta(minutes=1)
#: Most buckets one series may have (about 11 years of hours, 70 days of minutes): beyond, the
#: counts take minutes and say nothing a larger bucket would not.
MAX_BUCKETS = 100_000
#: The longest duration (a relative ``since``, a baseline ``history``, a simulated span).
MAX_SPAN = pd.Timedelta(days=3660)

_CALENDAR_STEP = {"W": pd.Timedelta(days=7), "MS": pd.Timedelta(days=31)}
_SPAN = re.compile(r"^\d+(\.\d+)?\s*(d|day|days|h|hour|hours|min|w|W|D|H)$")


def _fail(kind: type[ParameterError], name: str, value: object, expected: str) -> ParameterError:
    """Build the error of ``kind``: ``name=value`` (``--name value``) and what is expected."""
    given = f"{name} {value!r}" if name.startswith("-") else f"{name}={value!r}"
    return kind(f"{given}: {expected}", parameter=name, value=value)


def check_timezone(tz: object, name: str = "tz") -> str | None:
    """Return ``tz`` when it is None or a time zone name pandas knows.

    Parameters
    ----------
    tz : str or None
        An IANA name such as "Europe/Paris", or None (UTC).
    name : str
        The parameter's name in the message.

    Returns
    -------
    str or None
        ``tz``.

    Raises
    ------
    TimeZoneError
        For anything else.
    """
    if tz is None:
        return None
    try:
        if not isinstance(tz, str) or not tz.strip():
            raise ValueError(tz)
        pd.Timestamp("2026-01-01", tz=tz)
    except Exception:  # noqa: BLE001 - any failure means an unknown zone
        raise _fail(TimeZoneError, name, tz, "not a time zone; expected an IANA name such as "
                    "Europe/Paris, America/New_York or UTC") from None
    return tz


def check_date(value: object, name: str, *, tz: str | None = None) -> pd.Timestamp | None:
    """Return ``value`` as a UTC timestamp (naive times are in ``tz``); None for None or "".

    Parameters
    ----------
    value : str, datetime or pandas.Timestamp
        A date or time such as "2026-03-01" or "2026-03-01T08:00+01:00".
    name : str
        The parameter's name in the message.
    tz : str, optional
        Time zone of a naive ``value``; default UTC.

    Returns
    -------
    pandas.Timestamp or None
        tz-aware UTC, in nanoseconds.

    Raises
    ------
    DateError
        When ``value`` is not a date (NaT included) or lies outside :data:`MIN_DATE` ..
        :data:`MAX_DATE`.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    expected = "not a date or time; expected e.g. 2026-03-01 or 2026-03-01T08:00"
    if isinstance(value, bool) or isinstance(value, (int, float)):
        raise _fail(DateError, name, value, expected)
    try:
        stamp = pd.Timestamp(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError, OverflowError):
        raise _fail(DateError, name, value, expected) from None
    if stamp is pd.NaT:
        raise _fail(DateError, name, value, expected)
    try:
        if stamp.tzinfo is None:
            stamp = stamp.tz_localize(check_timezone(tz) or "UTC", ambiguous=True,
                                      nonexistent="shift_forward")
        stamp = stamp.tz_convert("UTC").as_unit("ns")
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime):
        stamp = None
    if stamp is None or not MIN_DATE <= stamp <= MAX_DATE:
        raise _fail(DateError, name, value, f"outside the dates that can be analysed; expected "
                    f"a date from {MIN_DATE:%Y-%m-%d} to {MAX_DATE:%Y-%m-%d}")
    return stamp


def check_duration(value: object, name: str, *, maximum: pd.Timedelta | None = MAX_SPAN,
                   ) -> pd.Timedelta:
    """Return a positive duration such as "28D", "36h" or "15min" as a Timedelta.

    Parameters
    ----------
    value : str or pandas.Timedelta
        The duration.
    name : str
        The parameter's name in the message.
    maximum : pandas.Timedelta, optional
        The longest duration accepted (default :data:`MAX_SPAN`); None for no bound.

    Returns
    -------
    pandas.Timedelta

    Raises
    ------
    DurationError
        When ``value`` is not a duration, is not positive or is longer than ``maximum``.
    """
    try:
        if isinstance(value, (bool, int, float)):
            raise ValueError(value)
        span = pd.Timedelta(value.strip() if isinstance(value, str) else value)
    except (ValueError, TypeError, OverflowError):
        raise _fail(DurationError, name, value,
                    "not a duration; expected e.g. 28D, 36h or 15min") from None
    if span is pd.NaT or span <= pd.Timedelta(0):
        raise _fail(DurationError, name, value, "expected a positive duration such as 7D")
    if maximum is not None and span > maximum:
        raise _fail(DurationError, name, value,
                    f"longer than the {maximum.days} days that can be analysed")
    return span


def relative_span(value: object, name: str = "since") -> pd.Timedelta | None:
    """Return the duration a ``since`` such as "7D", "36h" or "2W" names, else None.

    Parameters
    ----------
    value : object
        A ``since`` value: a duration (that long before the end of the period) or a date.
    name : str
        The parameter's name in the message.

    Returns
    -------
    pandas.Timedelta or None
        None when ``value`` is not written as a duration (a date, None).

    Raises
    ------
    DurationError
        For a duration that is not positive or longer than :data:`MAX_SPAN`.
    """
    if not isinstance(value, str) or not _SPAN.match(value.strip()):
        return None
    return check_duration(value, name)


def check_period(since: object, until: object, *, tz: str | None = None,
                 names: tuple[str, str] = ("since", "until"),
                 ) -> tuple[pd.Timestamp | pd.Timedelta | None, pd.Timestamp | None]:
    """Check a period ``[since, until)``: ``since`` a date or a duration, ``until`` a date.

    Parameters
    ----------
    since : str or timestamp, optional
        Start, or a duration such as "7D" (that long before ``until`` or the last event).
    until : str or timestamp, optional
        End (excluded).
    tz : str, optional
        Time zone of naive times.
    names : tuple of str
        The two parameters' names in messages.

    Returns
    -------
    tuple
        ``(since, until)``: ``since`` a UTC Timestamp, a Timedelta (relative) or None;
        ``until`` a UTC Timestamp or None.

    Raises
    ------
    DateError
        For a bad date, or ``until`` not after ``since``.
    DurationError
        For a bad relative ``since``.
    """
    span = relative_span(since, names[0])
    start = span if span is not None else check_date(since, names[0], tz=tz)
    end = check_date(until, names[1], tz=tz)
    if isinstance(start, pd.Timestamp) and end is not None and end <= start:
        raise DateError(f"{names[1]}={until!r} must be after {names[0]}={since!r}",
                        parameter=names[1], value=until)
    if span is not None and end is not None and end < MIN_DATE + span:
        raise _fail(DurationError, names[0], since, f"reaches back before {MIN_DATE:%Y-%m-%d}")
    return start, end


def freq_step(freq: str) -> pd.Timedelta:
    """Return the length of one bucket of a checked ``freq``.

    Parameters
    ----------
    freq : str
        A bucket size accepted by :func:`check_freq`.

    Returns
    -------
    pandas.Timedelta
        Its length; a week for "W", 31 days (the longest month) for "MS".
    """
    if freq in _CALENDAR_STEP:
        return _CALENDAR_STEP[freq]
    return pd.Timedelta(pd.tseries.frequencies.to_offset(freq))


def check_freq(freq: object, name: str = "freq") -> str:
    """Return ``freq`` when it is a bucket size of at least one minute.

    Parameters
    ----------
    freq : str
        A fixed frequency ("15min", "h", "6h", "D") or "W" (weeks from Monday) or "MS"
        (calendar months).
    name : str
        The parameter's name in the message.

    Returns
    -------
    str
        ``freq``.

    Raises
    ------
    FrequencyError
        For something else, or a bucket under :data:`MIN_STEP`.
    """
    if isinstance(freq, str) and freq in CALENDAR_FREQS:
        return freq
    try:
        if not isinstance(freq, str):
            raise TypeError(freq)
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        raise _fail(FrequencyError, name, freq, "not a bucket size; expected a fixed frequency "
                    "such as '15min', 'h', '6h', 'D', or 'W' (weeks from Monday) or 'MS' "
                    "(calendar months)") from None
    if step < MIN_STEP:
        raise _fail(FrequencyError, name, freq, "buckets must last at least one minute "
                    "(e.g. '1min', '15min', 'h')")
    return freq


def check_buckets(first: pd.Timestamp, last: pd.Timestamp, freq: str, name: str = "freq") -> int:
    """Return the number of ``freq`` buckets from ``first`` to ``last``; refuse too many.

    Parameters
    ----------
    first, last : pandas.Timestamp
        The first and last time to count.
    freq : str
        A checked bucket size.
    name : str
        The parameter's name in the message.

    Returns
    -------
    int
        About how many buckets the period holds.

    Raises
    ------
    FrequencyError
        When that is more than :data:`MAX_BUCKETS`.
    """
    buckets = int((last - first) / freq_step(freq)) + 1
    if buckets > MAX_BUCKETS:
        raise FrequencyError(
            f"{name}={freq!r} cuts the period {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} "
            f"into {buckets:,} buckets, more than {MAX_BUCKETS:,}; choose a larger bucket or a "
            "shorter period", parameter=name, value=freq)
    return buckets


def check_lang(lang: object, name: str = "lang") -> str:
    """Return ``lang`` when it is a shipped language (:data:`LANGUAGES`).

    Parameters
    ----------
    lang : str
        "en" or "fr".
    name : str
        The parameter's name in the message.

    Returns
    -------
    str
        ``lang``.

    Raises
    ------
    UnsupportedLanguageError
        For any other value.
    """
    if not isinstance(lang, str) or lang not in LANGUAGES:
        raise _fail(UnsupportedLanguageError, name, lang,
                    f"unsupported catalogue language; expected one of: {', '.join(LANGUAGES)}")
    return lang


def check_sensitivity(value: object, name: str = "sensitivity") -> float:
    """Return a spike-detection sensitivity: a number in (0, 1].

    Parameters
    ----------
    value : float
        0.5 is the default; higher finds smaller rises.
    name : str
        The parameter's name in the message.

    Returns
    -------
    float

    Raises
    ------
    SensitivityError
        For anything else (a bool, NaN, 0, a number above 1).
    """
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not 0 < float(value) <= 1):
        raise _fail(SensitivityError, name, value, "expected a number in (0, 1] (0.5 is the "
                    "default; higher finds smaller rises)")
    return float(value)


def check_number(value: object, name: str, *, minimum: float | None = None,
                 maximum: float | None = None, integer: bool = False,
                 above_minimum: bool = False) -> float | int:
    """Return a finite number within ``[minimum, maximum]`` (a whole one if ``integer``).

    Parameters
    ----------
    value : int or float
        The number.
    name : str
        The parameter's name in the message.
    minimum, maximum : float, optional
        Bounds, included.
    integer : bool
        Require a whole number (returned as int).
    above_minimum : bool
        Exclude ``minimum`` itself (a number of days must be more than 0).

    Returns
    -------
    int or float

    Raises
    ------
    NumberError
        For a bool, a non-number, NaN, infinity, a fraction where a whole number is needed, or a
        number out of bounds.
    """
    low = "" if minimum is None else f" {'>' if above_minimum else '>='} {minimum:g}"
    high = "" if maximum is None else f" <= {maximum:g}"
    what = "a whole number" if integer else "a finite number"
    expected = f"expected {what}{low}{' and' if low and high else ''}{high}"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(NumberError, name, value, expected)
    if integer and value != int(value):
        raise _fail(NumberError, name, value, expected)
    below = minimum is not None and (value <= minimum if above_minimum else value < minimum)
    if below or (maximum is not None and value > maximum):
        raise _fail(NumberError, name, value, expected)
    return int(value) if integer else float(value)


def check_top_n(value: object, name: str = "top_n") -> int:
    """Return a count of items to show: a whole number >= 1.

    Parameters
    ----------
    value : int
        The count.
    name : str
        The parameter's name in the message.

    Returns
    -------
    int

    Raises
    ------
    NumberError
        For anything else.
    """
    return int(check_number(value, name, minimum=1, integer=True))


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0", "")


def check_flag(value: object, name: str) -> bool:
    """Return a yes/no parameter as a bool; schedulers may give it as text ("true", "no").

    Parameters
    ----------
    value : bool, 0, 1 or str
        ``True``/``False``, ``1``/``0``, or text: ``true``, ``yes``, ``on``, ``1`` (any case)
        and ``false``, ``no``, ``off``, ``0`` or empty text.
    name : str
        The parameter's name in the message.

    Returns
    -------
    bool

    Raises
    ------
    ChoiceError
        For anything else.

    Examples
    --------
    >>> check_flag("True", "strict"), check_flag(0, "strict"), check_flag("no", "strict")
    (True, False, False)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
        return value.strip().lower() in _TRUE
    raise _fail(ChoiceError, name, value, "expected true or false")


def check_choice(value: object, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` when it is one of ``choices``.

    Parameters
    ----------
    value : str
        The value.
    name : str
        The parameter's name in the message.
    choices : sequence of str
        What is accepted.

    Returns
    -------
    str

    Raises
    ------
    ChoiceError
        For any other value.
    """
    if not isinstance(value, str) or value not in choices:
        raise _fail(ChoiceError, name, value, f"expected one of: {', '.join(choices)}")
    return value


def check_paths(paths: object, name: str = "events") -> tuple[str, ...]:
    """Check that every path, directory or glob names at least one file.

    Parameters
    ----------
    paths : str, path or iterable of them
        Files, directories (searched recursively, as the loader does) or glob patterns.
    name : str
        The parameter's name in the message.

    Returns
    -------
    tuple of str
        Absolute paths and glob patterns (a relative pattern is joined to the working folder).

    Raises
    ------
    ParameterError
        Naming the path that holds no file.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(_iterable(paths, name))
    if not items:
        raise ParameterError(f"{name}: no input given; pass a file, directory or glob",
                             parameter=name, value=paths)
    out = []
    for item in items:
        text = os.fspath(item)
        if glob.has_magic(text):
            if not any(Path(p).is_file() for p in glob.iglob(text, recursive=True)):
                raise ParameterError(f"{name}: the pattern {text!r} matches no file",
                                     parameter=name, value=text)
            # absolute, as paths are: a report's kernel runs in another folder
            out.append(text if os.path.isabs(text) else os.path.join(os.getcwd(), text))
            continue
        path = Path(text)
        if path.is_dir():
            if not any(p.is_file() for p in path.rglob("*")):
                raise ParameterError(f"{name}: the directory {text} holds no file",
                                     parameter=name, value=text)
        elif not path.is_file():
            raise ParameterError(f"{name}: {text}: no such file or directory",
                                 parameter=name, value=text)
        out.append(str(path.resolve()))
    return tuple(out)


def check_catalogue_file(value: object, name: str = "catalogue") -> str | None:
    """Check that a downloaded copy of the article gives error codes; return its absolute path.

    Parameters
    ----------
    value : str or path, optional
        The markdown file; None means the shipped catalogue.
    name : str
        The parameter's name in the message.

    Returns
    -------
    str or None

    Raises
    ------
    ParameterError
        When the file cannot be read or no error code can be read from it.
    """
    if value is None:
        return None
    from .catalogue.article import read_catalogue_file

    path = Path(os.fspath(value)).expanduser()
    try:
        result = read_catalogue_file(path)
    except (OSError, ActivationKBError) as exc:
        raise ParameterError(f"{name}={str(value)!r}: {exc}", parameter=name,
                             value=value) from None
    if result.frame.empty:
        raise ParameterError(
            f"{name}={str(value)!r}: no error code could be read from it; run "
            f"`activation-kb catalogue parse {path}` to see why", parameter=name, value=value)
    return str(path.resolve())


def check_store(value: object, name: str = "store") -> str | None:
    """Check that ``value`` is an event store this version reads; return its absolute path.

    Parameters
    ----------
    value : str or path, optional
        The store directory (:func:`~activation_kb.ingest`); None: no store.
    name : str
        The parameter's name in the message.

    Returns
    -------
    str or None

    Raises
    ------
    ParameterError
        When the directory is not an event store, or one written by a newer activation_kb.
    """
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise _fail(ParameterError, name, value, "expected the directory of an event store")
    from .store._layout import open_store

    try:
        return str(open_store(value).resolve())
    except ActivationKBError as exc:
        raise ParameterError(f"{name}={os.fspath(value)!r}: {exc}", parameter=name,
                             value=value) from None


def check_scheduler(value: object, engine: str, name: str = "scheduler") -> str | None:
    """Check a Dask scheduler address ("tcp://host:8786"); it needs ``engine="dask"``.

    Parameters
    ----------
    value : str, optional
        The address; None or "": a local cluster.
    engine : str
        The engine checked already (:data:`ENGINES`).
    name : str
        The parameter's name in the message.

    Returns
    -------
    str or None

    Raises
    ------
    ParameterError
        When the address is not text of the form ``protocol://host:port`` (or ``host:port``),
        or when the engine is not Dask.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not re.fullmatch(r"([a-z+]+://)?[^\s/:]+(:\d+)?/?",
                                                       value.strip()):
        raise _fail(ParameterError, name, value,
                    "expected a Dask scheduler address such as 'tcp://host:8786'")
    if engine != "dask":
        raise _fail(ParameterError, name, value,
                    "a scheduler address needs engine='dask' (CLI: --engine dask)")
    return value.strip()


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text: str | int | float) -> int:
    """Return the bytes of a size such as "2GB", "512MiB" or 1e9.

    Parameters
    ----------
    text : str, int or float
        A number and a unit (B, kB, MB, GB, TB: powers of 1000; KiB, MiB, GiB, TiB: of 1024;
        none: bytes), or a number of bytes.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For a text that is not a size.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return int(text)
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size such as 2GB or 512MiB")
    return int(float(match.group(1)) * _UNITS[unit])


def check_local_cluster(workers: object, memory_limit: object, engine: str,
                        scheduler: object) -> tuple[int | None, int | None]:
    """Check the local Dask cluster's size: worker processes and each one's memory limit.

    Parameters
    ----------
    workers : int, optional
        Worker processes (None: one per core).
    memory_limit : str or int, optional
        Memory limit of each worker: "2GB", "512MiB" or bytes (None: Dask's share of the
        machine's memory).
    engine : str
        The engine checked already (:data:`ENGINES`).
    scheduler : object
        The scheduler given, if any: its workers are sized where they are started.

    Returns
    -------
    (int or None, int or None)
        The workers and the limit in bytes.

    Raises
    ------
    ParameterError
        For a count that is not a whole number >= 1, a size that is not a size, or either given
        without engine="dask" or with a scheduler.
    """
    given = [(name, value) for name, value in (("workers", workers),
                                               ("memory_limit", memory_limit))
             if value is not None and value != ""]
    for name, value in given:
        if engine != "dask":
            raise _fail(ParameterError, name, value,
                        "the local Dask cluster needs engine='dask' (CLI: --engine dask)")
        if scheduler is not None and scheduler != "":
            raise _fail(ParameterError, name, value,
                        "sizes the local cluster the Dask engine starts, not the workers of a "
                        "scheduler (start those with dask worker --nworkers N --memory-limit "
                        "SIZE)")
    count = None if workers is None or workers == "" else int(
        check_number(workers, "workers", minimum=1, integer=True))
    limit = None
    if memory_limit is not None and memory_limit != "":
        try:
            limit = parse_bytes(memory_limit)
        except ValueError:
            limit = 0
        if limit <= 0:
            raise _fail(ParameterError, "memory_limit", memory_limit,
                        "expected a memory size per worker such as '2GB' or '512MiB'")
    return count, limit


def _iso(value: object) -> str:
    """Return a checked date as ISO 8601 text, in the zone (or naivety) it was given in."""
    return pd.Timestamp(value.strip() if isinstance(value, str) else value).isoformat()


def _iterable(value: object, name: str) -> Iterable[Any]:
    if isinstance(value, Iterable):
        return value
    raise ParameterError(f"{name}={value!r}: expected a path, a glob or a list of them",
                         parameter=name, value=value)


@dataclass(frozen=True)
class SpikeParams:
    """Parameters of spike detection, checked when built.

    Attributes
    ----------
    sensitivity : float
        In (0, 1]; higher finds smaller rises (:func:`check_sensitivity`).
    history : str
        How far back the baseline looks ("28D"; :func:`check_duration`).
    direction : {"up", "down", "both"}
        Rises, falls or both.
    """

    sensitivity: float = 0.5
    history: str = "28D"
    direction: str = "up"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sensitivity", check_sensitivity(self.sensitivity))
        check_duration(self.history, "history")
        check_choice(self.direction, "direction", DIRECTIONS)

    @property
    def lookback(self) -> pd.Timedelta:
        """The baseline history as a Timedelta."""
        return check_duration(self.history, "history")

    def detect_kwargs(self) -> dict[str, Any]:
        """Return the keyword arguments of :func:`~activation_kb.detect_spikes`.

        Returns
        -------
        dict
            ``sensitivity``, ``history`` and ``direction``.
        """
        return {"sensitivity": self.sensitivity, "history": self.history,
                "direction": self.direction}


@dataclass(frozen=True)
class ReportParams:
    """The parameters of a report run, checked when built, as the notebook receives them.

    Attributes
    ----------
    events : tuple of str, optional
        Event exports (files, directories, globs); None: the bundled sample.
    since, until : str, optional
        Period of the report; ``since`` may be a duration ("7D"); naive times are in ``tz``.
    freq : str
        Bucket size.
    lang : {"en", "fr"}
        Language of the report.
    sensitivity : float
        Spike detection sensitivity, in (0, 1].
    history : str
        How far back the spike baseline looks.
    top_n : int
        Codes in the top-codes chart and incidents shown in detail.
    title : str, optional
        Report title.
    tz : str, optional
        Time zone of CSV local times and of the displayed times.
    catalogue : str, optional
        A downloaded copy of the error-code article (markdown) whose text explains the
        incidents instead of the shipped one; checked to give codes, kept as an absolute path.
    store : str, optional
        An event store (:func:`~activation_kb.ingest`) to report on instead of ``events``;
        kept as an absolute path.
    engine : {"pandas", "dask"}
        ``"dask"`` runs the heavy part of the analysis on a Dask cluster; it needs ``store``.
    scheduler : str, optional
        Address of the Dask scheduler ("tcp://host:8786"); None: a local cluster. Needs
        ``engine="dask"``.
    workers : int, optional
        Worker processes of the local cluster (None: one per core). Needs ``engine="dask"``
        and no scheduler.
    memory_limit : int, optional
        Memory limit of each worker of the local cluster, given as "2GB", "512MiB" or bytes
        and kept in bytes (None: Dask's share of the machine's memory). Needs
        ``engine="dask"`` and no scheduler.
    strict : bool
        Files found beside the exports that are not exports (``README.md``, ``notes.txt``,
        ``desktop.ini``, hidden files ...) are normally skipped and listed with the reason in
        the report, ``manifest.json`` and ``summary.txt``; ``True`` makes them an error, raised
        by :func:`~activation_kb.run_report` before the kernel starts.
    """

    events: tuple[str, ...] | None = None
    since: str | None = None
    until: str | None = None
    freq: str = "h"
    lang: str = "en"
    sensitivity: float = 0.5
    history: str = "28D"
    top_n: int = 10
    title: str | None = None
    tz: str | None = None
    catalogue: str | None = None
    store: str | None = None
    engine: str = "pandas"
    scheduler: str | None = None
    workers: int | None = None
    memory_limit: int | str | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        tz = check_timezone(self.tz)
        engine = check_choice(self.engine, "engine", ENGINES)
        if self.store is not None and self.events is not None:
            raise ParameterError("give event exports (events) or an event store (store), not "
                                 "both", parameter="store", value=self.store)
        if engine == "dask" and self.store is None:
            raise _fail(ParameterError, "engine", self.engine,
                        "the Dask engine analyses an event store: give store too (CLI: --store "
                        "DIR; fill it with `activation-kb events ingest`)")
        start, end = check_period(self.since, self.until, tz=tz)
        freq = check_freq(self.freq)
        spikes = SpikeParams(self.sensitivity, self.history)
        # the counts cover the period and the baseline history before it
        if isinstance(start, pd.Timestamp) and end is not None:
            check_buckets(start - spikes.lookback, end, freq)
        elif isinstance(start, pd.Timedelta):
            check_buckets(MIN_DATE, MIN_DATE + start + spikes.lookback, freq)
        values = {
            "events": None if self.events is None else check_paths(self.events),
            "since": None if start is None else (
                str(self.since).strip() if isinstance(start, pd.Timedelta) else _iso(self.since)),
            "until": None if end is None else _iso(self.until),
            "lang": check_lang(self.lang),
            "sensitivity": spikes.sensitivity,
            "history": str(self.history).strip(),
            "top_n": check_top_n(self.top_n),
            "title": self.title or None,
            "catalogue": check_catalogue_file(self.catalogue),
            "store": check_store(self.store),
            "engine": engine,
            "scheduler": check_scheduler(self.scheduler, engine),
            "strict": check_flag(self.strict, "strict"),
        }
        values["workers"], values["memory_limit"] = check_local_cluster(
            self.workers, self.memory_limit, engine, values["scheduler"])
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @property
    def spikes(self) -> SpikeParams:
        """The spike-detection part of the parameters."""
        return SpikeParams(self.sensitivity, self.history)

    def notebook_parameters(self, default_events: Sequence[str] = ()) -> dict[str, Any]:
        """Return the parameters as papermill injects them (JSON types).

        Parameters
        ----------
        default_events : sequence of str
            What ``events`` becomes when it is None (and no ``store`` is given).

        Returns
        -------
        dict
        """
        out = dataclasses.asdict(self)
        if self.store is not None:
            out["events"] = None
        else:
            out["events"] = list(self.events if self.events is not None else default_events)
        return out
