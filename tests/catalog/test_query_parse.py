"""The query parser against DIRAC's worked examples (shared/reference/DIRAC.md §1.5)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dfc.catalog._query import Field, parse, split_scope
from dfc.errors import InvalidQuery

# The types of DIRAC's examples: Run=INT, Type/Tag=VARCHAR, Energy=FLOAT.
FIELDS = {
    "Run": Field("Run", "dir", "int", 1),
    "Type": Field("Type", "dir", "string", 2),
    "Tag": Field("Tag", "file", "string", 3),
    "Energy": Field("Energy", "file", "float", 4),
    "When": Field("When", "file", "date", 5),
}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["Run>100", "Type=RAW"], {"Run": {">": 100}, "Type": "RAW"}),
        (["Run=10,11", "Run<15"], {"Run": {"in": [10, 11], "<": 15}}),
        (["Run>=5", "Run<=10"], {"Run": {">=": 5, "<=": 10}}),
        (["Type!=RAW,ESD"], {"Type": {"nin": ["RAW", "ESD"]}}),
        (["Type=RAW", "Type=ESD"], {"Type": ["ESD", "RAW"]}),
        (["Energy=1.5"], {"Energy": 1.5}),
        (["Run=Missing"], {"Run": "Missing"}),
        (["Tag=Any"], {"Tag": "Any"}),
        (["Tag='a b'"], {"Tag": "a b"}),
        (['Tag="hello', 'world"'], {"Tag": "hello world"}),
        (
            ["Size>1000", "CreationDate<2015-05-15"],
            {"Size": {">": 1000}, "CreationDate": {"<": "2015-05-15"}},
        ),
        (["SE=IHEP-STORM,CNAF-STORM"], {"SE": {"in": ["IHEP-STORM", "CNAF-STORM"]}}),
        (["Name=*.root"], {"Name": "*.root"}),
    ],
)
def test_dirac_worked_examples(argv: list[str], expected: dict[str, Any]) -> None:
    assert parse(argv, FIELDS).as_dict() == expected


def test_dirac_doc_example() -> None:
    fields = {
        "ATMetaInt": Field("ATMetaInt", "dir", "int", 1),
        "ATMetaInt1": Field("ATMetaInt1", "dir", "int", 2),
    }
    got = parse(["ATMetaInt=10,11", "ATMetaInt1<15"], fields).as_dict()
    assert got == {"ATMetaInt": {"in": [10, 11]}, "ATMetaInt1": {"<": 15}}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["Foo=1"], "Metadata field Foo not defined"),
        (["Run"], "Illegal query element Run"),
        (["=5"], "Illegal query element =5"),
        (["Run=abc"], "Run: 'abc' is not an int"),
        (["Energy=x"], "Energy: 'x' is not a float"),
        (["When<yesterday"], "When: 'yesterday' is not a date"),
        (["Size>big"], "Size: 'big' is not an int"),
        (["Run="], "Illegal query element Run= (empty value)"),
        (["Run=1,,2"], "empty value for Run"),
        (["Run>1,2"], "a list needs = or !="),
        (["Run>Any"], "Any needs = or !="),
        (['Tag="open', "never"], "unterminated quote"),
        (["Path>/x"], "Path takes ="),
        (["Path=relative"], "not an absolute path"),
    ],
)
def test_errors_name_the_culprit(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidQuery, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(argv, FIELDS)


def test_typed_values_and_groups() -> None:
    q = parse(["Run=1", "Run=2,3", "Run!=4", "Run!=5", "Run>0", "Tag=v*", "Tag=x"], FIELDS)
    run, tag = q.terms["Run"], q.terms["Tag"]
    assert (run.eq, run.ne, run.ranges) == ([1, 2, 3], [4, 5], [(">", 0)])
    assert (tag.eq, tag.eq_patterns) == (["x"], ["v*"])
    when = parse(["When>=2020-01-02T03:04:05"], FIELDS).terms["When"]
    assert when.ranges == [(">=", datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC))]


def test_dirac_fixes() -> None:
    # A value may hold operator characters; the first operator splits the term.
    assert parse(["Tag=a=b>c"], FIELDS).as_dict() == {"Tag": "a=b>c"}
    assert parse(["Run>=-3"], FIELDS).as_dict() == {"Run": {">=": -3}}
    # A quoted value is literal: no comma split.
    assert parse(["Tag='a,b'"], FIELDS).terms["Tag"].eq == ["a,b"]
    # A quoted Any is a value, not the presence test.
    term = parse(["Tag='Any'"], FIELDS).terms["Tag"]
    assert (term.eq, term.any) == (["Any"], False)


def test_aliases_and_standard_attributes() -> None:
    q = parse(["FileName=x", "User=alice", "CheckSum=1ABCD"], FIELDS)
    assert set(q.terms) == {"Name", "Owner", "Checksum"}
    assert q.terms["Checksum"].eq == ["0001abcd"]


def test_path_terms_and_empty_query() -> None:
    q = parse(["Path=/juno/prd"], FIELDS)
    assert q.paths == ["/juno/prd"]
    assert q.empty
    assert parse([], FIELDS).empty


def test_split_scope() -> None:
    assert split_scope(["/juno", "Run>1"]) == ("/juno", ["Run>1"])
    assert split_scope(["Run>1"]) == (None, ["Run>1"])
    with pytest.raises(InvalidQuery):
        split_scope(["/juno//x", "Run>1"])
