from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.forms import ApiTokenForm, DeleteAccountForm, LoginForm, SignupForm
from accounts.models import ApiToken
from accounts.tokens import token_create, token_revoke
from core import outages
from core.http import page_or_partial, redirect_to
from core.ratelimits import Limit, over_limit


def _email_key(group: str, request: HttpRequest) -> str:
    return request.POST.get("username", "").strip().lower()


# Every log-in form counts against these.
LOG_IN_LIMITS = (
    Limit("login-ip", "ip", "RATELIMIT_LOGIN_IP", "log-in attempts from your network"),
    Limit("login-email", _email_key, "RATELIMIT_LOGIN_EMAIL", "log-in attempts for this account"),
)
# Set in the session of a sign-up; the next log-in starts a session without it.
NEW_ACCOUNT = "new_account"
SIGN_UPS = Limit("signup-ip", "ip", "RATELIMIT_SIGNUP_IP", "sign-ups from your network")


def log_in_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Count each log-in attempt (a POST) against LOG_IN_LIMITS; a 429 once one is over.

    Our form and Django admin's (videochat/urls.py) both wear it, so attempts
    on either count together. The count comes before the password is checked:
    over the limit, even the right one is refused. Counting and the session
    need Redis: while it is down the form is not offered and a POST is not
    processed (a 503, core/outages.py).
    """

    @outages.needs(outages.REDIS, action="Logging in")
    @wraps(view)
    def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method == "POST":
            for limit in LOG_IN_LIMITS:
                if refused := over_limit(request, limit):
                    return refused
        return view(request, *args, **kwargs)

    return limited


def _next_url(request: HttpRequest) -> str:
    """Where to go after logging in: a path on this site, else the home page.

    Only a path: `redirect()` takes other text for a view's name, and a `next`
    of "zzz" would be a NoReverseMatch (a 500) rather than a bad address.
    """
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return redirect("home").url


# Signing up needs Redis to count attempts and hold the session: while it is down
# the form is not offered and a POST is not processed, a 503 (outages.py).
@outages.needs(outages.REDIS, action="Signing up")
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        if refused := over_limit(request, SIGN_UPS):
            return refused
        if form.is_valid():
            user = form.save()
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            # The home page greets a new account as new, not with "Welcome back" (for this session).
            request.session[NEW_ACCOUNT] = True
            messages.success(request, "Welcome to VideoChat. Your account is ready.")
            return redirect_to(request, "/")
        return page_or_partial(request, "accounts/signup.html", "form", {"form": form}, status=400)
    return page_or_partial(request, "accounts/signup.html", "form", {"form": form})


@log_in_limited
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    if request.user.is_authenticated and request.method == "GET":
        return redirect(next_url)
    form = LoginForm(request, data=request.POST or None)
    context = {"form": form, "next": next_url}
    if request.method == "POST":
        if form.is_valid():
            login(request, form.get_user())
            return redirect_to(request, next_url)
        return page_or_partial(request, "accounts/login.html", "form", context, status=400)
    return page_or_partial(request, "accounts/login.html", "form", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.info(request, "You are logged out.")
    return redirect_to(request, "/")


def _profile_context(request: HttpRequest, **forms) -> dict:
    return {
        "password_form": PasswordChangeForm(request.user),
        "delete_form": DeleteAccountForm(request.user),
        "token_form": ApiTokenForm(),
        "tokens": ApiToken.objects.filter(user=request.user),
        **forms,
    }


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/profile.html", _profile_context(request))


@login_required
@require_POST
def token_new(request: HttpRequest) -> HttpResponse:
    """Make an API token and show it, this once: only its hash is kept.

    The answer is the page itself, not a redirect, so the token is never
    stored anywhere to be shown later (not even in the session's messages).
    """
    form = ApiTokenForm(request.POST)
    context = _profile_context(request, token_form=form)
    if not form.is_valid():
        return page_or_partial(request, "accounts/profile.html", "api-tokens", context, status=400)
    context["new_token"] = token_create(user=request.user, name=form.cleaned_data["name"])
    context["token_form"] = ApiTokenForm()
    response = page_or_partial(request, "accounts/profile.html", "api-tokens", context, status=201)
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token_revoke(token=token)
    if request.htmx:
        return render(request, "accounts/profile.html#api-tokens", _profile_context(request))
    messages.success(request, f"The token “{token.name}” is revoked: it no longer works.")
    return redirect("accounts:profile")


@login_required
@require_POST
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST)
    if form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        messages.success(request, "Your password has been changed.")
        return redirect_to(request, "/accounts/profile/")
    context = _profile_context(request, password_form=form)
    template = "accounts/profile.html#password-form" if request.htmx else "accounts/profile.html"
    return render(request, template, context, status=400)


@login_required
@require_POST
def account_delete(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.user, request.POST)
    if form.is_valid():
        user = request.user
        logout(request)
        user.delete()
        messages.info(request, "Your account and everything in it have been deleted.")
        return redirect_to(request, "/")
    context = _profile_context(request, delete_form=form)
    template = "accounts/profile.html#delete-form" if request.htmx else "accounts/profile.html"
    return render(request, template, context, status=400)
