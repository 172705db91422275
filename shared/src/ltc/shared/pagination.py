"""Keyset pagination for the read side (`adapters/queries.py`): no web framework in here, so the
queries a handler also uses do not pull one in."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from ltc.shared.rules import InvalidInput


def _encode_cursor(created_at: datetime, ident: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(ident)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_at, ident = json.loads(base64.urlsafe_b64decode(padded))
        if not (isinstance(created_at, str) and isinstance(ident, str)):  # UUID(1) is not a ValueError
            raise ValueError("a cursor holds two strings")
        return datetime.fromisoformat(created_at), UUID(ident)
    except (ValueError, TypeError, RecursionError):
        raise InvalidInput("cursor", "not a cursor this API issued") from None


async def paginate(session: AsyncSession, stmt: Select[Any], *, created_at: ColumnElement[datetime],
                   ident: ColumnElement[UUID], limit: int, cursor: str | None) -> tuple[list[Any], str | None]:
    """Keyset pagination on (created_at, id): stable under inserts, no OFFSET scans."""
    if cursor:
        after_time, after_id = _decode_cursor(cursor)
        stmt = stmt.where(or_(created_at > after_time, and_(created_at == after_time, ident > after_id)))
    rows = list((await session.execute(stmt.order_by(created_at, ident).limit(limit + 1))).scalars())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], _encode_cursor(last.created_at, last.id)
