"""Line items become sales lines: each stored draft line gains its position and unit.

A line stored before (`description`, `quantity`, `unit_price`) gets position = its place in the
list (1-based) and unit C62 ("one"), which is what such a line meant; the other new fields (code,
discount, supply, VAT, milestone) take their defaults when read. The downgrade removes position and
unit again, and refuses while any line holds something the old shape cannot (a code, a discount,
goods, an agreed VAT, a milestone, or a unit other than C62), rather than drop it. (A position
other than its place in the list is dropped: the old shape numbered lines by place.)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_NEW_KEYS = ("code", "discount", "supply", "vat", "milestone", "unit")


def upgrade() -> None:
    op.execute(sa.text("""
        UPDATE opportunities SET draft_terms = jsonb_set(draft_terms, '{line_items}', (
            SELECT coalesce(jsonb_agg(
                jsonb_build_object('position', item.n, 'unit', 'C62') || item.line ORDER BY item.n), '[]'::jsonb)
            FROM jsonb_array_elements(draft_terms->'line_items') WITH ORDINALITY AS item(line, n)))
        WHERE jsonb_typeof(draft_terms->'line_items') = 'array'
    """))


def downgrade() -> None:
    bind = op.get_bind()
    held = bind.execute(sa.text("""
        SELECT o.id FROM opportunities o, jsonb_array_elements(o.draft_terms->'line_items') AS line
        WHERE (line->>'code') IS NOT NULL OR (line->'discount') NOT IN ('null'::jsonb)
           OR coalesce(line->>'unit', 'C62') <> 'C62'
           OR coalesce(line->>'supply', 'services') <> 'services'
           OR (line->'vat') NOT IN ('null'::jsonb) OR (line->>'milestone') IS NOT NULL
        LIMIT 1
    """)).first()
    if held is not None:
        raise RuntimeError(f"opportunity {held.id} has line items the schema before 0005 cannot hold "
                           f"({', '.join(_NEW_KEYS)}); remove those first")
    op.execute(sa.text("""
        UPDATE opportunities SET draft_terms = jsonb_set(draft_terms, '{line_items}', (
            SELECT coalesce(jsonb_agg(item.line - 'position' - 'unit' - 'code' - 'discount' - 'supply' - 'vat'
                                      - 'milestone' ORDER BY item.n), '[]'::jsonb)
            FROM jsonb_array_elements(draft_terms->'line_items') WITH ORDINALITY AS item(line, n)))
        WHERE jsonb_typeof(draft_terms->'line_items') = 'array'
    """))
