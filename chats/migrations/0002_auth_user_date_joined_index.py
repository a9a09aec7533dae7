"""Index auth_user.date_joined: the statistics fill reads new users by time slice.

auth_user belongs to django.contrib.auth, so the index is plain SQL (valid on SQLite and
PostgreSQL) rather than a model Meta change; IF [NOT] EXISTS keeps it safe to re-run.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("chats", "0001_initial"),
    ]

    operations = [
        migrations.RunSQL(
            sql="CREATE INDEX IF NOT EXISTS auth_user_date_joined_idx ON auth_user (date_joined)",
            reverse_sql="DROP INDEX IF EXISTS auth_user_date_joined_idx",
        ),
    ]
