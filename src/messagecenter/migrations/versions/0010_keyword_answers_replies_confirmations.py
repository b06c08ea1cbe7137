"""keyword answers from the business's templates, replies linked, confirmations, staff cells

- A client's text answering an automated message within a day points at it
  (messages.reply_to_message_id); a YES to one that asked for it confirms its notification
  (notifications.confirmed_at, confirmation_message_id).
- A staff member may give a cell phone, where "Send a test" of an automated message goes.
- The help text saved in Settings becomes the business's "Help" automated message (the app's
  answer to HELP where the app answers keywords), worded as the app sent it; a business that
  had already worded that template keeps its wording. The column goes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 04:30:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from messagecenter.models.base import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# What the app appended to a business's help text when it answered HELP itself.
_HELP_SUFFIX = " Reply STOP to unsubscribe. Msg&Data Rates May Apply."


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reply_to_message_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_messages_reply_to_message_id_messages"),
            "messages",
            ["reply_to_message_id"],
            ["id"],
        )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("confirmation_message_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_notifications_confirmation_message_id_messages"),
            "messages",
            ["confirmation_message_id"],
            ["id"],
        )
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cell_phone", sa.String(length=20), nullable=True))
    _help_texts_become_templates()
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.drop_column("help_text")


def downgrade() -> None:
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("help_text", sa.Text(), nullable=True))
    # The help wording stays in its template (the app of 0009 ignores it; nothing is lost).
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_column("cell_phone")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_notifications_confirmation_message_id_messages"), type_="foreignkey"
        )
        batch_op.drop_column("confirmation_message_id")
        batch_op.drop_column("confirmed_at")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_messages_reply_to_message_id_messages"), type_="foreignkey"
        )
        batch_op.drop_column("reply_to_message_id")


def _help_texts_become_templates() -> None:
    """Each saved help text, as the app sent it, is the business's Help template (a '[' would
    read as a variable: such a text is kept with its brackets as parentheses)."""
    connection = op.get_bind()
    saved = connection.execute(
        sa.text(
            "SELECT b.id, b.help_text FROM businesses b WHERE b.help_text IS NOT NULL "
            "AND b.help_text <> '' AND NOT EXISTS (SELECT 1 FROM notification_templates t "
            "WHERE t.business_id = b.id AND t.type = 'help')"
        )
    ).all()
    now = datetime.now(UTC)
    for business_id, help_text in saved:
        body = help_text.strip().replace("[", "(").replace("]", ")") + _HELP_SUFFIX
        connection.execute(
            sa.text(
                "INSERT INTO notification_templates (business_id, type, enabled, body, "
                "updated_at) VALUES (:business_id, 'help', :enabled, :body, :at)"
            ).bindparams(sa.bindparam("at", type_=UTCDateTime())),
            {"business_id": business_id, "enabled": True, "body": body, "at": now},
        )
