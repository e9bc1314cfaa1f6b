"""Which table an item belongs to, and its key columns back from `pk`/`sk` (the templates read
in reverse): how verification recognises extra items and reverse replication routes a change."""

from __future__ import annotations

import re
import string
from typing import Any

from ops.mapping.model import TableMapping

_INTEGER_SQL = ("smallint", "integer", "bigint")


class ItemKeyParser:
    """Recognise this table's items by their key and recover the key columns' text."""

    def __init__(self, tm: TableMapping) -> None:
        self.tm = tm
        self.integer_columns = {c for c in tm.item_key_columns if tm.sql_type(c) in _INTEGER_SQL}
        self._pk = _template_regex(tm.pk_template, self.integer_columns)
        self._sk = _template_regex(tm.sk_template, self.integer_columns)

    def owns(self, pk: str, sk: str) -> bool:
        return bool(self._pk.match(pk) and self._sk.match(sk))

    def parse(self, pk: str, sk: str) -> dict[str, Any] | None:
        a, b = self._pk.match(pk), self._sk.match(sk)
        if not a or not b:
            return None
        values: dict[str, Any] = {}
        for match in (a, b):
            for name, text in match.groupdict().items():
                if name in values and values[name] != text:
                    return None
                values[name] = int(text) if name in self.integer_columns else text
        return values


def _template_regex(template: str, integer_columns: set[str]) -> re.Pattern[str]:
    pattern = "^"
    for literal, name, _, _ in string.Formatter().parse(template):
        pattern += re.escape(literal)
        if name:
            pattern += rf"(?P<{name}>-?\d+)" if name in integer_columns else rf"(?P<{name}>.+?)"
    return re.compile(pattern + "$")
