"""Row level security on every table that exists at this point (PostgreSQL only).

Tables created by later migrations get it from the post_migrate hook in
ops/apps.py, after every `migrate`. Unapplying this migration leaves RLS on:
rolling back must never open a table to Supabase's REST API.
"""

from django.db import migrations


def enable_rls(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    from ops import rls

    models = apps.get_models(include_auto_created=True)
    tables = {model._meta.db_table for model in models if model._meta.managed and not model._meta.proxy}
    tables.add(rls.MIGRATIONS_TABLE)
    existing = set(connection.introspection.table_names(include_views=False))
    rls.enable(connection, sorted(tables & existing))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("analysis", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("chat", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(enable_rls, migrations.RunPython.noop, elidable=False)]
