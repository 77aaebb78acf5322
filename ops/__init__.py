"""Operations: what running VideoChat on Supabase needs beyond the apps themselves.

Row level security on every table (rls.py, a migration and a post_migrate
hook), `manage.py migrate` that never goes through the transaction pooler, and
`manage.py supabase_check`. See docs/supabase.md.
"""
