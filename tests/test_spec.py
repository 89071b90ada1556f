"""The spec is one definition: docs and templates are rendered from it and kept equal."""

from pathlib import Path

from exchange.core.settings import get_settings
from exchange.core.spec import KINDS, VALIDATION_CODES
from exchange.intake.readers import map_header
from exchange.intake.specdoc import render_markdown, template_files

ROOT = Path(__file__).resolve().parents[1]


def test_committed_spec_document_is_the_rendered_spec():
    assert (ROOT / "docs" / "submission-spec.md").read_text(encoding="utf-8") == render_markdown()


def test_committed_templates_are_the_rendered_templates():
    for name, content in template_files().items():
        assert (ROOT / "docs" / "templates" / name).read_text(encoding="utf-8") == content


def test_every_field_and_reason_code_is_documented():
    doc = render_markdown()
    for kind in KINDS.values():
        for f in kind.fields:
            assert f"`{f.name}`" in doc and f.zh in doc
    for code in VALIDATION_CODES:
        assert f"`{code}`" in doc


def test_chinese_and_english_headers_map_to_the_same_fields():
    for kind in KINDS.values():
        english = map_header([f.name for f in kind.fields], kind, get_settings().max_columns)
        chinese = map_header([f.zh for f in kind.fields], kind, get_settings().max_columns)
        assert english.positions == chinese.positions


def test_every_rule_code_is_in_the_catalogue():
    for kind in KINDS.values():
        for rule in kind.rules:
            assert rule.code in VALIDATION_CODES
