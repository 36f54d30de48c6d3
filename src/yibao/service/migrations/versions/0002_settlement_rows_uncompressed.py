"""settlement rows and stored answers kept uncompressed (PostgreSQL)

A settlement row carries its trace and ``setldetail`` as JSON, and every gateway answer is
stored whole under its ``msgid``: a few kilobytes each, over the 2 KB past which PostgreSQL
compresses long values (pglz) on every insert — a measured twentieth of the database's CPU
per settlement. With ``toast_tuple_target`` at its maximum a row of up to a page is stored
as it is; a longer one is still compressed or moved out of line. Nothing changes on SQLite.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 15:00:00
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

#: the tables whose rows carry long JSON on the settlement path
TABLES = ("settlements", "messages", "audit_log")
#: the largest value PostgreSQL accepts: a row of up to a page is stored uncompressed
TARGET = 8160


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} SET (toast_tuple_target = {TARGET})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"ALTER TABLE {table} RESET (toast_tuple_target)")
