"""Acceptable use: content refused before a message is queued (DESIGN.md §1), each refusal
with the reason in words and the policy it comes from. The rules are data: the built-in
content_rules.toml beside this module, plus an operator's file (MESSAGECENTER_CONTENT_RULES_FILE)
that adds rules and switches built-in ones off by id.

Two kinds of check: on the text alone (words, link hosts), which the composer, the API, bulk
sends and templates share; and a first message to a client, which must name the business.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from messagecenter.errors import InvalidInput

BUILT_IN = Path(__file__).with_name("content_rules.toml")


class RuleSpec(BaseModel):
    """One rule as a file writes it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]{1,60}$")
    kind: Literal["words", "link_hosts", "names_business"]
    reason: str = Field(min_length=1, max_length=300)
    policy: str = Field(pattern=r"^https?://\S+$")
    enabled: bool = True  # a rule switched off here can be switched on by an operator's `on`
    countries: list[str] = []  # where the business's number is; empty: everywhere
    words: list[str] = []
    hosts: list[str] = []


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    off: list[str] = []  # ids of rules (built-in ones too) switched off
    on: list[str] = []  # ids of rules written `enabled = false` switched on
    rule: list[RuleSpec] = []


class ContentRefused(InvalidInput):
    """400 content_refused: the text breaks an acceptable-use rule (`rule` is its id)."""

    code = "content_refused"

    def __init__(self, rule: ContentRule) -> None:
        super().__init__(f"{rule.reason} See {rule.policy}", field="body")
        self.rule = rule.id


@dataclass(frozen=True)
class ContentRule:
    id: str
    kind: str
    reason: str
    policy: str
    countries: frozenset[str]
    pattern: re.Pattern[str] | None  # words and link hosts, compiled
    # Text of which the text must hold at least one piece for the pattern to match (each
    # phrase's first word, each host), so most texts are let through without the pattern.
    needles: tuple[str, ...]

    def applies_in(self, country: str) -> bool:
        return not self.countries or country.upper() in self.countries


@dataclass(frozen=True)
class ContentRules:
    rules: tuple[ContentRule, ...]

    def refusal(self, body: str, country: str) -> ContentRule | None:
        """The first rule the text alone breaks on a number in `country`, or None."""
        text = _normalise(body)
        for rule in self.rules:
            if rule.pattern is None or not rule.applies_in(country):
                continue
            if not any(needle in text for needle in rule.needles):
                continue
            if rule.pattern.search(text):
                return rule
        return None

    def check(self, body: str, country: str) -> None:
        """ContentRefused for the first rule the text breaks."""
        broken = self.refusal(body, country)
        if broken is not None:
            raise ContentRefused(broken)

    def first_message_refusal(self, body: str, business_name: str) -> ContentRule | None:
        """The rule a first message to a client breaks by not naming the business, or None."""
        for rule in self.rules:
            if rule.kind == "names_business" and _normalise(business_name) not in _normalise(body):
                return rule
        return None

    @property
    def checks_first_messages(self) -> bool:
        return any(rule.kind == "names_business" for rule in self.rules)


def _normalise(text: str) -> str:
    """NFKC (fullwidth letters read as letters), case-folded, one space for any run of space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _needles(spec: RuleSpec) -> tuple[str, ...]:
    """What a text must hold, as written, for the rule's pattern to match it: the longest
    word of each phrase (the pattern has each of its words, parted by spaces or dashes), or
    each host."""
    if spec.kind == "words":
        return tuple(
            max(re.split(r"[\s\-]+", _normalise(w)), key=len) for w in spec.words if w.strip()
        )
    return tuple(_normalise(h) for h in spec.hosts if h.strip())


def _words_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """Whole words or phrases; a phrase's words may be parted by spaces or dashes."""
    phrases = [
        r"[\s\-]+".join(re.escape(part) for part in re.split(r"[\s\-]+", _normalise(w)))
        for w in words
        if w.strip()
    ]
    return re.compile(r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)")


def _hosts_pattern(hosts: Iterable[str]) -> re.Pattern[str]:
    """A link to a host or its subdomains, with or without a scheme, at the start of a word
    (not inside another link's path or an email address), followed by a path, a port, or
    the end of the link."""
    names = "|".join(re.escape(_normalise(h)) for h in hosts if h.strip())
    return re.compile(
        r"(?<![^\s(<\"'])(?:https?://)?(?:[\w-]+\.)*(?:" + names + r")(?=[/:?#]|\s|$)"
    )


def _compile(spec: RuleSpec) -> ContentRule:
    if spec.kind == "words" and not spec.words:
        raise ValueError(f"rule {spec.id}: a words rule needs words")
    if spec.kind == "link_hosts" and not spec.hosts:
        raise ValueError(f"rule {spec.id}: a link_hosts rule needs hosts")
    pattern = (
        _words_pattern(spec.words)
        if spec.kind == "words"
        else _hosts_pattern(spec.hosts)
        if spec.kind == "link_hosts"
        else None
    )
    countries = frozenset(c.upper() for c in spec.countries)
    needles = _needles(spec) if pattern else ()
    return ContentRule(spec.id, spec.kind, spec.reason, spec.policy, countries, pattern, needles)


def _read(path: Path) -> RulesFile:
    try:
        return RulesFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ValueError(f"content rules file {path}: {exc}") from exc


@lru_cache(maxsize=8)
def load_rules(operator_file: str | None = None) -> ContentRules:
    """The built-in rules with the operator's file applied (its rules added, its `off` ids
    switched off). A file that cannot be read or does not follow the format is a ValueError
    naming it."""
    built_in = _read(BUILT_IN)
    extra = _read(Path(operator_file)) if operator_file else RulesFile()
    specs = [*built_in.rule, *extra.rule]
    ids = [spec.id for spec in specs]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"content rules: the id {twice[0]} is used twice")
    for listed, name in ((extra.off, "off"), (extra.on, "on")):
        unknown = sorted(set(listed) - set(ids))
        if unknown:
            raise ValueError(f"content rules: {name} names no rule called {unknown[0]}")
    both = sorted(set(extra.on) & set(extra.off))
    if both:
        raise ValueError(f"content rules: {both[0]} is both on and off")
    in_force = [
        spec for spec in specs if spec.id not in extra.off and (spec.enabled or spec.id in extra.on)
    ]
    return ContentRules(tuple(_compile(spec) for spec in in_force))


# The rules in force for this process: the built-in ones until the app or worker starts with
# its settings (context.build_context calls use_rules).
_active: list[ContentRules] = []


def use_rules(rules: ContentRules) -> None:
    _active[:] = [rules]


def active_rules() -> ContentRules:
    if not _active:
        _active.append(load_rules(None))
    return _active[0]
