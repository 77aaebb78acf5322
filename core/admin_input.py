"""The admin's answers to malformed URLs: Django's own "not found" or "?e=1", never a 500.

Every ModelAdmin of the project mixes in AdminInputMixin. Each override
covers one input that Django 5.2's admin lets through to a crash (found by
videochat/tests/test_malformed_input.py):

- an empty `?_to_field=` passes the admin's check of the field (it is falsy)
  and then names no field at all (FieldDoesNotExist);
- a list filter's value with a NUL character goes to PostgreSQL, which refuses
  it when the list is read (DataError);
- a date hierarchy's `?created_at__year=99999999999999999999` overflows the
  date (Django turns a ValueError into "?e=1", not an OverflowError);
- a many-to-many choice past SQLite's integers (OverflowError from the driver).
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList


class InputCheckedChangeList(ChangeList):
    def get_filters(self, request):
        params = self.get_filters_params()
        if any("\x00" in value for values in params.values() for value in values):
            raise IncorrectLookupParameters("A filter's value has a NUL character.")
        try:
            return super().get_filters(request)
        except OverflowError as exc:
            raise IncorrectLookupParameters(exc) from exc


class InputCheckedMultipleChoiceField(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        try:
            return super()._check_values(value)
        except OverflowError as exc:
            pk = next((pk for pk in value if _past_64_bits(pk)), "")
            raise forms.ValidationError(
                self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
            ) from exc


def _past_64_bits(value) -> bool:
    try:
        return abs(int(value)) >= 2**63
    except (TypeError, ValueError):
        return False


class AdminInputMixin:
    """For a ModelAdmin: malformed ids, filters and choices are refused the admin's own way."""

    def get_object(self, request, object_id, from_field=None):
        # No field named: the primary key, as when there is no `_to_field` at all.
        return super().get_object(request, object_id, from_field or None)

    def get_changelist(self, request, **kwargs):
        return InputCheckedChangeList

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        kwargs.setdefault("form_class", InputCheckedMultipleChoiceField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)
