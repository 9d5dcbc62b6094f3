"""Keep the v2 filtered stream's rules equal to the configured ones.

The rules live on X's side, per app, and survive between runs; the
configuration (``TWEETLAKE_V2_RULES``) is the source of truth. On start the
ingest run lists what X has, deletes what the configuration no longer names,
and adds what is missing. New rules are checked with ``dry_run=true`` first,
so a typo in one rule is reported with X's reason before anything changes,
instead of leaving half the set applied. A rule is identified by its value and
tag: changing a tag replaces the rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chalicelib.config import ConfigError
from chalicelib.ingest.sources.base import SourceRefusedError
from chalicelib.ingest.sources.v2_rest import V2Rest

RULES_PATH = "/2/tweets/search/stream/rules"
RULES_SETTING = "TWEETLAKE_V2_RULES"


@dataclass(frozen=True)
class Rule:
    value: str
    tag: str | None = None

    def body(self) -> dict[str, str]:
        return {"value": self.value, **({"tag": self.tag} if self.tag else {})}


@dataclass(frozen=True)
class ActiveRule:
    id: str
    value: str
    tag: str | None


class RuleRejectedError(SourceRefusedError):
    """X refused one or more configured rules; the message quotes X's reasons."""


@dataclass
class RulesSync:
    """What a sync did (for the run summary) and the rules now active."""

    added: list[Rule] = field(default_factory=list)
    deleted: list[ActiveRule] = field(default_factory=list)
    active: list[ActiveRule] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {"added": len(self.added), "deleted": len(self.deleted), "active": len(self.active)}


def parse_rules(text: str) -> list[Rule]:
    """``[{"value": "...", "tag": "..."}, ...]`` (or a list of bare strings) → rules."""
    fix = 'a JSON list like [{"value": "lakes lang:en -is:retweet", "tag": "lakes"}]'
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise ConfigError(RULES_SETTING, f"is not JSON ({exc})", f"set it to {fix}") from None
    if not isinstance(items, list) or not items:
        raise ConfigError(RULES_SETTING, "is not a non-empty list", f"set it to {fix}")
    rules = []
    for item in items:
        if isinstance(item, str):
            item = {"value": item}
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(RULES_SETTING, f"has an entry without a value: {item!r}", fix)
        tag = item.get("tag")
        rules.append(Rule(value.strip(), str(tag) if tag else None))
    if len(set(rules)) != len(rules):
        raise ConfigError(RULES_SETTING, "lists a rule twice", "remove the duplicate")
    return rules


def _active(items: Any) -> list[ActiveRule]:
    return [
        ActiveRule(id=str(r["id"]), value=str(r["value"]), tag=r.get("tag") or None)
        for r in items or []
    ]


def _rejections(response: dict[str, Any]) -> list[str]:
    reasons = []
    for error in response.get("errors") or []:
        details = "; ".join(str(d) for d in error.get("details") or []) or error.get("title", "")
        reasons.append(f"{error.get('value', '?')!r}: {details}")
    summary = (response.get("meta") or {}).get("summary") or {}
    if not reasons and (summary.get("invalid") or summary.get("not_created")):
        reasons.append(f"X reported {summary}")
    return reasons


def _add(rest: V2Rest, rules: list[Rule], *, dry_run: bool) -> dict[str, Any]:
    path = RULES_PATH + ("?dry_run=true" if dry_run else "")
    response = rest.call(path, "POST", json_body={"add": [r.body() for r in rules]})
    reasons = _rejections(response)
    if reasons:
        stage = "validating" if dry_run else "adding"
        raise RuleRejectedError(
            f"X rejected {len(reasons)} rule(s) while {stage} {RULES_SETTING}: "
            + " | ".join(reasons)
        )
    return response


def sync_rules(rest: V2Rest, desired: list[Rule]) -> RulesSync:
    """Make X's rule set equal ``desired``: validate new ones, delete stale, add missing."""
    current = _active(rest.call(RULES_PATH).get("data"))
    have = {Rule(r.value, r.tag): r for r in current}
    missing = [r for r in desired if r not in have]
    stale = [r for key, r in have.items() if key not in set(desired)]
    result = RulesSync(added=missing, deleted=stale)
    if missing:
        # Values X already holds (under another tag) passed validation once; a dry run
        # would call them duplicates, so only genuinely new values are validated.
        known_values = {r.value for r in current}
        new = [r for r in missing if r.value not in known_values]
        if new:
            _add(rest, new, dry_run=True)
    if stale:
        rest.call(RULES_PATH, "POST", json_body={"delete": {"ids": [r.id for r in stale]}})
    created: list[ActiveRule] = []
    if missing:
        created = _active(_add(rest, missing, dry_run=False).get("data"))
    stale_ids = {r.id for r in stale}
    result.active = [r for r in current if r.id not in stale_ids] + created
    return result
