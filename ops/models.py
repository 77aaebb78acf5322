"""No models. The module exists so Django sends post_migrate for this app (apps.py)."""
