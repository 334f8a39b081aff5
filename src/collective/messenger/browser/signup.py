"""``@@messenger-signup``: the signup page for links and posters, and where every signup form posts.

One view, several steps, chosen by the hidden field ``step`` of the posted form:

- GET: the form (``?topics=a,b`` preselects topics);
- ``signup``: ``flow.start_signup``, then the next step: the messenger link with its QR
  code (Telegram, WhatsApp) or the code form (Signal, Threema); errors re-show the form;
- ``confirm``: ``flow.confirm_code`` with the token and code; ``resend``: ``flow.resend_code``.

Results are shown in the answer to the POST (no redirect), so tokens never appear in a
URL; answers to POSTs are not stored by browsers or proxies. Every POST must carry the
form's own token and must not be one the browser declares cross-site (``signup_token``):
another site cannot make its visitors' browsers start signups and send codes.
"""

from plone.protect.interfaces import IDisableCSRFProtection
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from zope.interface import alsoProvides

from collective.messenger import _
from collective.messenger.browser import signup_token
from collective.messenger.browser.signup_form import signup_request_key
from collective.messenger.browser.signup_form import SignupFormFragment
from collective.messenger.browser.signup_form import topics_from_query
from collective.messenger.settings.schema import CHANNEL_TITLES
from collective.messenger.signup import flow
from collective.messenger.signup import phones
from collective.messenger.signup import ratelimit

FORM_FIELDS = ("topics", "channel", "phone", "consent", "website")


class SignupView(BrowserView):
    template = ViewPageTemplateFile("templates/signup.pt")

    stage = "form"  # form, link, code, done, expired
    form_html = ""
    next = None  # flow.NextStep on the link and code stages
    message = None  # an error or notice for the citizen on the code stage
    message_kind = "danger"
    masked_address = ""
    channel = None

    def __call__(self):
        request = self.request
        if request.method == "POST":
            # The signup form is for anonymous citizens, so plone.protect's per-user token
            # cannot protect it (the page may come from a cache, rendered for someone else):
            # the form carries its own token instead (signup_token), checked here.
            alsoProvides(request, IDisableCSRFProtection)
            request.response.setHeader("Cache-Control", "no-store")
            request.response.setHeader("Referrer-Policy", "no-referrer")
            step = request.form.get("step")
            refusal = signup_token.refusal(request)
            if refusal is not None:
                self.refuse(refusal)
            elif step == "confirm":
                self.confirm()
            elif step == "resend":
                self.resend()
            else:
                self.signup()
        else:
            self.show_form(preselected=topics_from_query(request.form.get("topics")))
        return self.template()

    # -- steps ------------------------------------------------------------------------------

    def show_form(self, preselected=(), values=None, errors=None):
        self.stage = "form"
        path = (values or {}).get("path", "page")
        self.form_html = SignupFormFragment(
            self.context,
            self.request,
            path=path if isinstance(path, str) else "page",
            preselected=preselected,
            values=values,
            errors=errors,
        )()

    def signup(self):
        form = self.request.form
        data = {name: form.get(name) for name in FORM_FIELDS}
        if isinstance(data["topics"], str):
            data["topics"] = [data["topics"]]
        path = form.get("path") if form.get("path") in ("page", "portlet") else "page"
        request_key = signup_request_key(form, self.request)
        try:
            step = flow.start_signup(data, path, self.request, request_key=request_key)
        except flow.SignupInvalid as invalid:
            self.request.response.setStatus(400)
            self.show_form(values=form, errors=invalid.errors)
            return
        except ratelimit.RateLimited as limited:
            self._rate_limited(limited)
            self.show_form(values=form, errors={"form": limited.message})
            return
        self._show_next(step)

    def confirm(self):
        token = self.request.form.get("token")
        result = flow.confirm_code(token, self.request.form.get("code"))
        if result.ok:
            self.stage = "done"
            self.channel = result.subscriber.channel
            self.message = result.message
            return
        if result.subscriber is None:
            self._expired()
            return
        # A wrong code is an answer, not an error: the transaction commits and the attempt counts.
        self.request.response.setStatus(400)
        self._show_code(result.subscriber, token, result.message, "danger")

    def resend(self):
        token = self.request.form.get("token")
        subscriber = flow.pending(token)
        try:
            step = flow.resend_code(token, self.request)
        except flow.SignupInvalid:
            self._expired()
            return
        except ratelimit.RateLimited as limited:
            self._rate_limited(limited)
            self._show_code(subscriber, token, limited.message, "danger")
            return
        self._show_next(
            step,
            _("signup_code_resent", default="We have sent you a new code."),
            "success",
        )

    def refuse(self, message):
        """A POST that is not from our own form: nothing is done, a fresh form is shown."""
        cross_site = message is signup_token.CROSS_SITE
        self.request.response.setStatus(403 if cross_site else 400)
        # Values another site put in the form are not shown back; our own out-of-date form's are.
        values = None if cross_site else dict(self.request.form, request_key="")
        self.show_form(values=values, errors={"form": message})

    # -- helpers ----------------------------------------------------------------------------

    def _show_next(self, step, message=None, kind="info"):
        self.next = step
        self.channel = step.channel
        if step.kind == "link":
            self.stage = "link"
        else:
            self.stage = "code"
            self.masked_address = phones.mask_address(step.channel, step.address or "")
            self.message, self.message_kind = message, kind

    def _show_code(self, subscriber, token, message, kind):
        self.stage = "code"
        self.channel = subscriber.channel
        self.next = flow.NextStep(
            channel=subscriber.channel,
            kind="code",
            link=None,
            qr_svg=None,
            token=token,
            expires=subscriber.confirm_expires,
            subscriber_id=subscriber.id,
            address=subscriber.address,
        )
        self.masked_address = phones.mask_address(
            subscriber.channel, subscriber.address or ""
        )
        self.message, self.message_kind = message, kind

    def _expired(self):
        self.stage = "expired"
        self.request.response.setStatus(400)
        self.message = flow.EXPIRED_SIGNUP

    def _rate_limited(self, limited):
        self.request.response.setStatus(429)
        self.request.response.setHeader("Retry-After", str(max(1, limited.retry_after)))

    # -- for the template -------------------------------------------------------------------

    def channel_title(self):
        return CHANNEL_TITLES.get(self.channel, self.channel or "")

    def form_token(self):
        return signup_token.form_token()

    def signup_url(self):
        return f"{self.context.absolute_url()}/@@messenger-signup"
